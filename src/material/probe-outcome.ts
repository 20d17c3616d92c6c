/** What one test of a secret found: whether the credentials worked, a line for people, and the type's details. */
export interface ProbeOutcome<R> {
  /** Whether the credentials worked, as far as the test could tell. */
  ok: boolean;
  /** What happened, in words that carry no value. */
  summary: string;
  /** The details the type's test reports. */
  result: R;
}

/**
 * A network failure in words that carry no value: the errno-style code in
 * the error's cause chain (ECONNREFUSED, ENOTFOUND, ...), or the deadline.
 * Never an error's message: fetch and ssh2 messages may quote a header
 * value or the request that failed.
 */
export function networkFailure(error: unknown, timeoutMs: number): string {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 6; depth++) {
    if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) {
      return `no answer within ${timeoutMs / 1000} s`;
    }
    if (typeof e === "object" && "code" in e && typeof e.code === "string" && /^[A-Z0-9_]{1,64}$/.test(e.code)) {
      return `unreachable (${e.code})`;
    }
    e = e instanceof Error ? e.cause : undefined;
  }
  return "unreachable";
}
