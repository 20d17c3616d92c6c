import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTokenFetcher } from "../../src/oauth/token-fetch.ts";
import type { TokenFetcherOptions } from "../../src/oauth/token-fetch.ts";
import { canary, credentials, expectCode, expectNoCanary } from "../support/canary.ts";
import { closedPortUrl, json, startFakeEndpoint } from "../support/fake-endpoint.ts";
import type { FakeEndpoint, FakeHandler } from "../support/fake-endpoint.ts";
import { startTokenServer } from "../support/oidc-server.ts";
import type { TokenServer } from "../support/oidc-server.ts";
import { createTestPki, fetchTrusting } from "../support/tls.ts";
import type { TestPki } from "../support/tls.ts";

const API = "https://api.example.test/";
const basicSecret = canary("basic-secret");
const postSecret = canary("post-secret");
const narrowSecret = canary("narrow-secret");
const fast: TokenFetcherOptions = { timeoutMs: 3_000, retryBackoff: { baseMs: 20, maxMs: 50 } };

function clients() {
  const common = { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] };
  return [
    { ...common, client_id: "basic-client", client_secret: basicSecret, token_endpoint_auth_method: "client_secret_basic" as const, scope: "api:read api:write" },
    { ...common, client_id: "post-client", client_secret: postSecret, token_endpoint_auth_method: "client_secret_post" as const, scope: "api:read api:write" },
    { ...common, client_id: "narrow-client", client_secret: narrowSecret, scope: "api:read" },
  ];
}

/** Decodes a JWT access token's claims (the test trusts its own server). */
function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
}

