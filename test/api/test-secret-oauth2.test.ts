import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toJsonString } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { AuditService } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { InjectService, type InjectResponse } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, OAuth2AuthMethod, OAuth2TokenBinding, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { OAuth2ClientCredentials } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService, TestSecretResponseSchema, type TestSecretResponse } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { canary } from "../support/canary.ts";
import { startTokenServer, type TokenServer } from "../support/oidc-server.ts";

type Fields = Omit<Partial<OAuth2ClientCredentials>, "$typeName" | "$unknown">;

const secretA = canary("client-secret-a");
const common = { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] };
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ecPem = ec.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
const ecPemBody = ecPem.split("\n").slice(1, -2).join("");

const oauth2 = (tokenUrl: string, more: Fields = {}) => ({
  kind: { case: "oauth2ClientCredentials" as const, value: { clientId: "client-a", clientSecret: secretA, tokenUrl, ...more } },
});
const authorization = (res: InjectResponse) => (res.material.case === "http" ? res.material.value.headers[0]?.value : undefined);

describe("TestSecret of OAuth2 secrets against oidc-provider, through a real broker", () => {
  let idp: TokenServer;
  let tb: TestBroker;
  let admin: Client<typeof SecretService>;
  const answers: TestSecretResponse[] = [];
  const test = async (request: Parameters<Client<typeof SecretService>["testSecret"]>[0]) => {
    const answer = await admin.testSecret(request);
    answers.push(answer);
    return answer;
  };

  beforeAll(async () => {
    idp = await startTokenServer({
      clients: [
        { ...common, client_id: "client-a", client_secret: secretA, scope: "api:read api:write" },
        { ...common, client_id: "jwt-client", token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [{ ...ec.publicKey.export({ format: "jwk" }), kid: "ec-1" }] } },
      ],
      scopes: ["api:read", "api:write", "api:admin"],
      ttlSeconds: 600,
    });
    tb = await startTestBroker();
    admin = tb.connect(SecretService, tb.adminToken);
  });
  afterAll(async () => {
    // canaries: no client secret, private key or issued token in any answer, log line or audit event
    const audit = (await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000 })).events;
    const seen = [...answers.map((a) => toJsonString(TestSecretResponseSchema, a)), tb.logs(), JSON.stringify(audit, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))].join("\n");
    for (const value of [secretA, ecPemBody, ...idp.requests.map((r) => r.accessToken).filter((t) => t !== undefined)]) {
      expect(seen).not.toContain(value);
    }
    await tb.close();
    await idp.stop();
  });

  it("answers the granted scopes, token type and lifetime of unsaved credentials, and audits the call without a value", async () => {
    const before = idp.arrivals;
    const answer = await test({ mode: Mode.TEST, credentials: oauth2(idp.tokenUrl, { scopes: ["api:read", "api:write"] }) });
    expect(idp.arrivals).toBe(before + 1);
    expect(answer).toMatchObject({ ok: true, type: SecretType.OAUTH2_CLIENT_CREDENTIALS });
    expect(answer.secret).toBeUndefined();
    expect(answer.result).toMatchObject({
      case: "oauth2",
      value: { granted: true, tokenType: "bearer", scopes: ["api:read", "api:write"], scopesAsRequested: false, error: "", failure: "" },
    });
    expect(answer.result.case === "oauth2" ? answer.result.value.expiresIn?.seconds : undefined).toBe(600n);
    console.log("granted:", answer.summary);
    const events = (await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000 })).events.filter((e) => e.method.endsWith("/TestSecret"));
    expect(events.map((e) => ({ code: e.code, mode: e.mode, secrets: e.secrets.length }))).toEqual([{ code: "ok", mode: Mode.TEST, secrets: 0 }]);
  });

  it("answers invalid_client as the result, not as an RPC error", async () => {
    const answer = await test({ mode: Mode.TEST, credentials: oauth2(idp.tokenUrl, { clientSecret: canary("wrong-secret") }) });
    expect(answer.ok).toBe(false);
    expect(answer.result).toMatchObject({ case: "oauth2", value: { granted: false, error: "invalid_client", failure: "ERR_OAUTH_REJECTED" } });
    console.log("invalid_client:", answer.summary);
    const scope = await test({ mode: Mode.TEST, credentials: oauth2(idp.tokenUrl, { scopes: ["api:admin"] }) });
    expect(scope.result).toMatchObject({ case: "oauth2", value: { granted: false, error: "invalid_scope" } });
  });

  it("answers an unreachable token endpoint as UNAVAILABLE in the result, after one attempt", async () => {
    const closed = await startTokenServer({ clients: [], scopes: [] });
    await closed.stop();
    const answer = await test({ mode: Mode.TEST, credentials: oauth2(closed.tokenUrl) });
    expect(answer.result).toMatchObject({ case: "oauth2", value: { granted: false, failure: "ERR_UNAVAILABLE", error: "" } });
    console.log("unreachable:", answer.summary);
  });

  it("tests a DPoP secret before it has a key, and a private_key_jwt secret", async () => {
    const dpop = await test({ mode: Mode.TEST, credentials: oauth2(idp.tokenUrl, { tokenBinding: OAuth2TokenBinding.OAUTH2_TOKEN_BINDING_DPOP }) });
    expect(dpop.result).toMatchObject({ case: "oauth2", value: { granted: true, tokenType: "dpop" } });
    expect(idp.requests.at(-1)).toMatchObject({ dpopProof: true, tokenType: "DPoP" });
    const jwt = await test({
      mode: Mode.TEST,
      credentials: oauth2(idp.tokenUrl, { clientId: "jwt-client", clientSecret: "", authMethod: OAuth2AuthMethod.OAUTH2_AUTH_METHOD_PRIVATE_KEY_JWT, privateKey: ecPem, signingAlg: "ES256", keyId: "ec-1" }),
    });
    expect(jwt.result).toMatchObject({ case: "oauth2", value: { granted: true, tokenType: "bearer" } });
    expect(idp.requests.at(-1)).toMatchObject({ clientId: "jwt-client", clientAuth: "assertion" });
  });

  it("tests a stored secret by mode and name around the token cache: a warm Inject keeps its token, a cold one makes its own request", async () => {
    await admin.createSecret({ mode: Mode.LIVE, name: "warm", credentials: oauth2(idp.tokenUrl, { scopes: ["api:read"] }) });
    const warm = authorization(await tb.connect(InjectService).inject({ mode: Mode.LIVE, name: "warm" }));
    let before = idp.arrivals;
    const stored = await test({ mode: Mode.LIVE, name: "warm" });
    expect(idp.arrivals).toBe(before + 1);
    expect(stored).toMatchObject({ ok: true, secret: { name: "warm", mode: Mode.LIVE, version: 1n } });
    expect(stored.result).toMatchObject({ case: "oauth2", value: { scopes: ["api:read"] } });
    const tested = idp.requests.at(-1)!.accessToken;
    // the cached token is served as before: the test neither replaced nor dropped it
    expect(authorization(await tb.connect(InjectService).inject({ mode: Mode.LIVE, name: "warm" }))).toBe(warm);
    expect(idp.arrivals).toBe(before + 1);
    expect(warm).not.toBe(`Bearer ${tested}`);

    await admin.createSecret({ mode: Mode.TEST, name: "cold", credentials: oauth2(idp.tokenUrl) });
    await test({ mode: Mode.TEST, name: "cold" });
    const testedCold = idp.requests.at(-1)!.accessToken;
    before = idp.arrivals;
    // the test filled no cache: the first Inject fetches a token of its own
    const cold = authorization(await tb.connect(InjectService).inject({ mode: Mode.TEST, name: "cold" }));
    expect(idp.arrivals).toBe(before + 1);
    expect(cold).toBe(`Bearer ${idp.requests.at(-1)!.accessToken}`);
    expect(cold).not.toBe(`Bearer ${testedCold}`);

    const events = (await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000 })).events.filter((e) => e.method.endsWith("/TestSecret"));
    expect(events.at(-1)).toMatchObject({ code: "ok", mode: Mode.TEST, secrets: [{ name: "cold", version: 1n }] });
  });
});
