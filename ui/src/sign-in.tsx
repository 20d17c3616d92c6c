import { Code } from "@connectrpc/connect";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { createAdminClient } from "./admin-client.ts";
import { describeError } from "./errors.ts";

interface SignInProps {
  /** Why the user is here again (a token that stopped working). */
  notice: string | undefined;
  /** Called with a token the broker accepted. */
  onSignedIn(token: string): void;
}

/** Asks for the admin token and checks it with one cheap admin call before going on. */
export function SignIn({ notice, onSignedIn }: SignInProps) {
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [rejected, setRejected] = useState<string>();
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => input.current?.focus(), [rejected]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const candidate = token.trim();
    if (candidate === "") {
      setRejected("Enter the admin token.");
      return;
    }
    setBusy(true);
    try {
      await createAdminClient(candidate).listSecrets({ mode: Mode.TEST, pageSize: 1 });
      onSignedIn(candidate);
    } catch (error) {
      const problem = describeError(error);
      setRejected(
        problem.code === Code.Unauthenticated || problem.code === Code.PermissionDenied
          ? "This is not the broker's admin token. Check the token and try again."
          : problem.message,
      );
      setToken("");
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <h1>credbroker</h1>
      <p>Sign in with the broker's admin token to manage secrets.</p>
      {notice !== undefined && rejected === undefined && (
        // why the operator is signed out is a warning, not a success
        <p className="notice warning" role="status">
          {notice}
        </p>
      )}
      {rejected !== undefined && (
        <div className="error-panel" role="alert" id="sign-in-error">
          <h2>Sign-in failed</h2>
          <p>{rejected}</p>
        </div>
      )}
      <form onSubmit={submit} noValidate>
        <label htmlFor="admin-token">Admin token</label>
        <input
          id="admin-token"
          ref={input}
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(event) => setToken(event.target.value)}
          aria-invalid={rejected !== undefined}
          aria-describedby={rejected !== undefined ? "sign-in-error admin-token-hint" : "admin-token-hint"}
        />
        <p className="hint" id="admin-token-hint">
          The token is kept in this tab only and forgotten when the tab closes.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