describe("token fetch against oidc-provider over http", () => {
  let server: TokenServer;
  const fetchToken = createTokenFetcher(fast);

  beforeAll(async () => {
    server = await startTokenServer({
      clients: clients(),
      scopes: ["api:read", "api:write", "api:admin"],
      ttlSeconds: 120,
      resources: { [API]: "api:read api:write" },
    });
  });
  afterAll(() => server.stop());

  it("authenticates with client_secret_basic by default and grants the scopes asked for", async () => {
    const before = server.requests.length;
    const token = await fetchToken(credentials(server.tokenUrl, "basic-client", basicSecret, { scopes: ["api:read", "api:write"] }));
    expect(token.tokenType).toBe("bearer");
    expect(token.expiresIn).toBe(120);
    expect(token.accessToken.length).toBeGreaterThan(10);
    const [request] = server.requests.slice(before);
    expect(request?.clientAuth).toBe("basic");
    expect(request?.params["scope"]).toBe("api:read api:write");
    expect(request?.grantedScope).toBe("api:read api:write");
  });

  it("authenticates with client_secret_post when the secret says so", async () => {
    const before = server.requests.length;
    const token = await fetchToken(credentials(server.tokenUrl, "post-client", postSecret, { scopes: ["api:read"], post: true }));
    expect(token.tokenType).toBe("bearer");
    const [request] = server.requests.slice(before);
    expect(request?.clientAuth).toBe("post");
    expect(request?.params["client_id"]).toBe("post-client");
    expect(request?.grantedScope).toBe("api:read");
  });

  it("is refused with invalid_client by a server that accepts client_secret_basic only", async () => {
    // oidc-provider 9 accepts the Authorization header from any secret-based
    // client whatever its registered method, so only a basic-only server can
    // refuse one of the two: the post-only direction is not testable with it.
    const strict = await startTokenServer({
      clients: [{
        client_id: "strict-client",
        client_secret: basicSecret,
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
      }],
      clientAuthMethods: ["client_secret_basic"],
    });
    try {
      const accepted = await fetchToken(credentials(strict.tokenUrl, "strict-client", basicSecret));
      expect(accepted.tokenType).toBe("bearer");
      const refused = await expectCode(
        fetchToken(credentials(strict.tokenUrl, "strict-client", basicSecret, { post: true })),
        "ERR_OAUTH_REJECTED",
      );
      expect(refused.message).toContain("invalid_client");
      expectNoCanary(refused, [basicSecret]);
      expect(strict.requests.map((r) => [r.clientAuth, r.status])).toEqual([["basic", 200], ["post", 401]]);
    } finally {
      await strict.stop();
    }
  });

  it("sends a resource indicator, which becomes the JWT access token's audience", async () => {
    const before = server.requests.length;
    const token = await fetchToken(credentials(server.tokenUrl, "basic-client", basicSecret, { scopes: ["api:read"], resource: API }));
    const claims = jwtClaims(token.accessToken);
    expect(claims["aud"]).toBe(API);
    expect(claims["scope"]).toBe("api:read");
    expect(server.requests.slice(before)[0]?.params["resource"]).toBe(API);
  });

  it("sends the audience parameter", async () => {
    const before = server.requests.length;
    await fetchToken(credentials(server.tokenUrl, "basic-client", basicSecret, { audience: "payments-api" }));
    expect(server.requests.slice(before)[0]?.params["audience"]).toBe("payments-api");
  });

  it("answers FAILED_PRECONDITION with invalid_client for a wrong secret, and never shows either secret", async () => {
    const wrong = canary("wrong-secret");
    for (const post of [false, true]) {
      const error = await expectCode(
        fetchToken(credentials(server.tokenUrl, post ? "post-client" : "basic-client", wrong, { post })),
        "ERR_OAUTH_REJECTED",
      );
      expect(error.message).toContain("invalid_client");
      expectNoCanary(error, [wrong, basicSecret, postSecret]);
    }
  });

  it("answers FAILED_PRECONDITION with invalid_scope for a scope the client may not have", async () => {
    const arrivals = server.arrivals;
    const error = await expectCode(
      fetchToken(credentials(server.tokenUrl, "narrow-client", narrowSecret, { scopes: ["api:admin"] })),
      "ERR_OAUTH_REJECTED",
    );
    expect(error.message).toContain("invalid_scope");
    expect(server.arrivals - arrivals).toBe(1); // an OAuth rejection is not retried
    expectNoCanary(error, [narrowSecret]);
  });

  it("answers FAILED_PRECONDITION with invalid_target for an unknown resource", async () => {
    const error = await expectCode(
      fetchToken(credentials(server.tokenUrl, "basic-client", basicSecret, { resource: "https://unknown.example.test/" })),
      "ERR_OAUTH_REJECTED",
    );
    expect(error.message).toContain("invalid_target");
  });

  it("refuses plain http to a non-loopback host without sending anything", async () => {
    await expectCode(
      fetchToken(credentials("http://idp.example.test/token", "basic-client", basicSecret)),
      "ERR_STORED_FIELD_INVALID",
    );
  });
});

describe("token fetch against oidc-provider over https with a private CA", () => {
  let pki: TestPki;
  let server: TokenServer;

  beforeAll(async () => {
    pki = await createTestPki();
    server = await startTokenServer({
      clients: clients(),
      scopes: ["api:read", "api:write"],
      ttlSeconds: 60,
      tls: { key: pki.key, cert: pki.cert },
    });
  });
  afterAll(() => server.stop());

  it("fetches a token through a fetch that trusts the CA, with either client auth method", async () => {
    expect(server.tokenUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/token$/);
    const fetchToken = createTokenFetcher({ ...fast, fetch: fetchTrusting(pki.ca) });
    const basic = await fetchToken(credentials(server.tokenUrl, "basic-client", basicSecret, { scopes: ["api:write"] }));
    const post = await fetchToken(credentials(server.tokenUrl, "post-client", postSecret, { post: true }));
    expect(basic.expiresIn).toBe(60);
    expect(post.tokenType).toBe("bearer");
    expect(server.requests.map((r) => r.clientAuth)).toEqual(["basic", "post"]);
    expect(server.requests[0]?.grantedScope).toBe("api:write");
  });

  it("answers UNAVAILABLE, without retrying, when the certificate is not trusted", async () => {
    const failures = server.tlsFailures;
    const arrivals = server.arrivals;
    const error = await expectCode(
      createTokenFetcher(fast)(credentials(server.tokenUrl, "basic-client", basicSecret)),
      "ERR_UNAVAILABLE",
    );
    expect(server.arrivals).toBe(arrivals);
    // The server sees the aborted handshake a moment after the client gives up.
    await vi.waitFor(() => expect(server.tlsFailures - failures).toBeGreaterThan(0));
    await sleep(200);
    expect(server.tlsFailures - failures).toBe(1);
    expectNoCanary(error, [basicSecret]);
  });
});

