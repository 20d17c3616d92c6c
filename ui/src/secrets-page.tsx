import { Code } from "@connectrpc/connect";
import { useCallback, useEffect, useRef, useState } from "react";
import { Mode, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { DeploySecretsResponse } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import type { AdminClient } from "./admin-client.ts";
import { ConfirmDialog } from "./confirm-dialog.tsx";
import { DeployConfirm } from "./deploy-confirm.tsx";
import { DeployResult } from "./deploy-result.tsx";
import { DeploySelection } from "./deploy-selection.tsx";
import { EditScreen } from "./edit-screen.tsx";
import { describeError } from "./errors.ts";
import type { FormDraft } from "./form-draft.ts";
import { ListControls, type ListFilter } from "./list-controls.tsx";
import { ModeSwitch, modeLabel } from "./mode-switch.tsx";
import { Pager } from "./pager.tsx";
import { useRoute, type Route } from "./route.ts";
import { SecretForm } from "./secret-form.tsx";
import { SecretsTable } from "./secrets-table.tsx";
import { pageSize, useSecretList } from "./use-secret-list.ts";

type Pending = { kind: "delete"; name: string } | { kind: "deploy"; names: string[] };

/** A message over the list: what was just done, or a warning (never styled as a success). */
interface Notice {
  text: string;
  tone: "success" | "warning";
}

interface SecretsPageProps {
  client: AdminClient;
  /** Typed work kept while the operator signed in again. */
  draft: FormDraft | undefined;
  onSignOut(): void;
  /** A call answered UNAUTHENTICATED: the token stopped working; the form's typed work, if any, to keep. */
  onTokenRejected(draft?: FormDraft): void;
}

/** The Secrets screen: mode switch, list with search, filter, order and paging, and the create, edit, delete and deploy flows. */
export function SecretsPage({ client, draft: keptDraft, onSignOut, onTokenRejected }: SecretsPageProps) {
  const [route, navigate] = useRoute();
  // the kept work fills the form it came from once; leaving that form drops it
  const [draft, setDraft] = useState(keptDraft);
  const mode = route.mode;
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [pending, setPending] = useState<Pending>();
  const [pendingError, setPendingError] = useState<string>();
  const [notice, setNotice] = useState<Notice | undefined>(() =>
    draft === undefined
      ? undefined
      : {
          tone: "warning",
          text: draft.droppedSecrets
            ? "What you typed was kept while you signed in, except the secret values: type them again."
            : "What you typed was kept while you signed in.",
        },
  );
  const [deployed, setDeployed] = useState<DeploySecretsResponse>();
  // the form holds typed work; a navigation away asks first
  const [dirty, setDirty] = useState(false);
  const [leavingTo, setLeavingTo] = useState<Route>();
  const heading = useRef<HTMLHeadingElement>(null);

  const fail = useCallback(
    (error: unknown): string => {
      const problem = describeError(error);
      if (problem.code === Code.Unauthenticated) {
        onTokenRejected();
      }
      return problem.message;
    },
    [onTokenRejected],
  );

  // a deploy result lives in memory: its address reloaded shows the list
  const screen = route.screen === "deployed" && deployed === undefined ? "list" : route.screen;
  const list = useSecretList(
    client,
    screen === "list" ? { mode, search: route.search, type: route.type, order: route.order } : undefined,
    route.page,
    fail,
  );
  // a shared link past the last page shows the last page, and says so in the address
  useEffect(() => {
    if (list.state.kind === "loaded" && list.state.page !== route.page && screen === "list") {
      navigate({ ...route, page: list.state.page }, "replace");
    }
  }, [list.state, route, screen, navigate]);

  // a new screen moves focus to its heading, so that screen readers and keyboards start there
  useEffect(() => heading.current?.focus(), [screen, mode]);

  const go = (next: Route, message?: Notice) => {
    setNotice(message);
    setDraft(undefined);
    navigate(next);
  };
  const toList = (message?: Notice) => {
    setNotice(message);
    setDraft(undefined);
    setDirty(false);
    // in place of the form, so that Back does not reopen it
    navigate({ ...route, screen: "list" }, "replace");
  };
  const afterChange = () => list.forget();

  const switchMode = (next: Mode) => {
    const target: Route = { ...route, mode: next, screen: "list", page: 1 };
    if (dirty && (screen === "create" || screen === "edit")) {
      setLeavingTo(target);
      return;
    }
    leave(target);
  };
  const leave = (target: Route) => {
    setLeavingTo(undefined);
    setDirty(false);
    if (target.mode !== mode) {
      setSelected(new Set());
    }
    go(target);
  };

  const onFilter = useCallback(
    (filter: ListFilter, typing: boolean) => {
      setNotice(undefined);
      navigate({ ...route, ...filter, page: 1 }, typing ? "replace" : "push");
    },
    [navigate, route],
  );

  const select = (names: readonly string[], on: boolean) =>
    setSelected((current) => {
      const next = new Set(current);
      for (const name of names) {
        if (on) {
          next.add(name);
        } else {
          next.delete(name);
        }
      }
      return next;
    });

  const confirmPending = async () => {
    if (pending === undefined) {
      return;
    }
    try {
      if (pending.kind === "delete") {
        await client.deleteSecret({ mode: Mode.TEST, name: pending.name });
        setPending(undefined);
        select([pending.name], false);
        afterChange();
        list.reload();
        setNotice({ tone: "success", text: `Deleted ${pending.name} from Test.` });
      } else {
        const answer = await client.deploySecrets({ names: pending.names });
        setPending(undefined);
        setSelected(new Set());
        afterChange();
        setDeployed(answer);
        go({ ...route, screen: "deployed" });
      }
    } catch (error) {
      setPendingError(fail(error));
    }
  };

  const state = list.state;
  const filtered = route.search !== "" || route.type !== SecretType.UNSPECIFIED;
  const pager = (label: string) => (
    <Pager
      label={label}
      page={state.kind === "loaded" ? state.page : route.page}
      totalSize={state.kind === "loaded" ? state.totalSize : undefined}
      hasNext={state.kind === "loaded" && state.hasNext}
      onPage={(page) => go({ ...route, page })}
    />
  );
  const formDraft = draft !== undefined && draft.mode === mode && draft.editing === (screen === "edit" ? route.name : undefined) ? draft : undefined;

  return (
    // Live gets its own colour in the top bar: changes there reach running executions
    <div className={mode === Mode.LIVE ? "page live" : "page"}>
      <header className="top-bar">
        <span className="brand">credbroker</span>
        <ModeSwitch mode={mode} onChange={switchMode} />
        <button type="button" className="link-button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main>
        {screen === "list" && (
          <>
            <h1 ref={heading} tabIndex={-1}>
              Secrets in {modeLabel(mode)}
            </h1>
            <p className={notice?.tone === "warning" ? "notice warning" : "notice"} role="status">
              {notice?.text}
            </p>
            <div className="toolbar">
              <button type="button" className="primary" onClick={() => go({ ...route, screen: "create" })}>
                Create secret
              </button>
            </div>
            {mode === Mode.LIVE && (
              <p className="hint live-rule">
                Live secrets are not deleted here: delete a secret in Test, and a deploy from Test replaces the Live secret of the same name.
              </p>
            )}
            <ListControls search={route.search} type={route.type} order={route.order} onChange={onFilter} />
            {mode === Mode.TEST && (
              <DeploySelection
                names={[...selected].sort()}
                onRemove={(name) => select([name], false)}
                onClear={() => setSelected(new Set())}
                onDeploy={() => {
                  setPendingError(undefined);
                  setPending({ kind: "deploy", names: [...selected].sort() });
                }}
              />
            )}
            <p className="count" aria-live="polite">
              {state.kind === "loaded" &&
                `${state.totalSize} ${state.totalSize === 1 ? "secret" : "secrets"}${filtered ? " match" : ""}` +
                  (state.secrets.length > 0 ? `; showing ${(state.page - 1) * pageSize + 1}-${(state.page - 1) * pageSize + state.secrets.length}` : "")}
            </p>
            {pager("Pages, above the list")}
            {state.kind === "failed" && (
              <div className="error-panel" role="alert">
                <p>Could not load the secrets: {state.message}</p>
                <button type="button" onClick={list.reload}>
                  Try again
                </button>
              </div>
            )}
            {state.kind === "loading" && <p className="empty">Loading secrets…</p>}
            {state.kind === "loaded" && state.secrets.length === 0 && (
              <p className="empty">{filtered ? "No secrets match this search." : "No secrets in this mode yet."}</p>
            )}
            {state.kind === "loaded" && state.secrets.length > 0 && (
              <SecretsTable
                mode={mode}
                secrets={state.secrets}
                selected={selected}
                onSelect={select}
                onEdit={(secret) => go({ ...route, screen: "edit", name: secret.name })}
                onDelete={(name) => {
                  setPendingError(undefined);
                  setPending({ kind: "delete", name });
                }}
              />
            )}
            {state.kind === "loaded" && state.secrets.length > 5 && pager("Pages, below the list")}
          </>
        )}
        {(screen === "create" || screen === "edit") && notice !== undefined && (
          // the kept work's note: on the form it is about
          <p className={notice.tone === "warning" ? "notice warning" : "notice"} role="status">
            {notice.text}
          </p>
        )}
        {screen === "create" && (
          <SecretForm
            headingRef={heading}
            client={client}
            mode={mode}
            {...(formDraft === undefined ? {} : { draft: formDraft })}
            onDone={(message) => {
              afterChange();
              toList({ tone: "success", text: message });
            }}
            onCancel={() => toList()}
            onDirtyChange={setDirty}
            onTokenRejected={onTokenRejected}
          />
        )}
        {screen === "edit" && (
          <EditScreen
            key={`${mode}:${route.name}`}
            headingRef={heading}
            client={client}
            mode={mode}
            name={route.name}
            draft={formDraft}
            onDone={(message) => {
              afterChange();
              toList({ tone: "success", text: message });
            }}
            onCancel={() => toList()}
            onDirtyChange={setDirty}
            onTokenRejected={onTokenRejected}
          />
        )}
        {screen === "deployed" && deployed !== undefined && (
          <DeployResult
            headingRef={heading}
            result={deployed}
            onShowLive={() => go({ ...route, mode: Mode.LIVE, screen: "list", page: 1 })}
            onBack={() => go({ ...route, screen: "list" })}
          />
        )}
      </main>
      {leavingTo !== undefined && (
        <ConfirmDialog
          title="Discard what you typed?"
          confirmLabel={`Discard and show ${modeLabel(leavingTo.mode)}`}
          danger
          error={undefined}
          onConfirm={async () => leave(leavingTo)}
          onCancel={() => setLeavingTo(undefined)}
        >
          <p>The form has changes that are not saved. Switching to {modeLabel(leavingTo.mode)} closes it, and what you typed is lost.</p>
        </ConfirmDialog>
      )}
      {pending?.kind === "delete" && (
        <ConfirmDialog
          title={`Delete ${pending.name}?`}
          confirmLabel="Delete permanently"
          danger
          error={pendingError}
          onConfirm={confirmPending}
          onCancel={() => setPending(undefined)}
        >
          <p>
            This permanently deletes <strong>{pending.name}</strong> from Test. Its values cannot be recovered, and
            every step that uses it in Test will fail until a secret of this name exists again. The Live secret of
            the same name, if any, stays.
          </p>
        </ConfirmDialog>
      )}
      {pending?.kind === "deploy" && (
        <DeployConfirm
          client={client}
          names={pending.names}
          error={pendingError}
          describe={fail}
          onConfirm={confirmPending}
          onCancel={() => setPending(undefined)}
        />
      )}
    </div>
  );
}
