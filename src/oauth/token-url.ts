import { isLoopbackHost } from "../loopback-host.ts";

/**
 * Why a token URL is not acceptable, or undefined when it is: https, or http
 * to a loopback host (a sidecar next to a local identity provider).
 */
export function tokenUrlProblem(tokenUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(tokenUrl);
  } catch {
    return "must be an absolute URL";
  }
  if (url.username !== "" || url.password !== "") {
    return "must not carry credentials; use clientId and clientSecret";
  }
  if (url.hash !== "") {
    return "must not have a fragment";
  }
  if (url.protocol === "https:") {
    return undefined;
  }
  if (url.protocol === "http:") {
    return isLoopbackHost(url.hostname) ? undefined : "http is allowed only to a loopback host; use https";
  }
  return "must be an https URL";
}