describe("token fetch against a failing endpoint", () => {
  const secret = canary("fake-secret");
  const issued = canary("fake-token");
  const endpoints: FakeEndpoint[] = [];
  const start = async (handle: FakeHandler): Promise<FakeEndpoint> => {
    const endpoint = await startFakeEndpoint(handle);
    endpoints.push(endpoint);
    return endpoint;
  };
  const creds = (url: string) => credentials(url, "client", secret);
  afterAll(async () => {
    await Promise.all(endpoints.map((e) => e.stop()));
  });

  it("answers UNAVAILABLE within the timeout when the endpoint is down", async () => {
    const url = await closedPortUrl();
    const started = Date.now();
    const error = await expectCode(createTokenFetcher({ timeoutMs: 2_000 })(creds(url)), "ERR_UNAVAILABLE");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.message).toContain("ECONNREFUSED");
    expectNoCanary(error, [secret]);
  });

  it("answers UNAVAILABLE once the deadline passes on an endpoint that never answers", async () => {
    const endpoint = await start(() => {});
    const started = Date.now();
    const error = await expectCode(createTokenFetcher({ timeoutMs: 400 })(creds(endpoint.url)), "ERR_UNAVAILABLE");
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(2_000);
    expect(error.message).toContain("timed out");
    expect(endpoint.requests).toBe(1); // the deadline covers retries too
  });

  it("retries a 5xx a bounded number of times, then answers UNAVAILABLE", async () => {
    const endpoint = await start((_n, _req, res) => {
      res.writeHead(503, { "content-type": "text/html" });
      res.end("<h1>down for maintenance</h1>");
    });
    const error = await expectCode(createTokenFetcher(fast)(creds(endpoint.url)), "ERR_UNAVAILABLE");
    expect(endpoint.requests).toBe(3);
    expect(error.message).toContain("503");
  });

  it("retries a 500 that carries an OAuth server_error body", async () => {
    const endpoint = await start((_n, _req, res) => json(res, 500, { error: "server_error" }));
    const error = await expectCode(createTokenFetcher({ ...fast, maxAttempts: 2 })(creds(endpoint.url)), "ERR_UNAVAILABLE");
    expect(endpoint.requests).toBe(2);
    expect(error.message).toContain("500");
  });

  it("retries a 429 and succeeds when the endpoint recovers", async () => {
    const endpoint = await start((n, _req, res) =>
      n === 1
        ? json(res, 429, { error: "slow_down" }, { "retry-after": "0" })
        : json(res, 200, { access_token: issued, token_type: "Bearer", expires_in: 60 }));
    const token = await createTokenFetcher(fast)(creds(endpoint.url));
    expect(token).toEqual({ accessToken: issued, tokenType: "bearer", expiresIn: 60 });
    expect(endpoint.requests).toBe(2);
  });

  it("does not retry a 4xx that is not an OAuth error", async () => {
    const endpoint = await start((_n, _req, res) => {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    });
    await expectCode(createTokenFetcher(fast)(creds(endpoint.url)), "ERR_OAUTH_NOT_TOKEN_ENDPOINT");
    expect(endpoint.requests).toBe(1);
  });

  it.each([
    ["a body that is not JSON", "text/html", "<html>login</html>"],
    ["a JSON body that is not an object", "application/json", JSON.stringify([issued])],
    ["no access_token", "application/json", JSON.stringify({ token_type: "Bearer", expires_in: 60 })],
    ["no token_type", "application/json", JSON.stringify({ access_token: issued, expires_in: 60 })],
    ["a non-numeric expires_in", "application/json", JSON.stringify({ access_token: issued, token_type: "Bearer", expires_in: "soon" })],
    ["a negative expires_in", "application/json", JSON.stringify({ access_token: issued, token_type: "Bearer", expires_in: -5 })],
  ])("answers UNAVAILABLE for a malformed token response: %s, without retrying or leaking", async (_name, type, body) => {
    const endpoint = await start((_n, _req, res) => {
      res.writeHead(200, { "content-type": type });
      res.end(body);
    });
    const error = await expectCode(createTokenFetcher(fast)(creds(endpoint.url)), "ERR_UNAVAILABLE");
    expect(error.message).toContain("malformed token response");
    expect(endpoint.requests).toBe(1);
    expectNoCanary(error, [secret, issued]);
  });

  it("refuses a DPoP token with FAILED_PRECONDITION, and an unknown token type too", async () => {
    for (const tokenType of ["DPoP", "mac"]) {
      const endpoint = await start((_n, _req, res) => json(res, 200, { access_token: issued, token_type: tokenType, expires_in: 60 }));
      const error = await expectCode(createTokenFetcher(fast)(creds(endpoint.url)), "ERR_OAUTH_TOKEN_TYPE");
      expect(error.message.toLowerCase()).toContain(tokenType.toLowerCase());
      expectNoCanary(error, [secret, issued]);
    }
  });

  it("reads the OAuth error from the body behind a realm-only WWW-Authenticate challenge", async () => {
    const endpoint = await start((_n, _req, res) =>
      json(res, 401, { error: "invalid_client", error_description: "unknown client" }, { "www-authenticate": 'Basic realm="idp"' }));
    const error = await expectCode(createTokenFetcher(fast)(creds(endpoint.url)), "ERR_OAUTH_REJECTED");
    expect(error.message).toContain("invalid_client: unknown client");
    expect(error.message).not.toContain("challenge");
    expect(endpoint.requests).toBe(1);
  });

  it("prefers the body's error to the challenge's, and withholds what echoes the secret there too", async () => {
    const endpoint = await start((_n, _req, res) =>
      json(res, 401, { error: "invalid_client", error_description: `secret ${secret} unknown` }, {
        "www-authenticate": 'Basic realm="idp", error="invalid_token"',
      }));
    const error = await expectCode(createTokenFetcher(fast)(creds(endpoint.url)), "ERR_OAUTH_REJECTED");
    expect(error.message).toContain("invalid_client: (error_description withheld)");
    expectNoCanary(error, [secret]);
  });

  it("still names the challenge when the body holds no OAuth error", async () => {
    const endpoint = await start((_n, _req, res) => {
      res.writeHead(401, { "www-authenticate": 'Basic realm="idp"', "content-type": "text/html" });
      res.end("<h1>401</h1>");
    });
    const error = await expectCode(createTokenFetcher(fast)(creds(endpoint.url)), "ERR_OAUTH_REJECTED");
    expect(error.message).toContain("basic challenge");
  });

  it("reads an OAuth error body sent without a JSON content type", async () => {
    const endpoint = await start((_n, _req, res) => {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end(JSON.stringify({ error: "invalid_scope" }));
    });
    const error = await expectCode(createTokenFetcher(fast)(creds(endpoint.url)), "ERR_OAUTH_REJECTED");
    expect(error.message).toContain("invalid_scope");
  });

  it("withholds an error_description that echoes the client secret, keeping the OAuth error code", async () => {
    const endpoint = await start((_n, _req, res) =>
      json(res, 400, { error: "invalid_request", error_description: `bad secret ${secret} for client` }));
    const error = await expectCode(createTokenFetcher(fast)(creds(endpoint.url)), "ERR_OAUTH_REJECTED");
    expect(error.message).toContain("invalid_request");
    expect(error.message).toContain("error_description withheld");
    expectNoCanary(error, [secret]);
  });

  it("withholds an error code that echoes the client secret, or is not an RFC 6749 error code", async () => {
    for (const code of [`bad_${secret}`, "bad\"code", "x".repeat(65)]) {
      const endpoint = await start((_n, _req, res) => json(res, 400, { error: code }));
      const error = await expectCode(createTokenFetcher(fast)(creds(endpoint.url)), "ERR_OAUTH_REJECTED");
      expect(error.message).toContain("unknown_error");
      expectNoCanary(error, [secret]);
    }
  });
});
