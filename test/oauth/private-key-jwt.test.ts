import { generateKeyPairSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { AuditService } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, OAuth2AuthMethod } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { OAuth2ClientCredentials } from "../../src/gen/credbroker/v1/secret_pb.ts";

/** Some OAuth2 fields, as a test sets them. */
type Fields = Omit<Partial<OAuth2ClientCredentials>, "$typeName" | "$unknown">;
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { startTokenServer, type TokenServer } from "../support/oidc-server.ts";

const common = { grant_types: ["client_credentials"], redirect_uris: [], response_types: [], token_endpoint_auth_method: "private_key_jwt" as const };
const PKJWT = OAuth2AuthMethod.OAUTH2_AUTH_METHOD_PRIVATE_KEY_JWT;

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ed = generateKeyPairSync("ed25519");

const pem = (key: KeyObject, type: "pkcs8" | "pkcs1" | "sec1") => key.export({ format: "pem", type }).toString();
const publicJwk = (key: KeyObject, kid: string) => ({ ...key.export({ format: "jwk" }), kid });
/** The base64 body of a PEM: what a leak of the key would show. */
const pemBody = (text: string) => text.split("\n").slice(1, -2).join("");

/** A JWT's header and payload, as the token endpoint received them. */
function decodeJwt(jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = jwt.split(".").slice(0, 2).map((part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>);
  return { header: header!, payload: payload! };
}

function pkjwt(tokenUrl: string, clientId: string, more: Fields) {
  return { kind: { case: "oauth2ClientCredentials" as const, value: { clientId, tokenUrl, authMethod: PKJWT, ...more } } };
}

describe("private_key_jwt against oidc-provider, through a real broker", () => {
  let idp: TokenServer;
  let tb: TestBroker;
  let admin: Client<typeof SecretService>;
  const inject = (name: string) => tb.connect(InjectService).inject({ mode: Mode.TEST, name });

  beforeAll(async () => {
    idp = await startTokenServer({
      clients: [
        { ...common, client_id: "rsa-client", jwks: { keys: [publicJwk(rsa.publicKey, "rsa-1")] } },
        { ...common, client_id: "ec-client", jwks: { keys: [publicJwk(ec.publicKey, "ec-1")] } },
        { ...common, client_id: "ed-client", jwks: { keys: [publicJwk(ed.publicKey, "ed-1")] } },
      ],
    });
    tb = await startTestBroker();
    admin = tb.connect(SecretService, tb.adminToken);
  });
  afterAll(async () => {
    await tb.close();
    await idp.stop();
  });

  const cases: [string, string, Fields, string][] = [
    ["rsa-pkcs8", "rsa-client", { privateKey: pem(rsa.privateKey, "pkcs8"), keyId: "rsa-1" }, "RS256"],
    ["rsa-pkcs1-ps256", "rsa-client", { privateKey: pem(rsa.privateKey, "pkcs1"), signingAlg: "PS256" }, "PS256"],
    ["ec-sec1", "ec-client", { privateKey: pem(ec.privateKey, "sec1"), keyId: "ec-1" }, "ES256"],
    ["ed-jwk", "ed-client", { privateKey: JSON.stringify(ed.privateKey.export({ format: "jwk" })) }, "EdDSA"],
  ];

  it.each(cases)("gets a token with a %s key, the assertion signed as the secret says", async (name, clientId, key, alg) => {
    await admin.createSecret({ mode: Mode.TEST, name, credentials: pkjwt(idp.tokenUrl, clientId, key) });
    const res = await inject(name);
    const request = idp.requests.at(-1)!;
    expect(request).toMatchObject({ clientId, clientAuth: "assertion", status: 200 });
    expect(request.params["client_assertion_type"]).toBe("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    const { header, payload } = decodeJwt(request.params["client_assertion"]!);
    expect(header).toEqual({ alg, ...(key.keyId === undefined ? {} : { kid: key.keyId }) });
    expect(payload).toMatchObject({ iss: clientId, sub: clientId, aud: idp.tokenUrl });
    expect(Number(payload["exp"]) - Number(payload["iat"])).toBe(60);
    expect(res.material.case === "http" && res.material.value.headers[0]?.value).toBe(`Bearer ${request.accessToken}`);
  });

  it("sends the assertion audience when given, and a fresh jti on every token request", async () => {
    const issuer = new URL(idp.tokenUrl).origin;
    await admin.createSecret({
      mode: Mode.TEST,
      name: "issuer-aud",
      credentials: pkjwt(idp.tokenUrl, "ec-client", { privateKey: pem(ec.privateKey, "pkcs8"), assertionAudience: issuer }),
    });
    await inject("issuer-aud");
    const first = decodeJwt(idp.requests.at(-1)!.params["client_assertion"]!).payload;
    expect(first["aud"]).toBe(issuer);
    // a new version drops the cached token: the second request must not replay the first assertion
    await admin.updateSecret({ mode: Mode.TEST, name: "issuer-aud", description: "again" });
    await inject("issuer-aud");
    const second = idp.requests.at(-1)!;
    expect(second.status).toBe(200);
    expect(decodeJwt(second.params["client_assertion"]!).payload["jti"]).not.toBe(first["jti"]);
  });

  it("answers FAILED_PRECONDITION with invalid_client when the server does not know the key", async () => {
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    await admin.createSecret({ mode: Mode.TEST, name: "wrong-key", credentials: pkjwt(idp.tokenUrl, "ec-client", { privateKey: pem(other, "pkcs8") }) });
    const error = await inject("wrong-key").then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(error?.code).toBe(Code.FailedPrecondition);
    expect(error?.message).toContain("invalid_client");
  });

  it("keeps the keys and assertions out of logs, errors and audit events", async () => {
    const events = (await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000 })).events;
    const everywhere = tb.logs() + JSON.stringify(events, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v));
    expect(events.length).toBeGreaterThan(5);
    const d = (key: KeyObject) => String((key.export({ format: "jwk" }) as { d: string }).d);
    for (const leak of [pemBody(pem(rsa.privateKey, "pkcs8")), pemBody(pem(rsa.privateKey, "pkcs1")), pemBody(pem(ec.privateKey, "sec1")), d(rsa.privateKey), d(ec.privateKey), d(ed.privateKey)]) {
      expect(everywhere).not.toContain(leak);
    }
    for (const request of idp.requests) {
      expect(everywhere).not.toContain(request.params["client_assertion"]!.split(".")[2]);
      expect(everywhere).not.toContain(request.accessToken ?? "no token issued");
    }
  });
});
