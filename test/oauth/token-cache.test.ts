import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { CredbrokerError } from "../../src/errors.ts";
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
import { createTestPki, fetchTrusting } from "../support/tls.ts";

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
  let pki: ReturnType<typeof createTestPki> | undefined;
  beforeAll(() => {
    pki = tls ? createTestPki() : undefined;
  });

  it("200 concurrent cold calls make exactly one token request and get the same token", async () => {
    const idp = await server(pki === undefined ? {} : { tls: { key: pki.key, cert: pki.cert } });
    idp.delayMs = 100;
    const tokens = cache({
      fetchToken: createTokenFetcher({ ...quickFetch, ...(pki === undefined ? {} : { fetch: fetchTrusting(pki.ca) }) }),
    });
    const creds = credentials(idp.tokenUrl, "client-a", secretA);
    const before = Date.now();
    const results = await Promise.all(Array.from({ length: 200 }, () => token(tokens, key("stripe"), creds)));
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

describe("refresh ahead against oidc-provider", () => {
  it("fetches the next token in the background after half of a short lifetime, and never serves an expired one", async () => {
    const idp = await server({ ttlSeconds: 4 });
    const tokens = cache();
    const creds = credentials(idp.tokenUrl, "client-a", secretA);
    const first = await token(tokens, key("short"), creds);
    const firstExpiry = first.expiresAt?.getTime() ?? 0;
    idp.delayMs = 300; // a slow refresh, during which callers must keep getting the current token
    const seen: { at: number; token: AccessToken }[] = [];
    while (Date.now() < firstExpiry + 300) {
      const t = await token(tokens, key("short"), creds);
      seen.push({ at: Date.now(), token: t });
      await sleep(40);
    }

    for (const { at, token: t } of seen) {
      expect(t.expiresAt?.getTime() ?? 0).toBeGreaterThan(at);
    }
    const [firstArrival, secondArrival] = idp.requests.map((r) => r.arrivedAt);
    expect(secondArrival).toBeDefined();
    // Never before half the lifetime (2 s); the 100 ms allow for the first request's own latency.
    expect((secondArrival ?? 0) - (firstArrival ?? 0)).toBeGreaterThanOrEqual(1_900);
    // One refresh, not a storm: the next one is due 2 s after the second token at the earliest.
    expect(idp.requests.filter((r) => r.arrivedAt < (firstArrival ?? 0) + 3_900)).toHaveLength(2);
    const renewed = seen.find((s) => s.token.accessToken !== first.accessToken);
    expect(renewed).toBeDefined();
    expect(renewed?.at ?? Infinity).toBeLessThan(firstExpiry);
    // While the refresh was in flight, callers were served the current token without waiting.
    expect(seen.some((s) => s.token.accessToken === first.accessToken && s.at > (secondArrival ?? Infinity))).toBe(true);
    expect(tokens.counters.refreshFailures).toBe(0);
    expect(tokens.counters.misses).toBe(1);
  });

  it("keeps serving a valid token while refreshes fail, then answers UNAVAILABLE once it expires", async () => {
    const idp = await server({ ttlSeconds: 3 });
    const tokens = cache({ refreshBackoff: { baseMs: 200, maxMs: 400 } });
    const creds = credentials(idp.tokenUrl, "client-a", secretA);
    const first = await token(tokens, key("flaky"), creds);
    const expiry = first.expiresAt?.getTime() ?? 0;
    await idp.stop();

    const outcomes: { calledAt: number; at: number; value: string }[] = [];
    while (Date.now() < expiry + 600) {
      const calledAt = Date.now();
      const value = await tokens.token(key("flaky"), () => creds).then(
        (t) => t.accessToken,
        (e: unknown) => (e instanceof CredbrokerError ? e.code : "other"),
      );
      outcomes.push({ calledAt, at: Date.now(), value });
      await sleep(40);
    }

    for (const o of outcomes) {
      if (o.value === first.accessToken) {
        expect(o.at).toBeLessThan(expiry); // never an expired token
      } else {
        expect(o.value).toBe("ERR_UNAVAILABLE");
        expect(o.calledAt).toBeGreaterThanOrEqual(expiry);
      }
    }
    expect(outcomes.filter((o) => o.calledAt < expiry - 50).every((o) => o.value === first.accessToken)).toBe(true);
    expect(outcomes.some((o) => o.value === "ERR_UNAVAILABLE")).toBe(true);
    expect(tokens.counters.refreshFailures).toBeGreaterThanOrEqual(2); // retried with backoff
    expect(logs.some((l) => (l as { msg: string }).msg.includes("refresh failed"))).toBe(true);
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
    idp.delayMs = 500;
    const waiting = token(tokens, key("rotating", 1n), before);
    await vi.waitFor(() => expect(idp.arrivals).toBe(1));

    // The update: the service stores version 2, then invalidates.
    tokens.invalidate(Mode.TEST, "rotating");
    idp.delayMs = 0;
    const fresh = await token(tokens, key("rotating", 2n), after);
    expect(idp.arrivals).toBe(2);
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
    idp.delayMs = 400;
    const waiting = token(tokens, key("same"), creds);
    await vi.waitFor(() => expect(idp.arrivals).toBe(1));
    tokens.invalidate(Mode.TEST, "same");
    const next = token(tokens, key("same"), creds);
    expect(idp.arrivals).toBeLessThanOrEqual(2);
    const [a, b] = await Promise.all([waiting, next]);
    expect(idp.arrivals).toBe(2);
    expect(a.accessToken).not.toBe(b.accessToken);
    idp.delayMs = 0;
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
