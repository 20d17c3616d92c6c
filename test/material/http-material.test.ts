/**
 * Injected HTTP material proven against a real HTTP server: a node:http
 * server on 127.0.0.1 port 0 that answers 200 only to the exact Basic, Bearer
 * or API-key header it was told to expect (401 otherwise). Secrets are
 * created on a real broker over Connect with the admin token, injected over
 * the classic grpc-js client and over Connect, and the returned headers are
 * sent as they are.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpHeader, InjectResponse } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { CredentialsSchema, Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";

/** What the protected server checks on each path, from the plaintext values (never from the broker). */
interface Guard {
  /** The header to look at (any case on the wire). */
  header: string;
  /** Whether its one value is acceptable. */
  accepts(value: string): boolean;
}

const basicUser = "ops-bot";
const basicPassword = "p@ss:wörd€-1";
const bearerToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJl";
const apiKeyName = "X-Api-Key";
const apiKeyValue = "sk_live_51H8xYz+/=abc";

/** RFC 7617 as a server reads it: scheme, base64 of UTF-8, split at the first ':'. */
function basicAccepts(value: string): boolean {
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/.exec(value);
  if (match === null) {
    return false;
  }
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(match[1] as string, "base64"));
  } catch {
    return false;
  }
  const colon = decoded.indexOf(":");
  return colon >= 0 && decoded.slice(0, colon) === basicUser && decoded.slice(colon + 1) === basicPassword;
}

const guards: Record<string, Guard> = {
  "/basic": { header: "authorization", accepts: basicAccepts },
  "/bearer": { header: "authorization", accepts: (value) => value === `Bearer ${bearerToken}` },
  "/api-key": { header: apiKeyName.toLowerCase(), accepts: (value) => value === apiKeyValue },
};

const secrets: Array<{ name: string; path: string; credentials: MessageInitShape<typeof CredentialsSchema> }> = [
  {
    name: "http-basic",
    path: "/basic",
    credentials: { kind: { case: "basicAuth", value: { username: basicUser, password: basicPassword } } },
  },
  { name: "http-bearer", path: "/bearer", credentials: { kind: { case: "bearerToken", value: { token: bearerToken } } } },
  {
    name: "http-api-key",
    path: "/api-key",
    credentials: { kind: { case: "apiKey", value: { keyName: apiKeyName, keyValue: apiKeyValue } } },
  },
];

let tb: TestBroker;
let server: http.Server;
let origin: string;
let grpcClient: ReturnType<typeof createGrpcJsClient>;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const guard = guards[req.url ?? ""];
    const raw = guard === undefined ? undefined : req.headersDistinct[guard.header];
    // exactly one value, and exactly the expected one
    const ok = guard !== undefined && raw !== undefined && raw.length === 1 && guard.accepts(raw[0] as string);
    res.writeHead(ok ? 200 : 401, { "content-type": "text/plain", connection: "close" });
    res.end(ok ? "welcome" : "denied");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  tb = await startTestBroker();
  const admin = tb.connect(SecretService, tb.adminToken);
  for (const { name, credentials } of secrets) {
    await admin.createSecret({ mode: Mode.TEST, name, credentials });
  }
  grpcClient = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
});

afterAll(async () => {
  grpcClient?.close();
  await tb?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
});

