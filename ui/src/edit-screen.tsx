import { Code } from "@connectrpc/connect";
import { useEffect, useState, type RefObject } from "react";
import type { Mode, Secret } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { AdminClient } from "./admin-client.ts";
import { describeError } from "./errors.ts";
import type { FormDraft } from "./form-draft.ts";
import { modeLabel } from "./mode-switch.tsx";
import { SecretForm } from "./secret-form.tsx";

interface EditScreenProps {
  headingRef: RefObject<HTMLHeadingElement | null>;
  client: AdminClient;
  mode: Mode;
  name: string;
  draft: FormDraft | undefined;
  onDone(message: string): void;
  onCancel(): void;
  onDirtyChange(dirty: boolean): void;
  onTokenRejected(draft?: FormDraft): void;
}

type Loaded = { kind: "loading" } | { kind: "failed"; message: string } | { kind: "ready"; secret: Secret };

/**
 * The edit screen of an address (`#screen=edit&name=...`): reads the secret
 * with GetSecret, whose readable fields pre-fill the form, so that a reload
 * or a shared link opens the same edit.
 */
export function EditScreen({ headingRef, client, mode, name, draft, onDone, onCancel, onDirtyChange, onTokenRejected }: EditScreenProps) {
  const [loaded, setLoaded] = useState<Loaded>({ kind: "loading" });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let current = true;
    setLoaded({ kind: "loading" });
    client.getSecret({ mode, name }).then(
      (answer) => current && setLoaded(answer.secret === undefined ? { kind: "failed", message: "The broker sent no secret." } : { kind: "ready", secret: answer.secret }),
      (error: unknown) => {
        const problem = describeError(error);
        if (problem.code === Code.Unauthenticated) {
          onTokenRejected();
        } else if (current) {
          setLoaded({ kind: "failed", message: problem.code === Code.NotFound ? `There is no secret ${name} in ${modeLabel(mode)}.` : problem.message });
        }
      },
    );
    return () => {
      current = false;
    };
  }, [client, mode, name, attempt, onTokenRejected]);

  if (loaded.kind === "ready") {
    return (
      <SecretForm
        key={`${loaded.secret.name}@${loaded.secret.version}`}
        headingRef={headingRef}
        client={client}
        mode={mode}
        secret={loaded.secret}
        {...(draft === undefined ? {} : { draft })}
        onDone={onDone}
        onCancel={onCancel}
        onDirtyChange={onDirtyChange}
        onTokenRejected={onTokenRejected}
      />
    );
  }
  return (
    <section aria-labelledby="edit-title">
      <h1 id="edit-title" ref={headingRef} tabIndex={-1}>
        Edit {name}
      </h1>
      {loaded.kind === "loading" ? (
        <p className="empty">Loading {name}…</p>
      ) : (
        <div className="error-panel" role="alert">
          <p>Could not open {name}: {loaded.message}</p>
          <div className="toolbar">
            <button type="button" onClick={() => setAttempt((n) => n + 1)}>
              Try again
            </button>
            <button type="button" onClick={onCancel}>
              Back to the list
            </button>
          </div>
        </div>
      )}
    </section>
  );
}
