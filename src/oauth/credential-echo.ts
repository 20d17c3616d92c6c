import { basicCredentialEncoding } from "./client-auth.ts";

/**
 * Recognises a client's credentials in text a token endpoint sent back. A
 * misbehaving endpoint may echo the request (the Authorization header, the
 * form body) in `error_description`, in any of the encodings the request
 * used; none of them may reach an error or a log line.
 */

/** Tells whether text carries any form of the client secret (alone, or with the client id as sent in Basic). */
export type CredentialEchoCheck = (text: string) => boolean;

// A run this long of any encoded form counts as an echo: a server that cut
// its echo short (or our truncation) must not leave half a secret readable.
const WINDOW = 8;

/** A check for the forms of `clientSecret` (and of `clientId:clientSecret`) that a request can carry. */
export function credentialEchoCheck(clientId: string, clientSecret: string): CredentialEchoCheck {
  if (clientSecret === "") {
    return () => false;
  }
  const idForms = encodings(clientId);
  const secretForms = encodings(clientSecret);
  const forms = new Set<string>(secretForms);
  for (const secret of secretForms) {
    forms.add(base64(secret));
    forms.add(base64url(secret));
    for (const id of idForms) {
      forms.add(base64(`${id}:${secret}`));
      forms.add(base64url(`${id}:${secret}`));
    }
  }
  // Lowercased on both sides: percent-encoding may come back in either hex
  // case, and matching more loosely only ever drops more text.
  const lowered = [...forms].map((form) => form.toLowerCase().replace(/=+$/, ""));
  const short = lowered.filter((form) => form.length <= WINDOW);
  // "\n" never occurs in a window of the text checked (callers pass printable text only).
  const long = lowered.filter((form) => form.length > WINDOW).join("\n");
  return (text) => {
    const lower = text.toLowerCase();
    if (short.some((form) => lower.includes(form))) {
      return true;
    }
    for (let i = 0; i + WINDOW <= lower.length; i++) {
      if (long.includes(lower.slice(i, i + WINDOW))) {
        return true;
      }
    }
    return false;
  };
}

/** The value raw and in every encoding a form body or a Basic header may use for it. */
function encodings(value: string): string[] {
  return [...new Set([
    value,
    encodeURIComponent(value),
    // application/x-www-form-urlencoded as URLSearchParams writes a body: "+" for space
    new URLSearchParams([["", value]]).toString().slice(1),
    // what client_secret_basic sends
    basicCredentialEncoding(value),
  ])];
}

function base64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

function base64url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}
