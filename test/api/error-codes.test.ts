/**
 * DESIGN.md's Errors table (the cases that exist without OAuth2), over REAL
 * listeners: every case with its code and its error details (ErrorInfo's
 * reason, BadRequest's field) through Connect JSON and Connect binary,
 * gRPC and gRPC-Web on the HTTP listener, and the classic @grpc/grpc-js
 * client on the gRPC listener (its grpc-status-details-bin decoded by
 * hand); plus plain HTTP/1.1 Connect JSON with fetch.
 */
import * as net from "node:net";
import { type DescMethodUnary, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { CredentialsSchema, Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { Health } from "../../src/gen/health/v1/health_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { detailsOfConnectError, detailsOfGrpcTrailer, detailsOfStatusBytes, expectErrorDetails, type ExpectedDetails, type WireErrorDetails } from "../support/error-details.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";
import { frame, http1Post, http2Post, parseGrpcWebBody } from "../support/rpc-wire.ts";
import { tamperFromAnotherProcess } from "../support/second-handle.ts";

type CredentialsInit = MessageInitShape<typeof CredentialsSchema>;
type StatusName = keyof typeof grpc.status;

const bearer = (token: string): CredentialsInit => ({ kind: { case: "bearerToken", value: { token } } });

/** What a call answered, the same shape for every client. */
type Outcome = { ok: true; message: unknown } | { ok: false; code: number; message: string; details: WireErrorDetails | undefined };

/** One way of calling the broker: a connect-es transport on the HTTP listener, or grpc-js on the gRPC listener. */
interface Caller {
  readonly label: string;
  /** A short tag that keeps each caller's secret names apart. */
  readonly tag: string;
  /** The code number this caller's protocol uses for a status. */
  code(name: StatusName): number;
  /** Calls a unary method; `token` undefined sends no authorization header. */
  call(method: DescMethodUnary, request: object, token?: string): Promise<Outcome>;
  /** Closes the caller's connections. */
  close(): void;
}

/** The protocols of the HTTP listener that the tests speak, each with its connect-es transport. */
const httpProtocols = {
  "Connect JSON over HTTP/1.1": { tag: "c", transport: (baseUrl: string) => createConnectTransport({ baseUrl, httpVersion: "1.1" }) },
  "Connect binary over HTTP/2": { tag: "b", transport: (baseUrl: string) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }) },
  "gRPC on the HTTP listener": { tag: "h", transport: (baseUrl: string) => createGrpcTransport({ baseUrl }) },
  "gRPC-Web on the HTTP listener": { tag: "w", transport: (baseUrl: string) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }) },
} as const satisfies Record<string, { tag: string; transport: (baseUrl: string) => Transport }>;

