import type { HttpTarget } from "../gen/credbroker/v1/inject_service_pb.ts";
import { invalidField } from "../errors.ts";

/** The request a DPoP proof is bound to: `htm` and `htu` (RFC 9449 §4.2). */
export interface ProofTarget {
  /** The method, as the step will send it. */
  htm: string;
  /** The URL without query and fragment, normalized as WHATWG URL does (lowercase host, no default port). */
  htu: string;
}

// RFC 9110 §9.1: a method is a token.
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
// Longer URLs are refused by most servers anyway (RFC 9110 §4.1 suggests 8000 octets).
const MAX_URL_LENGTH = 8192;

/**
 * Checks an Inject target, if there is one. Errors name target.method or
 * target.url and never quote the URL: its query may carry a credential.
 */
export function checkTarget(target: HttpTarget | undefined): ProofTarget | undefined {
  if (target === undefined) {
    return undefined;
  }
  if (!METHOD.test(target.method)) {
    throw invalidField("target.method", "must be an HTTP method token (RFC 9110), e.g. GET or POST");
  }
  const url = target.url.length <= MAX_URL_LENGTH ? URL.parse(target.url) : null;
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:") || url.host === "") {
    throw invalidField("target.url", `must be an absolute http or https URL of at most ${MAX_URL_LENGTH} characters`);
  }
  if (url.username !== "" || url.password !== "") {
    throw invalidField("target.url", "must not carry user info (user:password@)");
  }
  return { htm: target.method, htu: `${url.origin}${url.pathname}` };
}
