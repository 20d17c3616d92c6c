import { useMemo, useState } from "react";
import { createAdminClient, tokenStore } from "./admin-client.ts";
import type { FormDraft } from "./form-draft.ts";
import { SecretsPage } from "./secrets-page.tsx";
import { SignIn } from "./sign-in.tsx";

/** Sign-in first; the secrets page once a token was accepted. */
export function App() {
  const [token, setToken] = useState(tokenStore.load);
  const [signedOutBecause, setSignedOutBecause] = useState<string>();
  // the form's typed work (no secret value) across a sign-in; in memory only
  const [draft, setDraft] = useState<FormDraft>();
  const client = useMemo(() => (token === undefined ? undefined : createAdminClient(token)), [token]);

  const signOut = (reason?: string, kept?: FormDraft) => {
    tokenStore.clear();
    setToken(undefined);
    setSignedOutBecause(reason);
    setDraft(kept);
  };

  if (client === undefined) {
    return (
      <SignIn
        notice={signedOutBecause}
        onSignedIn={(accepted) => {
          tokenStore.save(accepted);
          setSignedOutBecause(undefined);
          setToken(accepted);
        }}
      />
    );
  }
  return (
    <SecretsPage
      client={client}
      draft={draft}
      onSignOut={() => signOut()}
      onTokenRejected={(kept) =>
        signOut(
          kept === undefined
            ? "The admin token was not accepted any more. Sign in again."
            : "The admin token was not accepted any more. Sign in again: what you typed is kept, except secret values.",
          kept,
        )
      }
    />
  );
}
