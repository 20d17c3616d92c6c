import { useMemo, useState } from "react";
import { createAdminClient, tokenStore } from "./admin-client.ts";
import { SecretsPage } from "./secrets-page.tsx";
import { SignIn } from "./sign-in.tsx";

/** Sign-in first; the secrets page once a token was accepted. */
export function App() {
  const [token, setToken] = useState(tokenStore.load);
  const [signedOutBecause, setSignedOutBecause] = useState<string>();
  const client = useMemo(() => (token === undefined ? undefined : createAdminClient(token)), [token]);

  const signOut = (reason?: string) => {
    tokenStore.clear();
    setToken(undefined);
    setSignedOutBecause(reason);
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
      onSignOut={() => signOut()}
      onTokenRejected={() => signOut("The admin token was not accepted any more. Sign in again.")}
    />
  );
}
