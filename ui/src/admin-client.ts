import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";

/** The admin API as the page calls it. */
export type AdminClient = Client<typeof SecretService>;

/**
 * A SecretService client over the Connect protocol to the page's own origin
 * (the broker's HTTP listener), sending the admin token on every call.
 */
export function createAdminClient(token: string): AdminClient {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createConnectTransport({
    baseUrl: window.location.origin,
    interceptors: [bearer],
    // never send or keep cookies: the token header is the only credential
    fetch: (input, init) => globalThis.fetch(input, { ...init, credentials: "omit", cache: "no-store" }),
  });
  return createClient(SecretService, transport);
}

const tokenKey = "credbroker.adminToken";

/**
 * The admin token lives in sessionStorage: gone when the tab closes, never
 * in a URL or localStorage.
 */
export const tokenStore = {
  load(): string | undefined {
    return window.sessionStorage.getItem(tokenKey) ?? undefined;
  },
  save(token: string): void {
    window.sessionStorage.setItem(tokenKey, token);
  },
  clear(): void {
    window.sessionStorage.removeItem(tokenKey);
  },
};
