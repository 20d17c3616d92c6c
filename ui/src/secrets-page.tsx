import { Code } from "@connectrpc/connect";
import { useCallback, useEffect, useRef, useState } from "react";
import { Mode, type Secret } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { AdminClient } from "./admin-client.ts";
import { ConfirmDialog } from "./confirm-dialog.tsx";
import { DeployResult } from "./deploy-result.tsx";
import { describeError } from "./errors.ts";
import { ModeSwitch, modeLabel } from "./mode-switch.tsx";
import { SecretForm } from "./secret-form.tsx";
import { SecretsTable } from "./secrets-table.tsx";

const pageSize = 20;

type View =
  | { kind: "list" }
  | { kind: "create" }
  | { kind: "edit"; secret: Secret }
  | { kind: "deployed"; secrets: Secret[] };

type Pending = { kind: "delete"; name: string } | { kind: "deploy"; names: string[] };

interface SecretsPageProps {
  client: AdminClient;
  onSignOut(): void;
  /** A call answered UNAUTHENTICATED: the token stopped working. */
  onTokenRejected(): void;
}

/** The Secrets screen: mode switch, list with paging, and the create, edit, delete and deploy flows. */
export function SecretsPage({ client, onSignOut, onTokenRejected }: SecretsPageProps) {
  const [mode, setMode] = useState<Mode>(Mode.TEST);
  const [view, setView] = useState<View>({ kind: "list" });
  // page tokens of the pages before the current one, and the current one's
  const [pageTokens, setPageTokens] = useState<string[]>([]);
  const [pageToken, setPageToken] = useState("");
  const [secrets, setSecrets] = useState<Secret[]>();
  const [nextPageToken, setNextPageToken] = useState("");
  const [loadError, setLoadError] = useState<string>();
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [pending, setPending] = useState<Pending>();
  const [pendingError, setPendingError] = useState<string>();
  const [notice, setNotice] = useState<string>();
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

  const load = useCallback(async () => {
    setLoadError(undefined);
    try {
      const page = await client.listSecrets({ mode, pageSize, pageToken });
      setSecrets(page.secrets);
      setNextPageToken(page.nextPageToken);
    } catch (error) {
      setSecrets(undefined);
      setLoadError(fail(error));
    }
  }, [client, mode, pageToken, fail]);

  useEffect(() => {
    if (view.kind === "list") {
      void load();
    }
  }, [load, view.kind]);

  // a new screen moves focus to its heading, so that screen readers and keyboards start there
  useEffect(() => heading.current?.focus(), [view.kind, mode]);

  const showList = (message?: string) => {
    setNotice(message);
    setView({ kind: "list" });
  };

  const switchMode = (next: Mode) => {
    setMode(next);
    // never show one mode's secrets under the other's heading, not even while loading
    setSecrets(undefined);
    setPageTokens([]);
    setPageToken("");
    setSelected(new Set());
    setNotice(undefined);
    setView({ kind: "list" });
  };

  const confirmPending = async () => {
    if (pending === undefined) {
      return;
    }
    try {
      if (pending.kind === "delete") {
        await client.deleteSecret({ mode: Mode.TEST, name: pending.name });
        setPending(undefined);
        setSelected((names) => new Set([...names].filter((name) => name !== pending.name)));
        // the list without it first, then the message, so that the two never disagree
        await load();
        showList(`Deleted ${pending.name} from Test.`);
      } else {
        const deployed = await client.deploySecrets({ names: pending.names });
        setPending(undefined);
        setSelected(new Set());
        setView({ kind: "deployed", secrets: deployed.secrets });
      }
    } catch (error) {
      setPendingError(fail(error));
    }
  };

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
        {view.kind === "list" && (
          <>
            <h1 ref={heading} tabIndex={-1}>
              Secrets in {modeLabel(mode)}
            </h1>
            <p className="notice" role="status">
              {notice}
            </p>
            <div className="toolbar">
              <button type="button" className="primary" onClick={() => setView({ kind: "create" })}>
                Create secret
              </button>
              {mode === Mode.TEST && (
                <button
                  type="button"
                  disabled={selected.size === 0}
                  onClick={() => {
                    setPendingError(undefined);
                    setPending({ kind: "deploy", names: [...selected].sort() });
                  }}
                >
                  Deploy selected to Live{selected.size > 0 ? ` (${selected.size})` : ""}
                </button>
              )}
            </div>
            {loadError !== undefined && (
              <div className="error-panel" role="alert">
                <p>Could not load the secrets: {loadError}</p>
                <button type="button" onClick={() => void load()}>
                  Try again
                </button>
              </div>
            )}
            {secrets === undefined && loadError === undefined && <p className="empty">Loading secrets…</p>}
            {secrets !== undefined && (
              <SecretsTable
                mode={mode}
                secrets={secrets}
                selected={selected}
                onSelect={(name, on) =>
                  setSelected((names) => {
                    const next = new Set(names);
                    if (on) {
                      next.add(name);
                    } else {
                      next.delete(name);
                    }
                    return next;
                  })
                }
                onEdit={(secret) => setView({ kind: "edit", secret })}
                onDelete={(name) => {
                  setPendingError(undefined);
                  setPending({ kind: "delete", name });
                }}
              />
            )}
            <nav className="pager" aria-label="Pages">
              <button
                type="button"
                disabled={pageTokens.length === 0}
                onClick={() => {
                  setPageToken(pageTokens.at(-1) ?? "");
                  setPageTokens(pageTokens.slice(0, -1));
                }}
              >
                Previous page
              </button>
              <span>Page {pageTokens.length + 1}</span>
              <button
                type="button"
                disabled={nextPageToken === ""}
                onClick={() => {
                  setPageTokens([...pageTokens, pageToken]);
                  setPageToken(nextPageToken);
                }}
              >
                Next page
              </button>
            </nav>
          </>
        )}
        {(view.kind === "create" || view.kind === "edit") && (
          <SecretForm
            headingRef={heading}
            client={client}
            mode={mode}
            {...(view.kind === "edit" ? { secret: view.secret } : {})}
            onDone={(message) => showList(message)}
            onCancel={() => showList()}
            onTokenRejected={onTokenRejected}
          />
        )}
        {view.kind === "deployed" && (
          <DeployResult
            headingRef={heading}
            secrets={view.secrets}
            onShowLive={() => switchMode(Mode.LIVE)}
            onBack={() => showList()}
          />
        )}
      </main>
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
        <ConfirmDialog
          title={`Deploy ${pending.names.length} ${pending.names.length === 1 ? "secret" : "secrets"} to Live?`}
          confirmLabel="Deploy to Live"
          error={pendingError}
          onConfirm={confirmPending}
          onCancel={() => setPending(undefined)}
        >
          <p>These Test secrets are copied to Live. A Live secret of the same name is replaced, and Live steps use the new values at once:</p>
          <ul className="name-list">
            {pending.names.map((name) => (
              <li key={name}>{name}</li>
            ))}
          </ul>
        </ConfirmDialog>
      )}
    </div>
  );
}
