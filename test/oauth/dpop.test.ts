import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { AuditService } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.ts";
import { fromJsonString } from "@bufbuild/protobuf";
import { InjectResponseSchema, InjectService, type InjectResponse } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, OAuth2TokenBinding, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { runCli } from "../support/run-cli.ts";
import { canary } from "../support/canary.ts";
import { jwkThumbprint, startDpopResourceServer, type DpopResourceServer } from "../support/dpop-resource-server.ts";
import { startTokenServer, type TokenServer } from "../support/oidc-server.ts";

const secret = canary("dpop-client-secret");
const rsSecret = canary("rs-secret");
const common = { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] };
const DPOP = OAuth2TokenBinding.OAUTH2_TOKEN_BINDING_DPOP;

const dpopCredentials = (tokenUrl: string, dpopPrivateKey = "") => ({
  kind: { case: "oauth2ClientCredentials" as const, value: { clientId: "dpop-client", clientSecret: secret, tokenUrl, tokenBinding: DPOP, dpopPrivateKey } },
});

const headersOf = (res: InjectResponse) => (res.material.case === "http" ? res.material.value.headers : []);
const header = (res: InjectResponse, name: string) => headersOf(res).find((h) => h.name === name)?.value ?? "";
const proofParts = (proof: string) => {
  const [h, p] = proof.split(".").slice(0, 2).map((part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>);
  return { header: h!, payload: p! };
};
const jktOf = (res: InjectResponse) => jwkThumbprint(proofParts(header(res, "DPoP")).header["jwk"] as Record<string, unknown>);

/** Sends the injected headers to the resource server, as a step runner would. */
const send = (url: string, res: InjectResponse, method = "GET") =>
  fetch(url, { method, headers: Object.fromEntries(headersOf(res).map((h) => [h.name, h.value])) }).then((r) => r.status);

async function refusal(call: Promise<unknown>): Promise<{ code: Code; reason: string; field: string | undefined }> {
  const error = await call.then(() => new Error("expected a refusal"), (e: unknown) => e);
  const connect = ConnectError.from(error);
  const info = connect.findDetails(ErrorInfoSchema)[0];
  return { code: connect.code, reason: info?.reason ?? "", field: info?.metadata["field"] };
}

describe("DPoP-bound tokens (RFC 9449) against oidc-provider with nonces, and a DPoP-checking resource server", () => {
  let idp: TokenServer;
  let rs: DpopResourceServer;
  let tb: TestBroker;
  let admin: Client<typeof SecretService>;
  const inject = (name: string, target?: { method: string; url: string }, mode: Mode = Mode.TEST, step: StepKind = StepKind.UNSPECIFIED) =>
    tb.connect(InjectService).inject({ mode, name, step, ...(target === undefined ? {} : { target }) });

  beforeAll(async () => {
    idp = await startTokenServer({
      clients: [
        { ...common, client_id: "dpop-client", client_secret: secret },
        { ...common, client_id: "resource-server", client_secret: rsSecret },
      ],
      dpop: "nonce",
    });
    rs = await startDpopResourceServer({ url: idp.introspectionUrl, clientId: "resource-server", clientSecret: rsSecret });
    tb = await startTestBroker();
    admin = tb.connect(SecretService, tb.adminToken);
  });
  afterAll(async () => {
    await tb.close();
    await rs.stop();
    await idp.stop();
  });

  it("fetches a token bound to the broker's key through the nonce dance, and proves each request once", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "orders", credentials: dpopCredentials(idp.tokenUrl) });
    const before = idp.requests.length;
    const target = { method: "POST", url: `${rs.url}/orders?page=2#top` };
    const first = await inject("orders", target);
    // the first proof had no nonce: use_dpop_nonce, then the same request with the server's nonce
    expect(idp.requests.slice(before).map((r) => [r.status, r.error ?? r.tokenType, r.dpopProof])).toEqual([
      [400, "use_dpop_nonce", true],
      [200, "DPoP", true],
    ]);
    const token = idp.requests.at(-1)!.accessToken!;
    expect(header(first, "Authorization")).toBe(`DPoP ${token}`);
    const { header: proofHeader, payload } = proofParts(header(first, "DPoP"));
    expect(proofHeader).toMatchObject({ typ: "dpop+jwt", alg: "ES256", jwk: { kty: "EC", crv: "P-256" } });
    expect(proofHeader["jwk"]).not.toHaveProperty("d");
    expect(payload).toMatchObject({ htm: "POST", htu: `${rs.url}/orders` });
    expect(Object.keys(payload).sort()).toEqual(["ath", "htm", "htu", "iat", "jti"]);

    expect(await send(`${rs.url}/orders?page=2`, first, "POST")).toBe(200);
    // the same headers again: a replayed proof
    expect(await send(`${rs.url}/orders?page=2`, first, "POST")).toBe(401);
    expect(rs.refusals.at(-1)).toBe("jti replayed");
    // the token is cached, the proofs are not: two Injects, two proofs, both good
    const [second, third] = [await inject("orders", target), await inject("orders", target)];
    expect(header(second, "Authorization")).toBe(`DPoP ${token}`);
    expect(new Set([header(first, "DPoP"), header(second, "DPoP"), header(third, "DPoP")]).size).toBe(3);
    expect(await send(`${rs.url}/orders`, second, "POST")).toBe(200);
    expect(await send(`${rs.url}/orders`, third, "POST")).toBe(200);
    // a proof for POST does not pass for GET
    expect(await send(`${rs.url}/orders`, await inject("orders", target), "GET")).toBe(401);
    expect(rs.refusals.at(-1)).toBe("htm does not match");
    expect(idp.requests.length - before).toBe(2);
    expect(rs.accepted).toBe(3);
  });

  it("remembers the server's nonce per origin: another secret's first request needs no retry", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "invoices", credentials: dpopCredentials(idp.tokenUrl) });
    const before = idp.requests.length;
    const res = await inject("invoices", { method: "GET", url: `${rs.url}/invoices` });
    expect(idp.requests.slice(before).map((r) => r.status)).toEqual([200]);
    expect(await send(`${rs.url}/invoices`, res)).toBe(200);
  });

  it("keeps the DPoP key on update, takes a given one, and deploys it with the rest", async () => {
    const target = { method: "GET", url: `${rs.url}/keys` };
    await admin.createSecret({ mode: Mode.TEST, name: "keyed", credentials: dpopCredentials(idp.tokenUrl) });
    const created = jktOf(await inject("keyed", target));
    await admin.updateSecret({ mode: Mode.TEST, name: "keyed", description: "metadata only" });
    expect(jktOf(await inject("keyed", target))).toBe(created);
    await admin.updateSecret({ mode: Mode.TEST, name: "keyed", credentials: dpopCredentials(idp.tokenUrl) });
    expect(jktOf(await inject("keyed", target))).toBe(created);
    await admin.deploySecrets({ names: ["keyed"] });
    const live = await inject("keyed", target, Mode.LIVE);
    expect(jktOf(live)).toBe(created);
    expect(await send(`${rs.url}/keys`, live)).toBe(200);

    const own = generateKeyPairSync("ed25519").privateKey;
    await admin.updateSecret({ mode: Mode.TEST, name: "keyed", credentials: dpopCredentials(idp.tokenUrl, own.export({ format: "pem", type: "pkcs8" }).toString()) });
    const replaced = await inject("keyed", target);
    expect(proofParts(header(replaced, "DPoP")).header["alg"]).toBe("EdDSA");
    expect(jktOf(replaced)).toBe(jwkThumbprint(own.export({ format: "jwk" }) as Record<string, unknown>));
    expect(jktOf(replaced)).not.toBe(created);
    expect(await send(`${rs.url}/keys`, replaced)).toBe(200);
  });

  it("answers FAILED_PRECONDITION without a target or for a Code step, and INVALID_ARGUMENT for a bad target", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "strict", credentials: dpopCredentials(idp.tokenUrl) });
    expect(await refusal(inject("strict"))).toEqual({ code: Code.FailedPrecondition, reason: "ERR_TARGET_REQUIRED", field: "target" });
    // once more, from the warm cache
    expect(await refusal(inject("strict"))).toEqual({ code: Code.FailedPrecondition, reason: "ERR_TARGET_REQUIRED", field: "target" });
    expect(await refusal(inject("strict", { method: "GET", url: `${rs.url}/x` }, Mode.TEST, StepKind.CODE))).toEqual({
      code: Code.FailedPrecondition,
      reason: "ERR_STEP_NOT_SERVED",
      field: "step",
    });
    const bad: [{ method: string; url: string }, string][] = [
      [{ method: "", url: `${rs.url}/x` }, "target.method"],
      [{ method: "GET /x", url: `${rs.url}/x` }, "target.method"],
      [{ method: "GET", url: "" }, "target.url"],
      [{ method: "GET", url: "/relative/path" }, "target.url"],
      [{ method: "GET", url: "ftp://127.0.0.1/file" }, "target.url"],
      [{ method: "GET", url: `http://user:${secret}@127.0.0.1/x` }, "target.url"],
    ];
    for (const [target, field] of bad) {
      const answer = await inject("strict", target).then(() => undefined, (e: unknown) => ConnectError.from(e));
      expect({ code: answer?.code, field: answer?.findDetails(ErrorInfoSchema)[0]?.metadata["field"] }).toEqual({ code: Code.InvalidArgument, field });
      expect(answer?.message).not.toContain(secret);
    }
  });

  it("credbroker inject --target-url/--target-method: the proof is made for that request, values masked unless asked", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "cli-orders", credentials: dpopCredentials(idp.tokenUrl) });
    const url = `${rs.url}/orders`;
    const cli = (...extra: string[]) => runCli(["inject", "cli-orders", "--mode", "test", "--addr", tb.broker.grpcAddress, ...extra], {});
    const shown = await cli("--target-url", url, "--target-method", "POST", "--show-values", "--json");
    expect(shown.code, shown.stderr).toBe(0);
    const answer = fromJsonString(InjectResponseSchema, shown.stdout);
    expect(proofParts(header(answer, "DPoP")).payload).toMatchObject({ htm: "POST", htu: url });
    expect(await send(url, answer, "POST")).toBe(200);
    const masked = await cli("--target-url", url);
    expect(masked.code, masked.stderr).toBe(0);
    expect(masked.stdout).toMatch(/^header +Authorization: DPoP \*{4}$/m);
    expect(masked.stdout).toMatch(/^header +DPoP: \*{4}$/m);
    expect(masked.stdout).not.toContain(secret);
    const without = await cli();
    expect(without.code).toBe(1);
    expect(without.stderr).toContain("ERR_TARGET_REQUIRED");
    const methodAlone = await cli("--target-method", "POST");
    expect(methodAlone.code).toBe(2);
    expect(methodAlone.stderr).toContain("--target-method needs --target-url");
  });

  it("refuses the bearer token of a server that does not do DPoP, and caches nothing", async () => {
    const plain = await startTokenServer({ clients: [{ ...common, client_id: "dpop-client", client_secret: secret }], dpop: "off" });
    try {
      await admin.createSecret({ mode: Mode.TEST, name: "unbound", credentials: dpopCredentials(plain.tokenUrl) });
      const target = { method: "GET", url: `${rs.url}/x` };
      expect(await refusal(inject("unbound", target))).toMatchObject({ code: Code.FailedPrecondition, reason: "ERR_OAUTH_TOKEN_TYPE" });
      expect(await refusal(inject("unbound", target))).toMatchObject({ reason: "ERR_OAUTH_TOKEN_TYPE" });
      expect(plain.requests.map((r) => [r.status, r.tokenType, r.dpopProof])).toEqual([
        [200, "Bearer", true],
        [200, "Bearer", true],
      ]);
    } finally {
      await plain.stop();
    }
  });

  it("keeps tokens, proofs and keys out of logs, errors and audit events", async () => {
    const events = (await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000 })).events;
    expect(events.length).toBeGreaterThan(10);
    const everywhere = tb.logs() + JSON.stringify(events, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v));
    expect(everywhere).not.toContain(secret);
    expect(everywhere).not.toContain("PRIVATE KEY");
    expect(everywhere).not.toContain("dpop+jwt");
    expect(everywhere).not.toContain(Buffer.from('{"typ":"dpop+jwt"').toString("base64url").slice(0, 16));
    for (const request of idp.requests) {
      if (request.accessToken !== undefined) expect(everywhere).not.toContain(request.accessToken);
    }
  });
});
