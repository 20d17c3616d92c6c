import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { AuditService } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { Mode, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService, TestSecretResponseSchema, type TestSecretResponse } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { detailsOfConnectError, expectErrorDetails } from "../support/error-details.ts";
import { canary } from "../support/canary.ts";

const password = canary("basic-password");
const bearer = canary("bearer-token");
const apiKey = canary("api-key");
const jsonValue = canary("json-value");
const injectToken = canary("inject-token-0123456789abcdef");

type Request = Parameters<Client<typeof SecretService>["testSecret"]>[0];

describe("TestSecret of static HTTP and JSON secrets, target rules and tokens, through a real broker", () => {
  let tb: TestBroker;
  let admin: Client<typeof SecretService>;
  let http: Server;
  let url: string;
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const answers: TestSecretResponse[] = [];
  const test = async (request: Request) => {
    const answer = await admin.testSecret(request);
    answers.push(answer);
    return answer;
  };
  const refusal = (request: Request, client = admin) => client.testSecret(request).then(() => undefined, (error: unknown) => ConnectError.from(error));

  beforeAll(async () => {
    // answers 200 to the right Basic header, 401 to anything else, and 302 on /moved
    http = createServer((req, res) => {
      seen.push({ url: req.url ?? "", headers: req.headers });
      const status = req.url === "/moved" ? 302 : req.headers.authorization === `Basic ${Buffer.from(`ada:${password}`).toString("base64")}` || req.headers["x-api-key"] === apiKey ? 200 : 401;
      res.writeHead(status, status === 302 ? { location: "http://127.0.0.1:1/elsewhere" } : {}).end(`body that must not be read: ${password}`);
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    tb = await startTestBroker({ injectToken: { value: injectToken, source: "test" } });
    admin = tb.connect(SecretService, tb.adminToken);
  });
  afterAll(async () => {
    const audit = (await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000 })).events;
    const text = [...answers.map((a) => toJsonString(TestSecretResponseSchema, a)), tb.logs(), JSON.stringify(audit, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))].join("\n");
    for (const value of [password, bearer, apiKey, jsonValue, injectToken]) {
      expect(text).not.toContain(value);
    }
    await tb.close();
    await new Promise((resolve) => http.close(resolve));
  });

  it("sends the exact injected header to the URL and answers the status code only", async () => {
    const basic = await test({ mode: Mode.TEST, credentials: { kind: { case: "basicAuth", value: { username: "ada", password } } }, target: { case: "http", value: { url: `${url}/whoami?x=1` } } });
    expect(basic).toMatchObject({ ok: true, summary: "HTTP 200", result: { case: "http", value: { sent: true, status: 200 } } });
    expect(seen.at(-1)).toMatchObject({ url: "/whoami?x=1", headers: { authorization: `Basic ${Buffer.from(`ada:${password}`).toString("base64")}` } });

    await admin.createSecret({ mode: Mode.TEST, name: "key", credentials: { kind: { case: "apiKey", value: { keyName: "X-API-Key", keyValue: apiKey } } } });
    const stored = await test({ mode: Mode.TEST, name: "key", target: { case: "http", value: { url } } });
    expect(stored).toMatchObject({ ok: true, secret: { name: "key", version: 1n }, result: { case: "http", value: { status: 200 } } });
    expect(seen.at(-1)?.headers["x-api-key"]).toBe(apiKey);

    const refused = await test({ mode: Mode.TEST, credentials: { kind: { case: "bearerToken", value: { token: bearer } } }, target: { case: "http", value: { url } } });
    expect(refused).toMatchObject({ ok: false, summary: "HTTP 401 (credentials not accepted)", result: { case: "http", value: { status: 401 } } });
    expect(seen.at(-1)?.headers.authorization).toBe(`Bearer ${bearer}`);

    const count = seen.length;
    const moved = await test({ mode: Mode.TEST, name: "key", target: { case: "http", value: { url: `${url}/moved` } } });
    expect(moved).toMatchObject({ ok: false, result: { case: "http", value: { status: 302 } } });
    // the redirect was not followed: the key went to the URL given and nowhere else
    expect(seen.length).toBe(count + 1);

    const untried = await test({ mode: Mode.TEST, name: "key" });
    expect(untried).toMatchObject({ ok: true, result: { case: "http", value: { sent: false, status: 0 } } });
  });

  it("answers that JSON parses to an object; unsaved JSON that does not is INVALID_ARGUMENT naming the field", async () => {
    const ok = await test({ mode: Mode.TEST, credentials: { kind: { case: "jsonCredentials", value: { json: JSON.stringify({ a: jsonValue, b: 2 }) } } } });
    expect(ok).toMatchObject({ ok: true, type: SecretType.JSON_CREDENTIALS, result: { case: "json", value: { memberCount: 2 } } });
    const bad = await refusal({ mode: Mode.TEST, credentials: { kind: { case: "jsonCredentials", value: { json: `{"a": ${jsonValue}` } } } });
    expectErrorDetails(detailsOfConnectError(bad), { code: Code.InvalidArgument, reason: "ERR_INVALID_FIELD", field: "credentials.jsonCredentials.json" }, [jsonValue]);
  });

  it("refuses bad targets and request shapes with INVALID_ARGUMENT naming the field, before anything is sent", async () => {
    const basic = { kind: { case: "basicAuth" as const, value: { username: "ada", password } } };
    const count = seen.length;
    const cases: [Request, string][] = [
      [{ mode: Mode.TEST, credentials: basic, target: { case: "http", value: { url: "http://example.com/whoami" } } }, "http.url"],
      [{ mode: Mode.TEST, credentials: basic, target: { case: "http", value: { url: `ftp://127.0.0.1/` } } }, "http.url"],
      [{ mode: Mode.TEST, credentials: basic, target: { case: "http", value: { url: `http://u:p@127.0.0.1/` } } }, "http.url"],
      [{ mode: Mode.TEST, credentials: basic, target: { case: "sftp", value: { host: "127.0.0.1" } } }, "sftp"],
      [{ mode: Mode.TEST, credentials: { kind: { case: "sftpPassword", value: { username: "u", password } } } }, "sftp"],
      [{ mode: Mode.TEST, credentials: { kind: { case: "sftpPassword", value: { username: "u", password } } }, target: { case: "sftp", value: { host: "a b" } } }, "sftp.host"],
      [{ mode: Mode.TEST, credentials: { kind: { case: "sftpPassword", value: { username: "u", password } } }, target: { case: "sftp", value: { host: "h", port: 70000 } } }, "sftp.port"],
      [{ mode: Mode.TEST, credentials: { kind: { case: "sftpPassword", value: { username: "u", password } } }, target: { case: "sftp", value: { host: "h", hostKeyFingerprint: "MD5:aa" } } }, "sftp.hostKeyFingerprint"],
      [{ mode: Mode.TEST, credentials: { kind: { case: "oauth2ClientCredentials", value: { clientId: "c", clientSecret: password, tokenUrl: "http://idp.example.com/token" } } } }, "credentials.oauth2ClientCredentials.tokenUrl"],
      [{ mode: Mode.TEST, credentials: { kind: { case: "oauth2ClientCredentials", value: { clientId: "c", clientSecret: password, tokenUrl: `${url}/token` } } }, target: { case: "http", value: { url } } }, "http"],
      [{ mode: Mode.TEST, name: "key", credentials: basic }, "credentials"],
      [{ mode: Mode.TEST }, "name"],
      [{ credentials: basic }, "mode"],
    ];
    for (const [request, field] of cases) {
      const error = await refusal(request);
      expectErrorDetails(detailsOfConnectError(error), { code: Code.InvalidArgument, reason: "ERR_INVALID_FIELD", field }, [password]);
    }
    expect(seen.length).toBe(count);
    const absent = await refusal({ mode: Mode.LIVE, name: "nope" });
    expect(absent?.code).toBe(Code.NotFound);
  });

  it("requires the admin token: none and the inject token are refused, and each refusal is audited", async () => {
    const request: Request = { mode: Mode.TEST, name: "key", target: { case: "http", value: { url } } };
    const count = seen.length;
    expect((await refusal(request, tb.connect(SecretService)))?.code).toBe(Code.Unauthenticated);
    expect((await refusal(request, tb.connect(SecretService, injectToken)))?.code).toBe(Code.Unauthenticated);
    expect(seen.length).toBe(count);
    const events = (await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000 })).events.filter((e) => e.method === "credbroker.v1.SecretService/TestSecret");
    expect(events.slice(-2).map((e) => ({ code: e.code, name: e.secrets[0]?.name }))).toEqual([
      { code: "unauthenticated", name: "key" },
      { code: "unauthenticated", name: "key" },
    ]);
  });

  it("is served on the gRPC listener too", async () => {
    const answer = await tb.grpcOverConnect(SecretService, tb.adminToken).testSecret({ mode: Mode.TEST, name: "key", target: { case: "http", value: { url } } });
    expect(answer).toMatchObject({ ok: true, result: { case: "http", value: { status: 200 } } });
  });
});
