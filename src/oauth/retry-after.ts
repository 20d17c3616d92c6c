import { CredbrokerError } from "../errors.ts";

/**
 * Retry-After (RFC 9110 §10.2.3) on a token endpoint's 429 or 503: the
 * endpoint says when to ask again, and the broker sends nothing to it for
 * that secret before then.
 */

/**
 * The longest wait the broker accepts from a Retry-After (5 minutes): long
 * enough for a rate limit or a maintenance window to pass, short enough that
 * a wrong or hostile header cannot take a secret out of service for long.
 */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** An ERR_UNAVAILABLE whose endpoint asked for no request before `retryAfterMs` from now. */
export class RetryAfterError extends CredbrokerError {
  override name = "RetryAfterError";
  /** How long to send nothing, in ms from when the answer came; at most MAX_RETRY_AFTER_MS. */
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number) {
    super("ERR_UNAVAILABLE", message);
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The wait a 429 or 503 asks for, in ms within [0, MAX_RETRY_AFTER_MS]:
 * delta-seconds or an HTTP-date (against `nowMs`); undefined for any other
 * status, no header, or one that is neither.
 */
export function retryAfterMs(response: Response, nowMs: number = Date.now()): number | undefined {
  if (response.status !== 429 && response.status !== 503) {
    return undefined;
  }
  const value = response.headers.get("retry-after")?.trim();
  if (value === undefined || value === "") {
    return undefined;
  }
  let ms: number;
  if (/^\d+$/.test(value)) {
    ms = Number(value) * 1000;
  } else {
    // An HTTP-date always names a weekday or a month: this keeps Date.parse
    // from reading a bare "1.5" or "-5" as a date.
    const date = /[a-z]{3}/i.test(value) ? Date.parse(value) : NaN;
    if (Number.isNaN(date)) {
      return undefined;
    }
    ms = date - nowMs;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/** The answer while a Retry-After holds: why, and when the next request may go (a time, nothing secret). */
export function heldOffError(reason: string, untilMs: number): CredbrokerError {
  return new CredbrokerError(
    "ERR_UNAVAILABLE",
    `${reason}; the endpoint asked for no new token request before ${new Date(untilMs).toISOString()}`,
  );
}