/** Sends GET `path` with exactly these headers (and no others but Host), answering the status. */
function send(path: string, headers: ReadonlyArray<{ name: string; value: string }>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${origin}${path}`, { method: "GET", agent: false });
    for (const { name, value } of headers) {
      req.setHeader(name, value);
    }
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

async function injectOverGrpcJs(name: string): Promise<InjectResponse> {
  const result = await grpcClient.call("Inject", InjectRequestSchema, InjectResponseSchema, {
    mode: Mode.TEST,
    name,
    step: StepKind.HTTP,
  });
  if (!result.ok) {
    throw new Error(`grpc-js Inject failed: ${result.code} ${result.details}`);
  }
  return result.message;
}

async function injectOverConnect(name: string): Promise<InjectResponse> {
  return tb.connect(InjectService).inject({ mode: Mode.TEST, name });
}

function headersOf(res: InjectResponse): HttpHeader[] {
  expect(res.material.case).toBe("http");
  return res.material.case === "http" ? res.material.value.headers : [];
}

const plain = (headers: HttpHeader[]) => headers.map(({ name, value }) => ({ name, value }));

describe.each([
  ["grpc-js on the gRPC listener", injectOverGrpcJs],
  ["Connect on the HTTP listener", injectOverConnect],
] as const)("material injected over %s", (_, injectOver) => {
  it.each(secrets.map(({ name, path }) => [name, path] as const))("%s opens %s", async (name, path) => {
    const headers = headersOf(await injectOver(name));
    expect(headers).toHaveLength(1);
    expect(await send(path, plain(headers))).toBe(200);
  });
});

describe("both listeners give the same material", () => {
  it.each(secrets.map(({ name }) => name))("%s", async (name) => {
    const viaGrpc = plain(headersOf(await injectOverGrpcJs(name)));
    const viaConnect = plain(headersOf(await injectOverConnect(name)));
    expect(viaGrpc).toEqual(viaConnect);
  });
});

describe("negative controls: the server refuses anything but the exact header", () => {
  it("no header at all is refused on every path", async () => {
    for (const { path } of secrets) {
      expect(await send(path, [])).toBe(401);
    }
  });

  it.each(secrets.map(({ name, path }) => [name, path] as const))(
    "%s with its value changed by one character is refused",
    async (name, path) => {
      const [header] = plain(headersOf(await injectOverGrpcJs(name)));
      expect(header).toBeDefined();
      const { name: headerName, value } = header as { name: string; value: string };
      const last = value.at(-1) === "A" ? "B" : "A";
      const changed = `${value.slice(0, -1)}${last}`;
      expect(await send(path, [{ name: headerName, value: changed }])).toBe(401);
      // and the unchanged header still opens it, so the refusal is about the value
      expect(await send(path, [{ name: headerName, value }])).toBe(200);
    },
  );

  it("a Basic header for another password is refused", async () => {
    const other = Buffer.from(`${basicUser}:${basicPassword}x`, "utf8").toString("base64");
    expect(await send("/basic", [{ name: "Authorization", value: `Basic ${other}` }])).toBe(401);
    // Latin-1 instead of UTF-8 encodes ö differently and € not at all
    const latin1 = Buffer.from(`${basicUser}:${basicPassword.replace("€", "")}`, "latin1").toString("base64");
    expect(await send("/basic", [{ name: "Authorization", value: `Basic ${latin1}` }])).toBe(401);
  });

  it("the API key under another header name is refused", async () => {
    expect(await send("/api-key", [{ name: "X-Api-Token", value: apiKeyValue }])).toBe(401);
  });

  it("one secret's material does not open another's path", async () => {
    const bearer = plain(headersOf(await injectOverConnect("http-bearer")));
    expect(await send("/basic", bearer)).toBe(401);
    const basic = plain(headersOf(await injectOverConnect("http-basic")));
    expect(await send("/bearer", basic)).toBe(401);
  });

  it("after an update Inject serves the new value, which this server (still expecting the old one) refuses", async () => {
    const admin = tb.connect(SecretService, tb.adminToken);
    const before = plain(headersOf(await injectOverGrpcJs("http-bearer")));
    await admin.updateSecret({
      mode: Mode.TEST,
      name: "http-bearer",
      credentials: { kind: { case: "bearerToken", value: { token: `${bearerToken}-rotated` } } },
    });
    try {
      const after = plain(headersOf(await injectOverGrpcJs("http-bearer")));
      expect(after).toEqual([{ name: "Authorization", value: `Bearer ${bearerToken}-rotated` }]);
      expect(await send("/bearer", after)).toBe(401);
      expect(await send("/bearer", before)).toBe(200);
    } finally {
      await admin.updateSecret({
        mode: Mode.TEST,
        name: "http-bearer",
        credentials: { kind: { case: "bearerToken", value: { token: bearerToken } } },
      });
    }
  });
});
