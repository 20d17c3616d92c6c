import type { Interceptor } from "@connectrpc/connect";
import { isIP } from "node:net";
import { CredbrokerError } from "../errors.ts";

/** Options of createBrowserGuard. */
export interface BrowserGuardOptions {
  /**
   * Refuse a request whose Host is a DNS name other than localhost: set for
   * a cleartext TCP listener (which is loopback-only), where a name that an
   * attacker points at 127.0.0.1 would make a web page "same origin" with
   * the broker (DNS rebinding). An IP literal cannot be rebound, and
   * browsers resolve localhost themselves. Not needed with TLS (the
   * certificate would not match that name) or on a unix socket (no browser
   * reaches it).
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
      throw new CredbrokerError("ERR_FOREIGN_ORIGIN", problem);
    }
    return next(req);
  };
}

/** Why a request is refused as coming from a foreign web page, or undefined when it may proceed. */
export function browserRequestProblem(url: string, header: Headers, loopbackHostOnly: boolean): string | undefined {
  const target = targetOf(url);
  if (loopbackHostOnly && !target.rebindProof) {
    return "this listener answers only requests addressed to an IP address or localhost, not to another DNS name";
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

/** What the guard reads of a request's URL: its origin, and whether its host is one that DNS rebinding cannot point elsewhere. */
interface Target {
  readonly origin: string;
  readonly rebindProof: boolean;
}

/** The targets of recent scheme-and-authority prefixes: a listener's calls name the same few, and parsing a URL costs ~1.7 µs. */
const targets = new Map<string, Target>();
const maxTargets = 64;

/**
 * The URL's target, parsed once per prefix up to the first "/" after the
 * scheme's "//": the host ends at the first "/", "\\", "?" or "#", so every
 * URL with that prefix has the same origin and host.
 */
function targetOf(url: string): Target {
  const end = url.indexOf("/", url.indexOf("//") + 2);
  const prefix = end < 0 ? url : url.slice(0, end);
  let target = targets.get(prefix);
  if (target === undefined) {
    const parsed = new URL(url);
    target = { origin: parsed.origin, rebindProof: isRebindProof(parsed.hostname) };
    if (targets.size >= maxTargets) {
      targets.clear();
    }
    targets.set(prefix, target);
  }
  return target;
}

/** An IP literal (URL.hostname keeps IPv6 in brackets), localhost or a name under .localhost, which browsers never look up in DNS. */
function isRebindProof(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return isIP(host.replace(/^\[(.*)\]$/, "$1")) !== 0 || host === "localhost" || host.endsWith(".localhost");
}