function connectCaller(tb: TestBroker, label: keyof typeof httpProtocols): Caller {
  const transport = httpProtocols[label].transport(`http://${tb.broker.httpAddress}`);
  return {
    label,
    tag: httpProtocols[label].tag,
    // Connect codes are numbered like gRPC's; name them the Connect way
    code: (name) => Code[connectCodeName(name)],
    async call(method, request, token) {
      const client = createClient(method.parent, transport) as unknown as Record<string, (req: object, options: object) => Promise<unknown>>;
      try {
        const message = await client[method.localName]!(request, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
        return { ok: true, message };
      } catch (error) {
        const connectError = ConnectError.from(error);
        return { ok: false, code: connectError.code, message: connectError.rawMessage, details: detailsOfConnectError(connectError) };
      }
    },
    close: () => undefined,
  };
}

function grpcJsCaller(tb: TestBroker): Caller {
  const clients = new Map<string, ReturnType<typeof createGrpcJsClient>>();
  return {
    label: "grpc-js on the gRPC listener",
    tag: "g",
    code: (name) => grpc.status[name],
    async call(method, request, token) {
      let client = clients.get(method.parent.typeName);
      if (client === undefined) {
        client = createGrpcJsClient(method.parent, tb.broker.grpcAddress);
        clients.set(method.parent.typeName, client);
      }
      const result = await client.call(
        method.name,
        method.input,
        method.output,
        request as never,
        token === undefined ? {} : { token },
      );
      return result.ok
        ? { ok: true, message: result.message }
        : { ok: false, code: result.code, message: result.details, details: detailsOfGrpcTrailer(result.metadata) };
    },
    close() {
      for (const client of clients.values()) {
        client.close();
      }
    },
  };
}

function connectCodeName(name: StatusName): keyof typeof Code {
  const pascal = name
    .toLowerCase()
    .split("_")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
  // the one spelling that differs
  return (pascal === "Cancelled" ? "Canceled" : pascal) as keyof typeof Code;
}

const secretMethods = SecretService.method;
const injectMethod = InjectService.method.inject;

let tb: TestBroker;
let callers: Caller[];

/** Every caller: the HTTP listener's protocols, then grpc-js. */
function allCallers(tb: TestBroker): Caller[] {
  return [...(Object.keys(httpProtocols) as Array<keyof typeof httpProtocols>).map((label) => connectCaller(tb, label)), grpcJsCaller(tb)];
}

const callerLabels = [...Object.keys(httpProtocols), "grpc-js on the gRPC listener"];

beforeAll(async () => {
  tb = await startTestBroker();
  callers = allCallers(tb);
  const admin = tb.connect(SecretService, tb.adminToken);
  for (const { tag } of callers) {
    await admin.createSecret({ mode: Mode.TEST, name: `json-${tag}`, credentials: { kind: { case: "jsonCredentials", value: { json: "{}" } } } });
    await admin.createSecret({ mode: Mode.LIVE, name: `live-${tag}`, credentials: bearer("live-token") });
    await admin.createSecret({ mode: Mode.TEST, name: `bearer-${tag}`, credentials: bearer("test-token") });
  }
});

afterAll(async () => {
  for (const caller of callers ?? []) {
    caller.close();
  }
  await tb?.close();
});

/**
 * Asserts a failed call with the status and its details (through the
 * shared helper, the same for every protocol); returns its message.
 */
function expectFailure(
  caller: Caller,
  outcome: Outcome,
  status: StatusName,
  details: Omit<ExpectedDetails, "code">,
  neverContains: readonly string[] = [],
): string {
  expect(outcome.ok, `expected ${status}, got success`).toBe(false);
  if (outcome.ok) {
    return "";
  }
  expect({ code: outcome.code, message: outcome.message }).toMatchObject({ code: caller.code(status) });
  expectErrorDetails(outcome.details, { code: outcome.code as Code, ...details }, neverContains);
  return outcome.message;
}

describe.each(callerLabels.map((label, index) => [label, index] as const))("%s", (_, index) => {
  const caller = () => callers[index] as Caller;
  const admin = (method: DescMethodUnary, request: object) => caller().call(method, request, tb.adminToken);
  const name = (base: string) => `${base}-${caller().tag}`;

  describe("INVALID_ARGUMENT names the field", () => {
    const cases: Array<[string, DescMethodUnary, () => object, reason?: string]> = [
      ["name", secretMethods.createSecret, () => ({ mode: Mode.TEST, name: "Not A Name", credentials: bearer("t") })],
      ["mode", secretMethods.createSecret, () => ({ mode: Mode.UNSPECIFIED, name: name("m"), credentials: bearer("t") })],
      ["credentials", secretMethods.createSecret, () => ({ mode: Mode.TEST, name: name("nocred") })],
      [
        "credentials.apiKey.keyName",
        secretMethods.createSecret,
        () => ({ mode: Mode.TEST, name: name("k"), credentials: { kind: { case: "apiKey", value: { keyName: "X Api", keyValue: "v" } } } }),
      ],
      [
        "credentials.jsonCredentials.json",
        secretMethods.createSecret,
        () => ({ mode: Mode.TEST, name: name("j"), credentials: { kind: { case: "jsonCredentials", value: { json: '{"a":' } } } }),
      ],
      [
        "credentials.sftpPrivateKey.privateKey",
        secretMethods.createSecret,
        () => ({
          mode: Mode.TEST,
          name: name("pk"),
          credentials: { kind: { case: "sftpPrivateKey", value: { username: "u", privateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" } } },
        }),
      ],
      [
        "credentials.oauth2ClientCredentials.tokenUrl",
        secretMethods.createSecret,
        () => ({
          mode: Mode.TEST,
          name: name("o"),
          credentials: {
            kind: { case: "oauth2ClientCredentials", value: { clientId: "c", clientSecret: "s", tokenUrl: "http://idp.example.com/token" } },
          },
        }),
      ],
      [
        "credentials.bearerToken.token",
        secretMethods.createSecret,
        () => ({ mode: Mode.TEST, name: name("big"), credentials: bearer("a".repeat(64 * 1024 + 1)) }),
        "ERR_TOO_LARGE",
      ],
      [
        "description",
        secretMethods.createSecret,
        () => ({ mode: Mode.TEST, name: name("d"), description: "d".repeat(1025), credentials: bearer("t") }),
        "ERR_TOO_LARGE",
      ],
      ["pageSize", secretMethods.listSecrets, () => ({ mode: Mode.TEST, pageSize: -1 })],
      ["pageToken", secretMethods.listSecrets, () => ({ mode: Mode.TEST, pageToken: "not-a-token" })],
      ["names[1]", secretMethods.deploySecrets, () => ({ names: [name("bearer"), "UPPER"] })],
      ["credentials", secretMethods.updateSecret, () => ({ mode: Mode.TEST, name: name("bearer") })],
    ];

    it.each(cases)("%s", async (field, method, request, reason = "ERR_INVALID_FIELD") => {
      const message = expectFailure(caller(), await admin(method, request()), "INVALID_ARGUMENT", { reason, field });
      expect(message).toContain(field);
    });

    it("step, on Inject", async () => {
      const outcome = await caller().call(injectMethod, { mode: Mode.TEST, name: name("bearer"), step: 42 as StepKind });
      expect(expectFailure(caller(), outcome, "INVALID_ARGUMENT", { reason: "ERR_INVALID_FIELD", field: "step" })).toContain("step");
    });

    it("without echoing the refused value", async () => {
      const canary = `canary-${caller().tag}-7f3a9c`;
      const outcome = await admin(secretMethods.createSecret, {
        mode: Mode.TEST,
        name: name("echo"),
        credentials: bearer(`${canary}\r\nX-Injected: 1`),
      });
      // the canary is in no message, no detail (its bytes or, over Connect JSON, its debug JSON) and no log line
      const message = expectFailure(
        caller(),
        outcome,
        "INVALID_ARGUMENT",
        { reason: "ERR_INVALID_FIELD", field: "credentials.bearerToken.token" },
        [canary],
      );
      expect(message).toContain("credentials.bearerToken.token");
      expect(message).not.toContain(canary);
      expect(tb.logs()).not.toContain(canary);
    });
  });

  describe("NOT_FOUND names the secret and the mode", () => {
    it("GetSecret of a name never created", async () => {
      const message = expectFailure(caller(), await admin(secretMethods.getSecret, { mode: Mode.TEST, name: name("absent") }), "NOT_FOUND", {
        reason: "ERR_SECRET_NOT_FOUND",
        metadata: { mode: "test", name: name("absent") },
      });
      expect(message).toContain(name("absent"));
      expect(message).toContain("test");
    });

    it("Inject in live of a name that exists only in test", async () => {
      const outcome = await caller().call(injectMethod, { mode: Mode.LIVE, name: name("bearer") });
      const message = expectFailure(caller(), outcome, "NOT_FOUND", { reason: "ERR_SECRET_NOT_FOUND", metadata: { mode: "live", name: name("bearer") } });
      expect(message).toContain(name("bearer"));
      expect(message).toContain("live");
    });

    it("UpdateSecret and DeleteSecret of an absent name", async () => {
      const update = await admin(secretMethods.updateSecret, { mode: Mode.TEST, name: name("absent"), description: "x" });
      const notFound = { reason: "ERR_SECRET_NOT_FOUND", metadata: { mode: "test", name: name("absent") } };
      expect(expectFailure(caller(), update, "NOT_FOUND", notFound)).toContain(name("absent"));
      const del = await admin(secretMethods.deleteSecret, { mode: Mode.TEST, name: name("absent") });
      const message = expectFailure(caller(), del, "NOT_FOUND", notFound);
      expect(message).toContain(name("absent"));
      expect(message).toContain("test");
    });

    it("DeploySecrets with one name missing in test deploys nothing", async () => {
      const outcome = await admin(secretMethods.deploySecrets, { names: [name("json"), name("missing")] });
      const message = expectFailure(caller(), outcome, "NOT_FOUND", { reason: "ERR_SECRET_NOT_FOUND", metadata: { mode: "test", names: name("missing") } });
      expect(message).toContain(name("missing"));
      expect(message).toContain("test");
      const live = await admin(secretMethods.getSecret, { mode: Mode.LIVE, name: name("json") });
      expectFailure(caller(), live, "NOT_FOUND", { reason: "ERR_SECRET_NOT_FOUND" });
    });

    it("Inject of a deleted secret", async () => {
      const created = await admin(secretMethods.createSecret, { mode: Mode.TEST, name: name("gone"), credentials: bearer("t") });
      expect(created.ok).toBe(true);
      expect((await caller().call(injectMethod, { mode: Mode.TEST, name: name("gone") })).ok).toBe(true);
      expect((await admin(secretMethods.deleteSecret, { mode: Mode.TEST, name: name("gone") })).ok).toBe(true);
      const message = expectFailure(caller(), await caller().call(injectMethod, { mode: Mode.TEST, name: name("gone") }), "NOT_FOUND", {
        reason: "ERR_SECRET_NOT_FOUND",
        metadata: { mode: "test", name: name("gone") },
      });
      expect(message).toContain(name("gone"));
      expect(message).toContain("test");
    });
  });

  it("ALREADY_EXISTS for a name taken in that mode", async () => {
    const request = { mode: Mode.TEST, name: name("twice"), credentials: bearer("t") };
    expect((await admin(secretMethods.createSecret, request)).ok).toBe(true);
    const message = expectFailure(caller(), await admin(secretMethods.createSecret, request), "ALREADY_EXISTS", {
      reason: "ERR_SECRET_EXISTS",
      metadata: { mode: "test", name: name("twice") },
    });
    expect(message).toContain(name("twice"));
  });

  describe("FAILED_PRECONDITION", () => {
    it("delete in live", async () => {
      expectFailure(caller(), await admin(secretMethods.deleteSecret, { mode: Mode.LIVE, name: name("live") }), "FAILED_PRECONDITION", {
        reason: "ERR_LIVE_DELETE",
        metadata: { mode: "live", name: name("live") },
      });
      // still there
      expect((await admin(secretMethods.getSecret, { mode: Mode.LIVE, name: name("live") })).ok).toBe(true);
    });

    it("type change", async () => {
      const outcome = await admin(secretMethods.updateSecret, {
        mode: Mode.TEST,
        name: name("bearer"),
        credentials: { kind: { case: "apiKey", value: { keyName: "X-Key", keyValue: "v" } } },
      });
      expectFailure(caller(), outcome, "FAILED_PRECONDITION", { reason: "ERR_TYPE_CHANGE", metadata: { mode: "test", name: name("bearer") } });
    });

    it("a step the type cannot serve", async () => {
      const outcome = await caller().call(injectMethod, { mode: Mode.TEST, name: name("json"), step: StepKind.HTTP });
      expectFailure(caller(), outcome, "FAILED_PRECONDITION", { reason: "ERR_STEP_NOT_SERVED", metadata: { name: name("json") } });
      const sftp = await caller().call(injectMethod, { mode: Mode.TEST, name: name("bearer"), step: StepKind.SFTP });
      expectFailure(caller(), sftp, "FAILED_PRECONDITION", { reason: "ERR_STEP_NOT_SERVED", metadata: { name: name("bearer") } });
    });
  });

  it("ABORTED for a stale expectedVersion", async () => {
    const created = await admin(secretMethods.createSecret, { mode: Mode.TEST, name: name("versioned"), credentials: bearer("t") });
    expect(created.ok).toBe(true);
    const bumped = await admin(secretMethods.updateSecret, { mode: Mode.TEST, name: name("versioned"), description: "v2", expectedVersion: 1n });
    expect(bumped.ok).toBe(true);
    const stale = await admin(secretMethods.updateSecret, { mode: Mode.TEST, name: name("versioned"), description: "v3", expectedVersion: 1n });
    expectFailure(caller(), stale, "ABORTED", { reason: "ERR_VERSION_MISMATCH", metadata: { mode: "test", name: name("versioned") } });
  });

  describe("UNAUTHENTICATED on SecretService", () => {
    const request = () => ({ mode: Mode.TEST, name: name("bearer") });
    const unauthenticated = { reason: "ERR_UNAUTHENTICATED" };

    it("without a token", async () => {
      expectFailure(caller(), await caller().call(secretMethods.getSecret, request()), "UNAUTHENTICATED", unauthenticated);
    });

    it("with a wrong token", async () => {
      expectFailure(caller(), await caller().call(secretMethods.getSecret, request(), `${tb.adminToken}x`), "UNAUTHENTICATED", unauthenticated, [
        tb.adminToken,
      ]);
      expectFailure(caller(), await caller().call(secretMethods.getSecret, request(), "wrong"), "UNAUTHENTICATED", unauthenticated);
    });

    it("on every method, before validation", async () => {
      for (const method of Object.values(secretMethods)) {
        expectFailure(caller(), await caller().call(method as DescMethodUnary, {}), "UNAUTHENTICATED", unauthenticated);
      }
    });

    it("and the admin token opens it (positive control)", async () => {
      expect((await admin(secretMethods.getSecret, request())).ok).toBe(true);
    });
  });

  it("Inject is open without a token when no inject token is configured", async () => {
    const outcome = await caller().call(injectMethod, { mode: Mode.TEST, name: name("bearer") });
    expect(outcome.ok).toBe(true);
  });

  it("an oversized request (> 1 MiB) is refused and the broker keeps serving", async () => {
    const huge = JSON.stringify({ blob: "x".repeat(1024 * 1024 + 1024) });
    const outcome = await admin(secretMethods.createSecret, {
      mode: Mode.TEST,
      name: name("huge"),
      credentials: { kind: { case: "jsonCredentials", value: { json: huge } } },
    });
    if (caller().tag === "g") {
      // grpc-js refuses the message itself, before the broker sees it: no details
      expect(outcome).toMatchObject({ ok: false, code: grpc.status.RESOURCE_EXHAUSTED, details: undefined });
    } else {
      // connect-node refuses it before any interceptor; the broker adds the ErrorInfo
      expectFailure(caller(), outcome, "RESOURCE_EXHAUSTED", { reason: "ERR_RESOURCE_EXHAUSTED" }, [huge.slice(0, 64)]);
    }
    // nothing written, and both listeners still answer
    for (const other of callers) {
      const got = await other.call(secretMethods.getSecret, { mode: Mode.TEST, name: name("huge") }, tb.adminToken);
      expectFailure(other, got, "NOT_FOUND", { reason: "ERR_SECRET_NOT_FOUND" });
      expect((await other.call(injectMethod, { mode: Mode.TEST, name: name("bearer") })).ok).toBe(true);
    }
    // the same caller too, with a normal-sized request
    expect((await admin(secretMethods.createSecret, { mode: Mode.TEST, name: name("after-huge"), credentials: bearer("t") })).ok).toBe(true);
  });
});

describe("errors of the protocol layer and of health carry an ErrorInfo too", () => {
  const path = "/credbroker.v1.InjectService/Inject";
  // a field tag of wire type 7, which no protobuf decoder accepts
  const garbage = Uint8Array.from([0x0f, 0xff, 0xff]);
  const undecodable = { code: Code.InvalidArgument, reason: "ERR_UNDECODABLE" };

  it("a body that does not decode: Connect binary, gRPC and gRPC-Web on the HTTP listener", async () => {
    const address = tb.broker.httpAddress ?? "";
    const connect = await http1Post(address, path, { "content-type": "application/proto" }, garbage);
    expect(connect.status).toBe(400);
    expectErrorDetails(detailsOfConnectError(errorFromJsonBytes(connect.body, undefined, new ConnectError("not error JSON"))), undecodable);
    const grpcAnswer = await http2Post(address, path, { "content-type": "application/grpc", te: "trailers" }, frame(garbage));
    expect(grpcAnswer.trailers["grpc-status"]).toBe("3");
    expectErrorDetails(detailsOfStatusBytes(Buffer.from(grpcAnswer.trailers["grpc-status-details-bin"] ?? "", "base64")), undecodable);
    const web = await http1Post(address, path, { "content-type": "application/grpc-web+proto" }, frame(garbage));
    const trailer = parseGrpcWebBody(web.body).trailer ?? {};
    expect(trailer["grpc-status"]).toBe("3");
    expectErrorDetails(detailsOfStatusBytes(Buffer.from(trailer["grpc-status-details-bin"] ?? "", "base64")), undecodable);
  });

  it("a body that does not decode: grpc-js on the gRPC listener", async () => {
    const client = new grpc.Client(tb.broker.grpcAddress, grpc.credentials.createInsecure());
    try {
      const metadata = await new Promise<grpc.Metadata>((resolve, reject) =>
        client.makeUnaryRequest(path, () => Buffer.from(garbage), (bytes: Buffer) => bytes, {}, new grpc.Metadata(), (error) =>
          error === null ? reject(new Error("expected INVALID_ARGUMENT")) : resolve(error.metadata),
        ),
      );
      expectErrorDetails(detailsOfGrpcTrailer(metadata), undecodable);
    } finally {
      client.close();
    }
  });

  it.each(callerLabels.map((label, i) => [label, i] as const))("health Check of an unknown service: %s", async (_, i) => {
    const caller = callers[i] as Caller;
    const outcome = await caller.call(Health.method.check, { service: "no.such.Service" });
    expectFailure(caller, outcome, "NOT_FOUND", { reason: "ERR_UNKNOWN_SERVICE" });
  });
});

describe("DATA_LOSS for a sealed record that fails authentication", () => {
  it("on both listeners, every protocol", async () => {
    const admin = tb.connect(SecretService, tb.adminToken);
    await admin.createSecret({ mode: Mode.TEST, name: "tampered", credentials: bearer("sealed-canary-91b2") });
    await tamperFromAnotherProcess(tb.dataDir, Mode.TEST, "tampered", { field: "wrappedKey", at: 5, mask: 0x01 });
    for (const caller of callers) {
      const outcome = await caller.call(injectMethod, { mode: Mode.TEST, name: "tampered" });
      const message = expectFailure(caller, outcome, "DATA_LOSS", { reason: "ERR_SEAL_OPEN_FAILED" }, ["sealed-canary-91b2"]);
      expect(message).not.toContain("sealed-canary-91b2");
    }
    // metadata stays readable; only the values are lost
    expect((await admin.getSecret({ mode: Mode.TEST, name: "tampered" })).secret?.version).toBe(1n);
  });
});

describe("UNAUTHENTICATED on Inject when an inject token is configured", () => {
  let guarded: TestBroker;
  let guardedCallers: Caller[];
  const injectToken = "inject-token-5d1e8a-c93f0b7e2d4a16";

  beforeAll(async () => {
    guarded = await startTestBroker({ injectToken: { value: injectToken, source: "test" } });
    guardedCallers = allCallers(guarded);
    await guarded.connect(SecretService, guarded.adminToken).createSecret({ mode: Mode.TEST, name: "guarded", credentials: bearer("t") });
  });
  afterAll(async () => {
    for (const caller of guardedCallers ?? []) {
      caller.close();
    }
    await guarded?.close();
  });

  it.each(callerLabels.map((label, i) => [label, i] as const))("%s: no token, a wrong token and the admin token are refused; the inject token works", async (_, i) => {
    const caller = guardedCallers[i] as Caller;
    const request = { mode: Mode.TEST, name: "guarded" };
    const refused = { reason: "ERR_UNAUTHENTICATED" };
    expectFailure(caller, await caller.call(injectMethod, request), "UNAUTHENTICATED", refused);
    expectFailure(caller, await caller.call(injectMethod, request, "wrong-token"), "UNAUTHENTICATED", refused, ["wrong-token"]);
    expectFailure(caller, await caller.call(injectMethod, request, guarded.adminToken), "UNAUTHENTICATED", refused, [guarded.adminToken]);
    expect((await caller.call(injectMethod, request, injectToken)).ok).toBe(true);
    // the inject token is not an admin token
    expectFailure(caller, await caller.call(secretMethods.getSecret, request, injectToken), "UNAUTHENTICATED", refused, [injectToken]);
  });
});

describe("plain HTTP/1.1 Connect JSON with fetch", () => {
  /** POSTs Connect JSON; `token` null sends no authorization header. */
  const post = (method: string, body: unknown, token: string | null = tb.adminToken) =>
    fetch(`http://${tb.broker.httpAddress}/credbroker.v1.SecretService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });

  it("creates a secret and answers its metadata as JSON", async () => {
    const res = await post("CreateSecret", {
      mode: "MODE_TEST",
      name: "curl-made",
      description: "made with JSON",
      credentials: { apiKey: { keyName: "X-Api-Key", keyValue: "json-value-3c1" } },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({
      secret: { name: "curl-made", mode: "MODE_TEST", type: "SECRET_TYPE_API_KEY", description: "made with JSON", version: "1" },
    });
    // metadata only
    expect(text).not.toContain("json-value-3c1");
  });

  it("answers a malformed name with the Connect error JSON, naming the field", async () => {
    const res = await post("CreateSecret", { mode: "MODE_TEST", name: "Bad Name", credentials: { bearerToken: { token: "t" } } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string; details: unknown };
    expect(body.code).toBe("invalid_argument");
    expect(body.message).toMatch(/^name: /);
    // what curl shows: each detail's type, its bytes (base64) and, readable, its JSON (debug)
    expect(body.details).toEqual([
      {
        type: "google.rpc.ErrorInfo",
        value: expect.any(String),
        debug: { reason: "ERR_INVALID_FIELD", domain: "credbroker", metadata: { field: "name" } },
      },
      {
        type: "google.rpc.BadRequest",
        value: expect.any(String),
        debug: { fieldViolations: [{ field: "name", description: expect.stringMatching(/^must be 1-63 characters/), reason: "ERR_INVALID_FIELD" }] },
      },
    ]);
  });

  it("answers JSON credentials that are not an object with the Connect error JSON, naming the field", async () => {
    const res = await post("CreateSecret", {
      mode: "MODE_TEST",
      name: "curl-json",
      credentials: { jsonCredentials: { json: "[1,2,3]" } },
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    expect(body).toMatchObject({ code: "invalid_argument" });
    expect(body.message).toContain("credentials.jsonCredentials.json");
  });

  it("answers a missing admin token with unauthenticated and a missing secret with not_found", async () => {
    const unauth = await post("GetSecret", { mode: "MODE_TEST", name: "curl-made" }, null);
    expect(unauth.status).toBe(401);
    expect(await unauth.json()).toMatchObject({ code: "unauthenticated" });
    const missing = await post("GetSecret", { mode: "MODE_LIVE", name: "curl-made" });
    expect(missing.status).toBe(404);
    const body = (await missing.json()) as { code: string; message: string };
    expect(body.code).toBe("not_found");
    expect(body.message).toContain("curl-made");
    expect(body.message).toContain("live");
  });
});

describe("a full page of ListSecrets within every cap", () => {
  // pageSize may be 1000 and a description 1024 characters (up to 3 KiB of
  // UTF-8): a legitimate page can exceed 1 MiB, the cap on *requests*.
  let full: TestBroker | undefined;
  afterAll(async () => {
    await full?.close();
  });

  it("is answered on both listeners, not RESOURCE_EXHAUSTED", async () => {
    full = await startTestBroker();
    const admin = full.connect(SecretService, full.adminToken, "2");
    const count = 360;
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        admin.createSecret({
          mode: Mode.TEST,
          name: `page-${String(i).padStart(4, "0")}`,
          description: "€".repeat(1024),
          credentials: bearer("t"),
        }),
      ),
    );
    const request = { mode: Mode.TEST, pageSize: 1000 };
    const fullCallers = allCallers(full);
    try {
      for (const caller of fullCallers) {
        const outcome = await caller.call(secretMethods.listSecrets, request, full.adminToken);
        expect(outcome, caller.label).toMatchObject({ ok: true });
        if (outcome.ok) {
          expect((outcome.message as { secrets: unknown[] }).secrets).toHaveLength(count);
        }
      }
    } finally {
      for (const caller of fullCallers) {
        caller.close();
      }
    }
  });
});

describe("a stalled HTTP/1.1 request and shutdown", () => {
  // A client that sends headers and part of a body, then nothing: the
  // listener's requestTimeout should end it, and close(grace) must not wait
  // for it beyond the grace period. The test has a generous timeout as a hang
  // guard; it asserts no duration.
  let stalled: TestBroker | undefined;
  let socket: net.Socket | undefined;

  afterAll(async () => {
    socket?.destroy();
  });

  it("close(grace) ends the stalled connection and resolves", { timeout: 15_000 }, async () => {
    stalled = await startTestBroker();
    const address = stalled.broker.httpAddress ?? "";
    const colon = address.lastIndexOf(":");
    const connected = net.connect(Number(address.slice(colon + 1)), address.slice(0, colon));
    socket = connected;
    connected.on("error", () => undefined);
    await new Promise((resolve) => connected.once("connect", resolve));
    const closed = new Promise<void>((resolve) => connected.once("close", () => resolve()));
    connected.write(
      "POST /credbroker.v1.InjectService/Inject HTTP/1.1\r\nHost: broker\r\n" +
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    // the listener has taken the request once a Connect call on another connection is answered
    await stalled.connect(SecretService, stalled.adminToken, "2").listSecrets({ mode: Mode.TEST });
    await stalled.close();
    // close resolved: the server must have ended the stalled connection
    await closed;
    expect(connected.destroyed).toBe(true);
  });
});
