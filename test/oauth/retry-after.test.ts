import { afterEach, describe, expect, it } from "vitest";
import { MAX_RETRY_AFTER_MS, retryAfterMs } from "../../src/oauth/retry-after.ts";
import { createTokenCache } from "../../src/oauth/token-cache.ts";
import type { TokenCache } from "../../src/oauth/token-cache.ts";
import { createTokenFetcher } from "../../src/oauth/token-fetch.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { canary, credentials, expectCode, expectNoCanary } from "../support/canary.ts";
import { json, startFakeEndpoint } from "../support/fake-endpoint.ts";
import type { FakeEndpoint } from "../support/fake-endpoint.ts";

const NOW = Date.parse("2026-03-01T12:00:00Z");

describe("retryAfterMs", () => {
  const answer = (status: number, value?: string) =>
    new Response(null, { status, headers: value === undefined ? {} : { "retry-after": value } });

  it.each([
    ["delta-seconds", 503, "120", 120_000],
    ["zero", 429, "0", 0],
    ["an HTTP-date", 503, "Sun, 01 Mar 2026 12:01:30 GMT", 90_000],
    ["an HTTP-date in the past", 503, "Sun, 01 Mar 2026 11:00:00 GMT", 0],
    ["more than five minutes", 429, "86400", MAX_RETRY_AFTER_MS],
    ["a far HTTP-date", 503, "Fri, 01 Jan 2100 00:00:00 GMT", MAX_RETRY_AFTER_MS],
    ["no header", 503, undefined, undefined],
    ["a negative number", 503, "-5", undefined],
    ["a fraction", 503, "1.5", undefined],
    ["garbage", 503, "soon", undefined],
    ["a status other than 429 and 503", 500, "120", undefined],
  ])("reads %s", (_name, status, value, expected) => {
    expect(retryAfterMs(answer(status, value), NOW)).toBe(expected);
  });
});

describe("the token cache honours Retry-After, on its own clock, against a counting endpoint", () => {
  const secret = canary("retry-after-secret");
  const issued = canary("retry-after-token");
  const key = { mode: Mode.TEST, name: "throttled", version: 1n };
  let clock = NOW;
  const at = (ms: number) => {
    clock = NOW + ms;
  };
  const endpoints: FakeEndpoint[] = [];
  const caches: TokenCache[] = [];
  afterEach(async () => {
    caches.splice(0).forEach((c) => c.close());
    await Promise.all(endpoints.splice(0).map((e) => e.stop()));
    clock = NOW;
  });

  /** An endpoint that answers `status` with `retryAfter` while `busy()` says so, and a token otherwise; and a cache over it. */
  async function throttled(status: number, retryAfter: string, busy: (n: number) => boolean, expiresIn = 600) {
    const endpoint = await startFakeEndpoint((n, _req, res) =>
      busy(n)
        ? json(res, status, { error: status === 429 ? "slow_down" : "temporarily_unavailable" }, { "retry-after": retryAfter })
        : json(res, 200, { access_token: issued, token_type: "Bearer", expires_in: expiresIn }));
    endpoints.push(endpoint);
    const cache = createTokenCache({
      maxEntries: 1000,
      defaultTtlMs: 300_000,
      now: () => clock,
      fetchToken: createTokenFetcher({ timeoutMs: 3_000, retryBackoff: { baseMs: 20, maxMs: 50 } }),
      refreshBackoff: { baseMs: 1_000, maxMs: 1_000 },
    });
    caches.push(cache);
    const creds = credentials(endpoint.url, "client", secret);
    return { endpoint, cache, get: () => cache.token(key, () => creds) };
  }

  it.each([429, 503])("after a %i with Retry-After: 120, sends nothing more until it passes, and says when", async (status) => {
    const h = await throttled(status, "120", () => clock < NOW + 120_000);
    const errors = [];
    for (let i = 0; i < 3; i++) {
      errors.push(await expectCode(h.get(), "ERR_UNAVAILABLE"));
    }
    expect(h.endpoint.requests).toBe(1); // one fetch, one attempt: its retry would come after the deadline
    const when = new Date(NOW + 120_000).toISOString();
    for (const error of errors) {
      expect(error.message).toContain(when);
      expectNoCanary(error, [secret]);
    }
    at(119_999);
    await expectCode(h.get(), "ERR_UNAVAILABLE");
    expect(h.endpoint.requests).toBe(1);
    at(120_000);
    expect((await h.get()).accessToken).toBe(issued);
    expect(h.endpoint.requests).toBe(2);
  });

  it("reads an HTTP-date", async () => {
    // HTTP-dates are whole seconds, read against the real clock: 60 s ahead is 59-60 s of hold
    const date = new Date(Math.floor(Date.now() / 1000) * 1000 + 60_000).toUTCString();
    const h = await throttled(503, date, (n) => n === 1);
    await expectCode(h.get(), "ERR_UNAVAILABLE");
    at(58_000);
    await expectCode(h.get(), "ERR_UNAVAILABLE");
    expect(h.endpoint.requests).toBe(1);
    at(61_000);
    expect((await h.get()).accessToken).toBe(issued);
    expect(h.endpoint.requests).toBe(2);
  });

  it("holds for at most five minutes, whatever the endpoint asks", async () => {
    const h = await throttled(429, "86400", (n) => n === 1);
    await expectCode(h.get(), "ERR_UNAVAILABLE");
    at(MAX_RETRY_AFTER_MS - 1);
    await expectCode(h.get(), "ERR_UNAVAILABLE");
    expect(h.endpoint.requests).toBe(1);
    at(MAX_RETRY_AFTER_MS);
    expect((await h.get()).accessToken).toBe(issued);
  });

  it("serves the cached token while a refresh is held off, and refuses once it expired, until the hold passes", async () => {
    // request 1: a 60-second token; request 2 (the refresh at 30 s): 503 Retry-After 120; then tokens again
    const h = await throttled(503, "120", (n) => n === 2, 60);
    expect((await h.get()).accessToken).toBe(issued);
    at(30_000);
    expect((await h.get()).accessToken).toBe(issued); // starts the refresh
    // the clock stands still until the refresh has failed, so the hold is counted from 30 s
    await expect.poll(() => h.cache.counters.refreshFailures).toBe(1);
    expect(h.endpoint.requests).toBe(2);
    for (const t of [31_000, 45_000, 59_999]) {
      at(t); // past the 1-second refresh backoff, within the hold: served, nothing sent
      expect((await h.get()).accessToken).toBe(issued);
    }
    at(60_000); // expired, still held (until 150 s)
    const refused = await expectCode(h.get(), "ERR_UNAVAILABLE");
    expect(refused.message).toContain(new Date(NOW + 150_000).toISOString());
    expect(h.endpoint.requests).toBe(2);
    at(150_000);
    expect((await h.get()).accessToken).toBe(issued);
    expect(h.endpoint.requests).toBe(3);
  });
});
