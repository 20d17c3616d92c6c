import type { AccessToken } from "./token-cache-api.ts";

/**
 * The HTTP Authorization header value for a token, `<token_type>
 * <access_token>`; `bearer` in any case is written `Bearer`, the spelling of
 * RFC 6750 that every resource server accepts (openid-client lowercases it).
 */
export function authorizationHeaderValue(token: Pick<AccessToken, "accessToken" | "tokenType">): string {
  const type = token.tokenType.toLowerCase() === "bearer" ? "Bearer" : token.tokenType;
  return `${type} ${token.accessToken}`;
}
