import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { isLoopbackHost } from "./transport-security.ts";

/** Options of createBrowserGuard. */
export interface BrowserGuardOptions {
  /**
   * Refuse a request whose Host names anything but a loopback address: set
   * for a cleartext TCP listener (which is loopback-only), where a DNS name
   * that an attacker points at 127.0.0.1 would make a web page "same origin"
   * with the broker (DNS rebinding). Not needed with TLS (the certificate
   * would not match that name) or on a unix socket (no browser reaches it).
   */
  loopbackHostOnly: boolean;
}

/**
 * Keeps web pages of other origins away from the API of the HTTP listener,
 * the one browsers can reach. A browser marks its requests (Origin,
 * Sec-Fetch-Site); the admin page's own calls are same-origin, and clients
 * that are not browsers send neither. Without this, a page on another site
 * could drive an Inject that needs no token (the default on loopback) and,
 * through DNS rebinding, read its answer.
 */
export function createBrowserGuard(options: BrowserGuardOptions): Interceptor {
  return (next) => (req) => {
    const problem = browserRequestProblem(req.url, req.header, options.loopbackHostOnly);
    if (problem !== undefined) {
      throw new ConnectError(problem, Code.PermissionDenied);
    }
    return next(req);
  };
}

/** Why a request is refused as coming from a foreign web page, or undefined when it may proceed. */
export function browserRequestProblem(url: string, header: Headers, loopbackHostOnly: boolean): string | undefined {
  const target = new URL(url);
  if (loopbackHostOnly && !isLoopbackHost(target.hostname.replace(/^\[(.*)\]$/, "$1"))) {
    return "this listener answers only requests addressed to a loopback host (127.0.0.1, ::1 or localhost)";
  }
  // "none": the user opened the address themselves; anything but same-origin is another site's page
  const site = header.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    return "requests from web pages of other origins are refused";
  }
  const origin = header.get("origin");
  if (origin !== null && origin !== target.origin) {
    return "requests from web pages of other origins are refused";
  }
  return undefined;
}
