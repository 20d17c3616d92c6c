import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { OAuth2ClientCredentials } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { authorizationHeaderValue } from "../../src/oauth/authorization-header.ts";
import { createTokenCache } from "../../src/oauth/token-cache.ts";
import type { AccessToken, TokenCache, TokenCacheKey, TokenCacheLogger, TokenCacheOptions } from "../../src/oauth/token-cache.ts";
import { createTokenFetcher } from "../../src/oauth/token-fetch.ts";
import { canary, credentials, expectCode, expectNoCanary } from "../support/canary.ts";
import { json, startFakeEndpoint } from "../support/fake-endpoint.ts";
import type { FakeEndpoint } from "../support/fake-endpoint.ts";
import { startTokenServer } from "../support/oidc-server.ts";
import type { TokenServer, TokenServerOptions } from "../support/oidc-server.ts";
import { createManualClock } from "../support/manual-clock.ts";
import { createTestPki, fetchTrusting, type TestPki } from "../support/tls.ts";

// A pino logger is a TokenCacheLogger; this line fails to compile if that changes.
const pinoFits: TokenCacheLogger = pino({ enabled: false });
void pinoFits;

const secretA = canary("secret-a");
const secretB = canary("secret-b");
const common = { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] };
const clients = [
  { ...common, client_id: "client-a", client_secret: secretA },
  { ...common, client_id: "client-b", client_secret: secretB },
];
const key = (name: string, version = 1n, mode: Mode = Mode.TEST): TokenCacheKey => ({ mode, name, version });
const quickFetch = { timeoutMs: 1_500, retryBackoff: { baseMs: 20, maxMs: 50 } };

/** A cache whose log lines are kept, for the canary checks; closed after each test. */
const logs: unknown[] = [];
const caches: TokenCache[] = [];
const issuedTokens: string[] = [];
function cache(options: Partial<TokenCacheOptions> = {}): TokenCache {
  const created = createTokenCache({
    maxEntries: 1000,
    defaultTtlMs: 300_000,
    fetchToken: createTokenFetcher(quickFetch),
    logger: { warn: (obj, msg) => logs.push({ ...obj, msg }) },
    ...options,
  });
  caches.push(created);
  return created;
}
async function token(tokens: TokenCache, k: TokenCacheKey, creds: OAuth2ClientCredentials): Promise<AccessToken> {
  const t = await tokens.token(k, () => creds);
  issuedTokens.push(t.accessToken);
  return t;
}

const servers: TokenServer[] = [];
async function server(options: Partial<TokenServerOptions> = {}): Promise<TokenServer> {
  const started = await startTokenServer({ clients, ttlSeconds: 300, ...options });
  servers.push(started);
  return started;
}

