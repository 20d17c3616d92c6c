import { afterEach, describe, expect, it } from "vitest";
import { CredbrokerError } from "../../src/errors.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { createTokenCache } from "../../src/oauth/token-cache.ts";
import type { TokenCache, TokenCacheOptions } from "../../src/oauth/token-cache.ts";
import type { FetchedToken } from "../../src/oauth/token-fetch.ts";
import { MAX_TOKEN_LIFETIME_MS, refreshDueAt, tokenLifetimeMs } from "../../src/oauth/token-lifetime.ts";
import { credentials, expectCode } from "../support/canary.ts";
import { createManualClock } from "../support/manual-clock.ts";

/**
 * The refresh policy's arithmetic, driven by an injected clock and a fetch
 * the test settles by hand; the behaviour against a real token server is in
 * token-cache.test.ts.
 */

const creds = credentials("http://127.0.0.1:1/token", "client", "secret");
const key = { mode: Mode.TEST, name: "clocked", version: 1n };
const MINUTE = 60_000;

interface PendingFetch {
  resolve(token: FetchedToken): void;
  reject(error: unknown): void;
}

/** A cache on a hand-moved clock (its timers too) whose fetches wait for the test to settle them. */
function harness(options: Partial<TokenCacheOptions> = {}) {
  const clock = createManualClock();
  const pending: PendingFetch[] = [];
  const cache = createTokenCache({
    maxEntries: 1000,
    defaultTtlMs: 300_000,
    now: clock.now,
    timer: clock.timer,
    fetchToken: () => new Promise<FetchedToken>((resolve, reject) => pending.push({ resolve, reject })),
    refreshBackoff: { baseMs: 10_000, maxMs: 10_000 },
    ...options,
  });
  caches.push(cache);
  const settle = async (token: string, expiresIn: number | undefined): Promise<void> => {
    pending.shift()?.resolve({ accessToken: token, tokenType: "bearer", expiresIn });
    await flush();
  };
  const fail = async (): Promise<void> => {
    pending.shift()?.reject(new CredbrokerError("ERR_UNAVAILABLE", "token endpoint unreachable (ECONNREFUSED)"));
    await flush();
  };
  return {
    cache,
    pending,
    settle,
    fail,
    at: clock.at,
    now: clock.now,
    get: () => cache.token(key, () => creds).then((t) => t.accessToken),
  };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const caches: TokenCache[] = [];
afterEach(() => caches.splice(0).forEach((c) => c.close()));

describe("refresh policy", () => {
  it.each([
    ["1 hour", 60 * MINUTE, 54 * MINUTE],
    ["10 minutes", 10 * MINUTE, 9 * MINUTE],
    ["5 minutes", 5 * MINUTE, 4.5 * MINUTE],
    ["60 seconds", MINUTE, 30_000],
    ["4 seconds", 4_000, 2_000],
  ])("refreshes a %s token when max(30 s, 10%%) is left, never before half", (_name, lifetime, due) => {
    expect(refreshDueAt(0, lifetime)).toBe(due);
  });

  it("serves the cached token until the refresh is due, then refreshes once in the background", async () => {
    const h = harness();
    const first = h.get();
    await h.settle("token-1", 3600);
    expect(await first).toBe("token-1");

    h.at(54 * MINUTE - 1);
    expect(await h.get()).toBe("token-1");
    expect(h.pending).toHaveLength(0);

    h.at(54 * MINUTE);
    expect(await h.get()).toBe("token-1"); // served at once while the refresh runs
    expect(await h.get()).toBe("token-1");
    expect(h.pending).toHaveLength(1); // one refresh, however many callers
    await h.settle("token-2", 3600);
    expect(await h.get()).toBe("token-2");
    expect(h.cache.counters).toEqual({ fetches: 2, hits: 4, misses: 1, refreshFailures: 0 });
  });

  it("keeps serving through failed refreshes, backs off between them, and fails once the token expires", async () => {
    const h = harness();
    const first = h.get();
    await h.settle("token-1", 60);
    await first;

    h.at(30_000);
    expect(await h.get()).toBe("token-1");
    await h.fail();
    expect(h.cache.counters.refreshFailures).toBe(1);

    h.at(31_000); // within the backoff (5-10 s): no new attempt
    expect(await h.get()).toBe("token-1");
    expect(h.pending).toHaveLength(0);

    h.at(41_000); // past the backoff: one more attempt, still serving
    expect(await h.get()).toBe("token-1");
    expect(h.pending).toHaveLength(1);
    await h.fail();
    expect(h.cache.counters.refreshFailures).toBe(2);

    h.at(60_000 - 1);
    expect(await h.get()).toBe("token-1");
    h.at(60_000); // expired: never served, the caller waits for a fetch and gets its error
    const expired = expectCode(h.get(), "ERR_UNAVAILABLE");
    expect(h.pending).toHaveLength(1);
    await h.fail();
    await expired;
  });

  it("shares one refresh between callers who arrive after expiry and the background refresh", async () => {
    const h = harness();
    const first = h.get();
    await h.settle("token-1", 60);
    await first;
    h.at(30_000);
    await h.get(); // starts the refresh
    h.at(61_000); // the token expired while the refresh is still in flight
    const waiting = [h.get(), h.get()];
    expect(h.pending).toHaveLength(1);
    await h.settle("token-2", 60);
    expect(await Promise.all(waiting)).toEqual(["token-2", "token-2"]);
  });

  it("after close(), still answers but caches nothing", async () => {
    const h = harness();
    h.cache.close();
    const a = h.get();
    await h.settle("token-1", 3600);
    const b = h.get();
    await h.settle("token-2", 3600);
    expect([await a, await b]).toEqual(["token-1", "token-2"]);
  });
});

describe("what a token endpoint issues is bounded before it is cached", () => {
  it.each([
    ["undefined (the default TTL)", undefined, 300_000],
    ["0", 0, 0],
    ["negative", -5, 0],
    ["1e15 seconds", 1e15, MAX_TOKEN_LIFETIME_MS],
    ["Infinity", Infinity, MAX_TOKEN_LIFETIME_MS],
    ["NaN", NaN, undefined],
  ])("expires_in %s gives a lifetime of %s ms", (_name, expiresIn, lifetime) => {
    expect(tokenLifetimeMs(expiresIn, 300_000)).toBe(lifetime);
  });

  it("caches a token whose expires_in is 1e15 for a year, with a valid expiry", async () => {
    const h = harness();
    const first = h.cache.token(key, () => creds);
    await h.settle("token-1", 1e15);
    expect((await first).expiresAt?.getTime()).toBe(h.now() + MAX_TOKEN_LIFETIME_MS);
    h.at(MAX_TOKEN_LIFETIME_MS / 2);
    expect(await h.get()).toBe("token-1");
    expect(h.pending).toHaveLength(0);
  });

  it("never caches a token it cannot serve: the next call fetches again", async () => {
    const h = harness();
    for (const broken of [{ accessToken: "AT\r\nX-Injected: yes", expiresIn: 3600 }, { accessToken: "ok", expiresIn: NaN }]) {
      const refused = expectCode(h.get(), "ERR_UNAVAILABLE");
      h.pending.shift()?.resolve({ ...broken, tokenType: "bearer" });
      expect((await refused).message).not.toContain("X-Injected");
    }
    const next = h.get();
    expect(h.pending).toHaveLength(1);
    await h.settle("token-1", 3600);
    expect(await next).toBe("token-1");
  });

  it("keeps serving the cached token when a refresh brings one it cannot serve, and backs off", async () => {
    const h = harness();
    const first = h.get();
    await h.settle("token-1", 60);
    await first;
    h.at(30_000);
    expect(await h.get()).toBe("token-1");
    h.pending.shift()?.resolve({ accessToken: "AT\r\nX-Injected: yes", tokenType: "bearer", expiresIn: 60 });
    await flush();
    expect(h.cache.counters.refreshFailures).toBe(1);
    h.at(31_000); // within the backoff: no new attempt
    expect(await h.get()).toBe("token-1");
    expect(h.pending).toHaveLength(0);
  });
});
