import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { InjectRequestSchema, InjectResponseSchema, InjectService, type InjectResponse } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, OAuth2AuthMethod, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";
import { canary } from "../support/canary.ts";
import { json, startFakeEndpoint, type FakeEndpoint } from "../support/fake-endpoint.ts";
import { startTokenServer, type TokenServer } from "../support/oidc-server.ts";

const secretA = canary("client-secret-a");
const secretB = canary("client-secret-b");
const common = { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] };

function oauth2(tokenUrl: string, clientId = "client-a", clientSecret = secretA, extra: { scopes?: string[]; authMethod?: OAuth2AuthMethod } = {}) {
  return { kind: { case: "oauth2ClientCredentials" as const, value: { clientId, clientSecret, tokenUrl, ...extra } } };
}

const authorization = (res: InjectResponse) =>
  res.material.case === "http" ? res.material.value.headers.find((h) => h.name === "Authorization")?.value : undefined;

describe("Inject of OAuth2 client-credentials secrets, against oidc-provider", () => {
  let idp: TokenServer;
  let tb: TestBroker;
  let admin: Client<typeof SecretService>;
  const inject = (name: string, mode: Mode = Mode.TEST, step: StepKind = StepKind.UNSPECIFIED) =>
    tb.connect(InjectService).inject({ mode, name, step });

  beforeAll(async () => {
    idp = await startTokenServer({
      clients: [
        // api:admin exists but is not granted to these clients: asking for it is invalid_scope
        { ...common, client_id: "client-a", client_secret: secretA, scope: "api:read api:write" },
        { ...common, client_id: "client-b", client_secret: secretB, scope: "api:read api:write" },
      ],
      scopes: ["api:read", "api:write", "api:admin"],
      ttlSeconds: 600,
    });
    tb = await startTestBroker();
    admin = tb.connect(SecretService, tb.adminToken);
  });
  afterAll(async () => {
    await tb.close();
    await idp.stop();
  });

  it("answers the HTTP Authorization header and the Code fields from a fetched token, never the client secret", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "crm", credentials: oauth2(idp.tokenUrl, "client-a", secretA, { scopes: ["api:read"] }) });
    const before = idp.arrivals;
    const http = await inject("crm");
    const request = idp.requests.at(-1)!;
    expect(request).toMatchObject({ clientId: "client-a", clientAuth: "basic", grantedScope: "api:read", status: 200 });
    expect(authorization(http)).toBe(`Bearer ${request.accessToken}`);
    const expiresIn = Number(http.expireTime?.seconds) - Date.now() / 1000;
    expect(expiresIn).toBeGreaterThan(590);
    expect(expiresIn).toBeLessThanOrEqual(600);
    const code = await inject("crm", Mode.TEST, StepKind.CODE);
    expect(code.material.case === "code" && code.material.value.fields).toEqual({ accessToken: request.accessToken, tokenType: "Bearer" });
    expect(idp.arrivals - before).toBe(1);
    expect(JSON.stringify([http, code], (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain(secretA);
  });

  it("authenticates with client_secret_post when the secret says so", async () => {
    await admin.createSecret({
      mode: Mode.TEST,
      name: "posted",
      credentials: oauth2(idp.tokenUrl, "client-b", secretB, { authMethod: OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_POST }),
    });
    await inject("posted");
    expect(idp.requests.at(-1)).toMatchObject({ clientId: "client-b", clientAuth: "post", status: 200 });
  });

  it("shares one token request among 200 concurrent cold Injects over classic gRPC", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "cold", credentials: oauth2(idp.tokenUrl) });
    const before = idp.arrivals;
    const client = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    const results = await Promise.all(
      Array.from({ length: 200 }, () => client.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "cold" })),
    );
    client.close();
    expect(idp.arrivals - before).toBe(1);
    const headers = new Set(results.map((r) => (r.ok ? authorization(r.message) : `error ${r.code}`)));
    expect([...headers]).toEqual([`Bearer ${idp.requests.at(-1)!.accessToken}`]);
  });

  it("drops the token on update, deploy and delete", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "rotating", credentials: oauth2(idp.tokenUrl) });
    const first = authorization(await inject("rotating"));
    expect(authorization(await inject("rotating"))).toBe(first);
    await admin.updateSecret({ mode: Mode.TEST, name: "rotating", credentials: oauth2(idp.tokenUrl, "client-b", secretB) });
    const second = authorization(await inject("rotating"));
    expect(second).not.toBe(first);
    expect(idp.requests.at(-1)?.clientId).toBe("client-b");

    await admin.deploySecrets({ names: ["rotating"] });
    const live = authorization(await inject("rotating", Mode.LIVE));
    expect(live).not.toBe(second);
    await admin.updateSecret({ mode: Mode.TEST, name: "rotating", credentials: oauth2(idp.tokenUrl) });
    await admin.deploySecrets({ names: ["rotating"] });
    const redeployed = authorization(await inject("rotating", Mode.LIVE));
    expect(redeployed).not.toBe(live);
    expect(idp.requests.at(-1)?.clientId).toBe("client-a");

    await admin.deleteSecret({ mode: Mode.TEST, name: "rotating" });
    await expect(inject("rotating")).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("never serves the old credentials' token once an update has returned, even from a fetch in flight", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "racing", credentials: oauth2(idp.tokenUrl, "client-a") });
    const arrived = idp.arrivals;
    const release = idp.holdNext();
    const pending = inject("racing");
    await vi.waitFor(() => expect(idp.arrivals).toBe(arrived + 1)); // client-a's fetch is in flight
    await admin.updateSecret({ mode: Mode.TEST, name: "racing", credentials: oauth2(idp.tokenUrl, "client-b", secretB) });
    release();
    const answered = authorization(await pending);
    const issuedTo = idp.requests.find((r) => `Bearer ${r.accessToken}` === answered)?.clientId;
    expect(issuedTo).toBe("client-b");
    expect(authorization(await inject("racing"))).toBe(answered);
  });

  it("answers FAILED_PRECONDITION with the OAuth error code when the endpoint rejects the client, and never echoes the secret", async () => {
    const wrong = canary("wrong-secret");
    await admin.createSecret({ mode: Mode.TEST, name: "rejected", credentials: oauth2(idp.tokenUrl, "client-a", wrong) });
    const error = ConnectError.from(await inject("rejected").catch((e: unknown) => e));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toContain("invalid_client");
    expect(error.rawMessage).not.toContain(wrong);
    await admin.createSecret({ mode: Mode.TEST, name: "bad-scope", credentials: oauth2(idp.tokenUrl, "client-a", secretA, { scopes: ["api:admin"] }) });
    const scope = ConnectError.from(await inject("bad-scope").catch((e: unknown) => e));
    expect(scope.code).toBe(Code.FailedPrecondition);
    expect(scope.rawMessage).toContain("invalid_scope");
    expect(tb.logs()).not.toContain(wrong);
  });

  it("answers UNAVAILABLE when the token endpoint is down, over gRPC too", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "down", credentials: oauth2("http://127.0.0.1:9/token") });
    const client = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    const res = await client.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "down" });
    client.close();
    expect(res).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
  });

  it("refuses the SFTP step for an OAuth2 secret", async () => {
    await expect(inject("crm", Mode.TEST, StepKind.SFTP)).rejects.toMatchObject({ code: Code.FailedPrecondition });
  });

  it("keeps client secrets and access tokens out of the broker's log", () => {
    const logs = tb.logs();
    for (const value of [secretA, secretB, ...idp.requests.map((r) => r.accessToken).filter((t) => t !== undefined)]) {
      expect(logs).not.toContain(value);
    }
  });
});

