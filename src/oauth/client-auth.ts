import type { ClientAuth } from "openid-client";

/**
 * client_secret_basic as RFC 6749 §2.3.1 asks and foreign endpoints accept.
 * oauth4webapi's own ClientSecretBasic percent-encodes every character but
 * letters and digits, "-._~" included, so a GUID client id reaches the
 * endpoint as "3fa85f64%2D5717..."; an endpoint that does not form-decode
 * Basic credentials (Authlib 1.2, many hand-written ones) then answers
 * invalid_client, while `curl -u` works against it.
 */

/**
 * A client id or secret form-encoded for a Basic header: RFC 6749 Appendix B
 * (UTF-8, space as "+", percent-encoding outside `*-._` and alphanumerics),
 * with "~" (RFC 3986 unreserved) also left as it is. Characters left as they
 * are read the same to endpoints that form-decode and to those that do not.
 */
export function basicCredentialEncoding(value: string): string {
  return encodeURIComponent(value).replace(/[!'()]|%20/g, (match) =>
    match === "%20" ? "+" : `%${match.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The client_secret_basic ClientAuth for openid-client's Configuration. */
export function clientSecretBasic(clientSecret: string): ClientAuth {
  return (_as, client, _body, headers) => {
    const credentials = `${basicCredentialEncoding(client.client_id)}:${basicCredentialEncoding(clientSecret)}`;
    headers.set("authorization", `Basic ${Buffer.from(credentials, "utf8").toString("base64")}`);
  };
}