afterEach(async () => {
  caches.splice(0).forEach((c) => c.close());
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

afterAll(() => {
  // Canaries: nothing the cache logged in this file carries a client secret or an issued token.
  expect(logs.length).toBeGreaterThan(0);
  expectNoCanary(logs, [secretA, secretB, ...issuedTokens]);
});

describe.each([
  ["http", false],
  ["https with a private CA", true],
])("single flight over %s", (_name, tls) => {
  let pki: TestPki | undefined;
  beforeAll(async () => {
    pki = tls ? await createTestPki() : undefined;
  });

  it("200 concurrent cold calls make exactly one token request and get the same token", async () => {
    const idp = await server(pki === undefined ? {} : { tls: { key: pki.key, cert: pki.cert } });
    const tokens = cache({
      fetchToken: createTokenFetcher({ ...quickFetch, ...(pki === undefined ? {} : { fetch: fetchTrusting(pki.ca) }) }),
    });
    const creds = credentials(idp.tokenUrl, "client-a", secretA);
    const before = Date.now();
    const release = idp.holdNext(); // every call waits on the one request
    const all = Promise.all(Array.from({ length: 200 }, () => token(tokens, key("stripe"), creds)));
    await vi.waitFor(() => expect(idp.arrivals).toBe(1));
    release();
    const results = await all;
    expect(idp.arrivals).toBe(1);
    expect(new Set(results.map((r) => r.accessToken)).size).toBe(1);
    expect(tokens.counters).toEqual({ fetches: 1, hits: 0, misses: 200, refreshFailures: 0 });
    const expiresAt = results[0]?.expiresAt?.getTime() ?? 0;
    expect(expiresAt).toBeGreaterThanOrEqual(before + 300_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 300_000);

    const again = await token(tokens, key("stripe"), creds);
    expect(again.accessToken).toBe(results[0]?.accessToken);
    expect(idp.arrivals).toBe(1);
    expect(tokens.counters.hits).toBe(1);
    expect(authorizationHeaderValue(again)).toBe(`Bearer ${again.accessToken}`);
  });
});

describe("refresh ahead against oidc-provider, on a clock the test moves", () => {
  /** A cache on a manual clock whose fetches the test can wait for: time passes only when the test says. */
  function clockedCache(options: Partial<TokenCacheOptions> = {}) {
    const clock = createManualClock();
    const fetcher = createTokenFetcher(quickFetch);
    const fetches: Promise<unknown>[] = [];
    const tokens = cache({
      now: clock.now,
      timer: clock.timer,
      fetchToken: (creds) => {
        const fetched = fetcher(creds);
        fetches.push(fetched);
        return fetched;
      },
      ...options,
    });
    /** Waits until every fetch started so far has settled and the cache has booked it. */
    const settled = async () => {
      await Promise.allSettled(fetches);
      await new Promise<void>((resolve) => setImmediate(resolve));
    };
    return { clock, tokens, fetches, settled };
  }

  it("fetches the next token in the background at half of a short lifetime, serving the current one meanwhile, and never an expired one", async () => {
    const idp = await server({ ttlSeconds: 4 });
    const { clock, tokens, fetches, settled } = clockedCache();
    const creds = credentials(idp.tokenUrl, "client-a", secretA);
    const get = () => token(tokens, key("short"), creds);
    const first = await get();
    // what the endpoint said (4 s, or 3 s if its clock ticked a second meanwhile), on the cache's clock
    const lifetime = (first.expiresAt?.getTime() ?? 0) - clock.now();
    expect([3_000, 4_000]).toContain(lifetime);

    clock.at(lifetime / 2 - 1);
    expect((await get()).accessToken).toBe(first.accessToken);
    expect(fetches).toHaveLength(1); // never before half the lifetime

    clock.at(lifetime / 2); // the refresh timer fires: a background fetch
    expect(fetches).toHaveLength(2);
    const meanwhile = await get();
    expect(meanwhile.accessToken).toBe(first.accessToken); // served at once while the refresh is in flight
    await settled();
    const second = await get();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(idp.arrivals).toBe(2);

    // one refresh, not a storm: the second token's own refresh is due at half of its lifetime
    const secondLifetime = (second.expiresAt?.getTime() ?? 0) - clock.now();
    clock.at(lifetime / 2 + secondLifetime / 2 - 1);
    expect((await get()).accessToken).toBe(second.accessToken);
    expect(tokens.counters).toMatchObject({ fetches: 2, misses: 1, refreshFailures: 0 });

    clock.at(lifetime); // the first token's expiry: what is served is valid
    const afterExpiry = await get();
    expect(afterExpiry.accessToken).toBe(second.accessToken);
    expect(afterExpiry.expiresAt?.getTime()).toBeGreaterThan(clock.now());
    await settled();
  });

  it("keeps serving a valid token while refreshes fail, backing off between them, then answers UNAVAILABLE once it expires", async () => {
    const idp = await server({ ttlSeconds: 3 });
    const { clock, tokens, fetches, settled } = clockedCache({ refreshBackoff: { baseMs: 200, maxMs: 400 } });
    const creds = credentials(idp.tokenUrl, "client-a", secretA);
    const get = () => token(tokens, key("flaky"), creds);
    const first = await get();
    const expiry = (first.expiresAt?.getTime() ?? 0) - clock.now();
    expect(expiry).toBeGreaterThan(1_000);
    await idp.stop();

    // before the refresh is due, at it, within the first backoff (100-200 ms), past it, and just before expiry
    const moments = [expiry / 2 - 1, expiry / 2, expiry / 2 + 50, expiry / 2 + 200, expiry - 1];
    const attempts: number[] = [];
    for (const at of moments) {
      clock.at(at);
      expect((await get()).accessToken).toBe(first.accessToken);
      attempts.push(fetches.length - 1);
      await settled();
    }
    expect(attempts.slice(0, 4)).toEqual([0, 1, 1, 2]);
    expect(tokens.counters.refreshFailures).toBe(fetches.length - 1);
    expect(logs.some((l) => (l as { msg: string }).msg.includes("refresh failed"))).toBe(true);

    clock.at(expiry); // expired: never served, the caller waits for a fetch and gets its error
    await expectCode(tokens.token(key("flaky"), () => creds), "ERR_UNAVAILABLE");
  });
});

describe("invalidation against oidc-provider", () => {
  it("drops every version of the secret, and only that secret", async () => {
    const idp = await server();
    const tokens = cache();
    const creds = credentials(idp.tokenUrl, "client-a", secretA);
    const v1 = await token(tokens, key("api", 1n), creds);
    const v2 = await token(tokens, key("api", 2n), creds);
    const other = await token(tokens, key("other"), creds);
    const live = await token(tokens, key("api", 2n, Mode.LIVE), creds);
    expect(idp.arrivals).toBe(4);

    tokens.invalidate(Mode.TEST, "api");
    const v1Again = await token(tokens, key("api", 1n), creds);
    const v2Again = await token(tokens, key("api", 2n), creds);
    expect(idp.arrivals).toBe(6);
    expect(v1Again.accessToken).not.toBe(v1.accessToken);
    expect(v2Again.accessToken).not.toBe(v2.accessToken);
    expect((await token(tokens, key("other"), creds)).accessToken).toBe(other.accessToken);
    expect((await token(tokens, key("api", 2n, Mode.LIVE), creds)).accessToken).toBe(live.accessToken);
    expect(idp.arrivals).toBe(6);
  });

  it("never caches a fetch that was in flight across an update, nor serves it to later callers", async () => {
    const idp = await server();
    const tokens = cache();
    const before = credentials(idp.tokenUrl, "client-a", secretA);
    const after = credentials(idp.tokenUrl, "client-b", secretB);
    const release = idp.holdNext();
    const waiting = token(tokens, key("rotating", 1n), before);
    await vi.waitFor(() => expect(idp.arrivals).toBe(1));

    // The update: the service stores version 2, then invalidates.
    tokens.invalidate(Mode.TEST, "rotating");
    const fresh = await token(tokens, key("rotating", 2n), after);
    expect(idp.arrivals).toBe(2);
    release();
    const stale = await waiting;
    // Documented: a caller that was already waiting gets the fetch it joined.
    expect(stale.accessToken).not.toBe(fresh.accessToken);
    expect(idp.requests.map((r) => r.clientId)).toEqual(["client-b", "client-a"]); // completion order

    // Nobody after the invalidation sees the stale token, even asking for the old version.
    expect((await token(tokens, key("rotating", 2n), after)).accessToken).toBe(fresh.accessToken);
    const oldVersion = await token(tokens, key("rotating", 1n), before);
    expect(oldVersion.accessToken).not.toBe(stale.accessToken);
    expect(idp.arrivals).toBe(3);
  });

  it("starts a new fetch for the same version after an invalidation during a slow fetch", async () => {
    const idp = await server();
    const tokens = cache();
    const creds = credentials(idp.tokenUrl, "client-a", secretA);
    const release = idp.holdNext();
    const waiting = token(tokens, key("same"), creds);
    await vi.waitFor(() => expect(idp.arrivals).toBe(1));
    tokens.invalidate(Mode.TEST, "same");
    const b = await token(tokens, key("same"), creds); // a fetch of its own, not the one held
    expect(idp.arrivals).toBe(2);
    release();
    const a = await waiting;
    expect(a.accessToken).not.toBe(b.accessToken);
    expect((await token(tokens, key("same"), creds)).accessToken).toBe(b.accessToken);
    expect(idp.arrivals).toBe(2);
  });
});

describe("errors through the cache", () => {
  it("answers FAILED_PRECONDITION for invalid_client and invalid_scope, and caches no failure", async () => {
    const idp = await server({ scopes: ["api:read", "api:admin"] });
    const narrow = await server({
      clients: [{ ...common, client_id: "client-a", client_secret: secretA, scope: "api:read" }],
      scopes: ["api:read", "api:admin"],
    });
    const tokens = cache();
    const wrong = canary("wrong-secret");
    for (let i = 0; i < 2; i++) {
      const error = await expectCode(tokens.token(key("bad"), () => credentials(idp.tokenUrl, "client-a", wrong)), "ERR_OAUTH_REJECTED");
      expect(error.message).toContain("invalid_client");
      expectNoCanary(error, [wrong, secretA]);
    }
    expect(idp.arrivals).toBe(2);
    const scoped = await expectCode(
      tokens.token(key("scoped"), () => credentials(narrow.tokenUrl, "client-a", secretA, { scopes: ["api:admin"] })),
      "ERR_OAUTH_REJECTED",
    );
    expect(scoped.message).toContain("invalid_scope");
    expect(tokens.counters).toEqual({ fetches: 3, hits: 0, misses: 3, refreshFailures: 0 });
  });
});

describe("token responses oidc-provider never sends", () => {
  const endpoints: FakeEndpoint[] = [];
  let serial = 0;
  const issue = (body: Record<string, unknown>) => startFakeEndpoint((_n, _req, res) => {
    const accessToken = canary(`fake-token-${++serial}`);
    issuedTokens.push(accessToken);
    json(res, 200, { access_token: accessToken, token_type: "Bearer", ...body });
  }).then((e) => {
    endpoints.push(e);
    return e;
  });
  afterAll(async () => {
    await Promise.all(endpoints.map((e) => e.stop()));
  });

  it("caches a token without expires_in for the default TTL and says so once per secret", async () => {
    const endpoint = await issue({});
    const tokens = cache({ defaultTtlMs: 60_000 });
    const creds = credentials(endpoint.url, "client", secretA);
    const warned = () => logs.filter((l) => (l as { msg: string }).msg.includes("no expires_in"));
    const already = warned().length;
    const before = Date.now();
    const first = await token(tokens, key("no-expiry", 1n), creds);
    expect(first.expiresAt?.getTime()).toBeGreaterThanOrEqual(before + 60_000);
    expect(first.expiresAt?.getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(first.tokenType).toBe("bearer");
    expect((await token(tokens, key("no-expiry", 1n), creds)).accessToken).toBe(first.accessToken);
    await token(tokens, key("no-expiry", 2n), creds);
    expect(endpoint.requests).toBe(2);
    expect(warned().length - already).toBe(1);
    await token(tokens, key("another-no-expiry"), creds);
    expect(warned().length - already).toBe(2);
  });

  it("does not cache a token with expires_in 0", async () => {
    const endpoint = await issue({ expires_in: 0 });
    const tokens = cache();
    const creds = credentials(endpoint.url, "client", secretA);
    const a = await token(tokens, key("instant"), creds);
    const b = await token(tokens, key("instant"), creds);
    expect(a.accessToken).not.toBe(b.accessToken);
    expect(endpoint.requests).toBe(2);
  });

  it("keeps at most maxEntries, evicting the least recently used", async () => {
    const endpoint = await issue({ expires_in: 300 });
    const tokens = cache({ maxEntries: 2 });
    const creds = credentials(endpoint.url, "client", secretA);
    const a = await token(tokens, key("a"), creds);
    await token(tokens, key("b"), creds);
    await token(tokens, key("a"), creds); // a is now the most recent
    await token(tokens, key("c"), creds); // evicts b
    expect(endpoint.requests).toBe(3);
    expect((await token(tokens, key("a"), creds)).accessToken).toBe(a.accessToken);
    expect(endpoint.requests).toBe(3);
    await token(tokens, key("b"), creds);
    expect(endpoint.requests).toBe(4);
  });
});