describe("Inject against token endpoints that misbehave", () => {
  const issued = canary("issued-token");
  const clientId = "echo-client-\u00fc";
  // every character that some encoding changes: form, percent, base64 and non-ASCII
  const secret = `CS_s3cr3t+/=&% \u00fc\u20ac~!*'()-${randomUUID()}`;
  let endpoint: FakeEndpoint;
  let tb: TestBroker;
  let admin: Client<typeof SecretService>;
  /** Requests per path (a path per test), and what each request carried. */
  const counts = new Map<string, number>();
  const received: { authorization: string; body: string }[] = [];
  /** Per path: the answer to request number n of that path. */
  const answers = new Map<string, (n: number, req: IncomingMessage, body: string) => { status: number; body: unknown }>();
  const inject = (name: string, step: StepKind = StepKind.UNSPECIFIED) => tb.connect(InjectService).inject({ mode: Mode.TEST, name, step });
  const failure = async (name: string) => ConnectError.from(await inject(name).then(() => new Error("expected a rejection"), (e: unknown) => e));
  async function secretAt(path: string, answer: (n: number, req: IncomingMessage, body: string) => { status: number; body: unknown }, post = false) {
    answers.set(path, answer);
    const name = `misbehaving-${path}`;
    await admin.createSecret({
      mode: Mode.TEST,
      name,
      credentials: oauth2(`${endpoint.url}/${path}`, clientId, secret, post ? { authMethod: OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_POST } : {}),
    });
    return name;
  }
  let paths = 0;
  const good = { status: 200, body: { access_token: issued, token_type: "Bearer", expires_in: 600 } };

  beforeAll(async () => {
    endpoint = await startFakeEndpoint((_n, req, res, body) => {
      const path = new URL(req.url ?? "/", "http://x").pathname.split("/").at(-1) ?? "";
      const n = (counts.get(path) ?? 0) + 1;
      counts.set(path, n);
      received.push({ authorization: req.headers.authorization ?? "", body });
      const answer = answers.get(path)?.(n, req, body) ?? { status: 404, body: { error: "not_found" } };
      json(res, answer.status, answer.body);
    });
    tb = await startTestBroker();
    admin = tb.connect(SecretService, tb.adminToken);
  });
  afterAll(async () => {
    await tb.close();
    await endpoint.stop();
  });

  it.each([
    ["CR LF and a header", { access_token: "AT\r\nX-Injected: yes", token_type: "Bearer" }],
    ["a space", { access_token: "AT X-Injected", token_type: "Bearer" }],
    ["a NUL", { access_token: "AT\u0000X-Injected", token_type: "Bearer" }],
    ["non-ASCII", { access_token: "AT\u00e9X-Injected", token_type: "Bearer" }],
    ["padding inside (not a b64token)", { access_token: "AT=X-Injected", token_type: "Bearer" }],
    ["a token type with CR LF", { access_token: "ATX-Injected", token_type: "Bearer\r\nX-Injected: yes" }],
  ])("refuses an access token (or type) with %s as UNAVAILABLE, caches nothing, and never quotes it", async (_label, token) => {
    const path = `bad-token-${++paths}`;
    const name = await secretAt(path, (n) => (n === 1 ? { status: 200, body: { ...token, expires_in: 600 } } : good));
    const error = await failure(name);
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).not.toContain("X-Injected");
    // nothing cached: the next Inject asks again and gets the good token
    const http = await inject(name);
    expect(authorization(http)).toBe(`Bearer ${issued}`);
    expect(counts.get(path)).toBe(2);
    expect(tb.logs()).not.toContain("X-Injected");
  });

  it("clamps expires_in 1e15 to a year, serves it, and serves it again from the cache", async () => {
    const name = await secretAt("huge-lifetime", () => ({ status: 200, body: { access_token: issued, token_type: "Bearer", expires_in: 1e15 } }));
    const first = await inject(name);
    expect(authorization(first)).toBe(`Bearer ${issued}`);
    const year = 365 * 24 * 3600;
    const left = Number(first.expireTime?.seconds) - Date.now() / 1000;
    expect(left).toBeGreaterThan(year - 60);
    expect(left).toBeLessThanOrEqual(year);
    const code = await inject(name, StepKind.CODE);
    expect(code.expireTime?.seconds).toBe(first.expireTime?.seconds);
    expect(counts.get("huge-lifetime")).toBe(1);
  });

  it("keeps a plain error_description and the OAuth error code", async () => {
    const name = await secretAt("plain-description", () => ({ status: 401, body: { error: "invalid_client", error_description: "client is disabled" } }));
    const error = await failure(name);
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toContain("invalid_client: client is disabled");
  });

  /** The Basic credentials as the endpoint received them, base64-decoded (still form-encoded). */
  const basicOf = (req: IncomingMessage): string => {
    const header = req.headers.authorization ?? "";
    return header.toLowerCase().startsWith("basic ") ? Buffer.from(header.slice(6), "base64").toString("utf8") : "";
  };
  const basic = ["client_secret_basic"];
  const post = ["client_secret_post"];
  const both = [...basic, ...post];
  /** What an endpoint echoes, and for which methods the echo carries a credential. */
  const echoes: [string, string[], (req: IncomingMessage, body: string) => string][] = [
    ["the Authorization header", basic, (req) => req.headers.authorization ?? ""],
    ["the Authorization header cut short", basic, (req) => (req.headers.authorization ?? "").slice(0, 30)],
    ["the Basic credentials decoded", basic, (req) => basicOf(req)],
    ["the Basic credentials in base64url", basic, (req) => Buffer.from(basicOf(req), "utf8").toString("base64url")],
    ["the form body", post, (_req, body) => body],
    ["the form body cut short", post, (_req, body) => body.slice(body.indexOf("client_secret"), body.indexOf("client_secret") + 30)],
    ["the secret decoded", both, (req, body) =>
      new URLSearchParams(body).get("client_secret") ?? decodeURIComponent((basicOf(req).split(":")[1] ?? "").replaceAll("+", " "))],
    ["the secret percent-encoded", both, () => encodeURIComponent(secret)],
    ["base64 of the raw id:secret", both, () => Buffer.from(`${clientId}:${secret}`, "utf8").toString("base64")],
  ];
  it.each(echoes.flatMap(([echo, carries, answer]) => both.map((method) => ({ echo, method, carries: carries.includes(method), answer }))))(
    "keeps every form of the credentials out of the error and the log when the endpoint echoes $echo ($method)",
    async ({ method, carries, answer }) => {
      const path = `echo-${++paths}`;
      let echoed = "";
      const name = await secretAt(path, (_n, req, body) => {
        echoed = answer(req, body);
        return { status: 401, body: { error: "invalid_client", error_description: `unknown client; request was ${echoed}` } };
      }, method === "client_secret_post");
      const error = await failure(name);
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.rawMessage).toContain("invalid_client");
      const sent = received.at(-1)!;
      const forms = [
        secret,
        encodeURIComponent(secret),
        new URLSearchParams({ s: secret }).toString().slice(2),
        Buffer.from(`${clientId}:${secret}`, "utf8").toString("base64"),
        Buffer.from(`${clientId}:${secret}`, "utf8").toString("base64url"),
        // exactly what went over the wire: the Basic credentials, or the form-encoded client_secret
        ...(method === "client_secret_basic"
          ? [sent.authorization.slice(6), basicOf({ headers: { authorization: sent.authorization } } as IncomingMessage)]
          : [sent.body.slice(sent.body.indexOf("client_secret=") + 14).split("&")[0]!]),
        ...(carries ? [echoed] : []),
      ];
      const logs = tb.logs();
      for (const form of forms) {
        expect(error.rawMessage).not.toContain(form);
        expect(logs).not.toContain(form);
      }
    },
  );
});
