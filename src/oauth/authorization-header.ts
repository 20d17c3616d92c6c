import type { AccessToken } from "./token-cache-api.ts";

// RFC 6750 §2.1 b64token, the only shape a Bearer (or, RFC 9449 §7.1, DPoP) credential may have.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
// RFC 7230 §3.2.6 token, the shape of an auth scheme (the token type).
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible ASCII: no CTL (CR, LF, NUL...), no whitespace, nothing a header value cannot carry as is.
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** Whether a value is an RFC 7230 token, as an auth scheme (a token type) must be. */
export function isHttpToken(value: string): boolean {
  return HTTP_TOKEN.test(value);
}

/**
 * Why a token cannot be sent as `Authorization: <token_type> <access_token>`,
 * or undefined when it can. Never quotes the token: the answer goes into errors.
 */
export function authorizationHeaderProblem(token: Pick<AccessToken, "accessToken" | "tokenType">): string | undefined {
  if (!isHttpToken(token.tokenType)) {
    return "a token_type that is not an HTTP token (RFC 7230)";
  }
  const type = token.tokenType.toLowerCase();
  if (type === "bearer" || type === "dpop") {
    return B64TOKEN.test(token.accessToken)
      ? undefined
      : `a ${type} access_token that is not an RFC 6750 b64token (not a valid header value)`;
  }
  return VISIBLE_ASCII.test(token.accessToken)
    ? undefined
    : "an access_token with control characters, whitespace or non-ASCII (not a valid header value)";
}

/**
 * The HTTP Authorization header value for a token, `<token_type>
 * <access_token>`; `bearer` in any case is written `Bearer`, the spelling of
 * RFC 6750 that every resource server accepts (openid-client lowercases it),
 * and `dpop` is written `DPoP`, the scheme of RFC 9449 §7.1.
 * Only for tokens that authorizationHeaderProblem accepts (the token cache serves no other).
 */
export function authorizationHeaderValue(token: Pick<AccessToken, "accessToken" | "tokenType">): string {
  const lower = token.tokenType.toLowerCase();
  const type = lower === "bearer" ? "Bearer" : lower === "dpop" ? "DPoP" : token.tokenType;
  return `${type} ${token.accessToken}`;
}
