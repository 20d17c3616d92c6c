/**
 * Callers and transport security over real listeners and processes: unix
 * socket permissions, the refusal of a cleartext non-loopback listener, TLS
 * on both listeners (grpc-js and Connect over h2 and HTTP/1.1) and client
 * certificates. Certificates are made at test time with openssl.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.ts";
import type { Config } from "../../src/config/config.ts";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { isLoopbackHost } from "../../src/loopback-host.ts";
import { AuditService } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { makePki, type Pki } from "../support/pki.ts";
import { serveOnce } from "../support/serve-once.ts";

const main = join(import.meta.dirname, "../../src/cli/main.ts");

const apiKey = (value: string) => ({ kind: { case: "apiKey" as const, value: { keyName: "X-Api-Key", keyValue: value } } });

/** A classic grpc-js Inject with the given channel credentials: "ok" or the status name. */
function grpcInject(address: string, credentials: grpc.ChannelCredentials): Promise<string> {
  const client = new grpc.Client(address, credentials);
  return new Promise<string>((resolve) => {
    client.makeUnaryRequest(
      "/credbroker.v1.InjectService/Inject",
      (message: typeof InjectRequestSchema extends never ? never : ReturnType<typeof create<typeof InjectRequestSchema>>) =>
        Buffer.from(toBinary(InjectRequestSchema, message)),
      (bytes: Buffer) => fromBinary(InjectResponseSchema, bytes),
      create(InjectRequestSchema, { mode: Mode.TEST, name: "tls-key" }),
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (error) => resolve(error === null ? "ok" : grpc.status[error.code] ?? String(error.code)),
    );
  }).finally(() => client.close());
}

/** A Connect Inject over https: "ok" or the error's code name. */
async function connectInject(
  address: string,
  httpVersion: "1.1" | "2",
  nodeOptions: { ca?: Buffer; cert?: Buffer; key?: Buffer },
  scheme = "https",
): Promise<string> {
  const transport = createConnectTransport({ baseUrl: `${scheme}://${address}`, httpVersion, nodeOptions });
  return createClient(InjectService, transport)
    .inject({ mode: Mode.TEST, name: "tls-key" }, { timeoutMs: 5000 })
    .then(
      () => "ok",
      (error: unknown) => Code[ConnectError.from(error).code],
    );
}

let pki: Pki;
beforeAll(async () => {
  pki = await makePki();
});
afterAll(async () => {
  await rm(pki.dir, { recursive: true, force: true });
});

describe("unix socket permissions", () => {
  async function modes(overrides: Partial<Config>) {
    const dir = await mkdtemp(join(tmpdir(), "credbroker-perm-"));
    const paths = ["grpc.sock", "http.sock", "metrics.sock"].map((name) => join(dir, name));
    const tb = await startTestBroker({
      listen: `unix:${paths[0]}`,
      httpListen: `unix:${paths[1]}`,
      metricsListen: `unix:${paths[2]}`,
      ...overrides,
    });
    try {
      const stats = await Promise.all(paths.map((path) => stat(path)));
      // the private directory the sockets were bound in is gone
      expect((await readdir(dir)).sort()).toEqual(["grpc.sock", "http.sock", "metrics.sock"]);
      await tb.connect(SecretService, tb.adminToken).createSecret({ mode: Mode.TEST, name: "perm", credentials: apiKey("v") });
      return stats.map((s) => ({ socket: s.isSocket(), mode: s.mode & 0o777, gid: s.gid }));
    } finally {
      await tb.close();
      // closed listeners leave no socket file behind
      expect(await readdir(dir)).toEqual([]);
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("creates every socket file 0600 by default", async () => {
    for (const s of await modes({})) {
      expect(s).toMatchObject({ socket: true, mode: 0o600 });
    }
  });

  it("creates them 0660 and owned by the configured group", async () => {
    const group = (process.getgid?.() ?? 0) === 1 ? 2 : 1; // daemon on Debian, a group that is not the process's own
    for (const s of await modes({ socketGroup: group })) {
      expect(s).toEqual({ socket: true, mode: 0o660, gid: group });
    }
  });
});

describe("non-loopback listeners", () => {
  it("knows loopback hosts", () => {
    for (const host of ["127.0.0.1", "127.8.9.10", "::1", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.com", "::2"]) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });

  async function serve(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
    const dataDir = await mkdtemp(join(tmpdir(), "credbroker-nl-"));
    try {
      const child = spawn(process.execPath, [main, "serve", "--data-dir", dataDir, "--metrics-listen", "off", ...args], {
        env: { PATH: process.env["PATH"] ?? "", ...env },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      // a broker that did start is stopped, so that the test fails on its exit code instead of hanging
      const timer = setTimeout(() => child.kill("SIGTERM"), 8000);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      clearTimeout(timer);
      return { code, stderr };
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  it("refuses a cleartext gRPC or HTTP listener on a non-loopback address: exit 2 and a message naming the setting", async () => {
    const grpcListener = await serve(["--listen", "0.0.0.0:0", "--http-listen", "127.0.0.1:0"]);
    expect(grpcListener.code).toBe(2);
    expect(grpcListener.stderr).toMatch(/CREDBROKER_LISTEN: 0\.0\.0\.0:0 is not a loopback address.*TLS/);
    const httpListener = await serve(["--listen", "127.0.0.1:0", "--http-listen", "[::]:0"]);
    expect(httpListener.code).toBe(2);
    expect(httpListener.stderr).toMatch(/CREDBROKER_HTTP_LISTEN: \[::\]:0 is not a loopback address/);
  });

  it("serves a non-loopback address with TLS and an inject token, and leaves the metrics listener alone", async () => {
    const tb = await startTestBroker({
      listen: "0.0.0.0:0",
      httpListen: "0.0.0.0:0",
      metricsListen: "0.0.0.0:0",
      tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: undefined },
      injectToken: { value: randomBytes(24).toString("base64url"), source: "test" },
    });
    try {
      expect(tb.broker.grpcAddress).toMatch(/^0\.0\.0\.0:\d+$/);
      expect(tb.broker.metricsAddress).toMatch(/^0\.0\.0\.0:\d+$/);
    } finally {
      await tb.close();
    }
    await expect(startTestBroker({ metricsListen: "0.0.0.0:0" }).then((t) => t.close())).resolves.toBeUndefined();
  });

  it("refuses TLS on a non-loopback address with neither an inject token nor client certificates: Inject would be open to the network", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "credbroker-nl-"));
    const tls = { cert: pki.serverCert, key: pki.serverKey, clientCa: undefined };
    const refusal = /CREDBROKER_HTTP_LISTEN: 0\.0\.0\.0:0 is not a loopback address, and the broker will not serve Inject there .*CREDBROKER_INJECT_TOKEN.*CREDBROKER_TLS_CLIENT_CA_FILE/;
    try {
      await expect(startTestBroker({ dataDir, httpListen: "0.0.0.0:0", tls })).rejects.toThrow(ConfigError);
      await expect(startTestBroker({ dataDir, httpListen: "0.0.0.0:0", tls })).rejects.toThrow(refusal);
      const files = ["--tls-cert-file", join(pki.dir, "server.crt"), "--tls-key-file", join(pki.dir, "server.key")];
      const args = ["--data-dir", dataDir, ...files];
      const grpcOpen = await serveOnce([...args, "--listen", "[::]:0"]);
      expect(grpcOpen).toMatchObject({ code: 2, served: false });
      expect(grpcOpen.stderr).toMatch(/CREDBROKER_LISTEN: \[::\]:0 is not a loopback address, and the broker will not serve Inject there/);
      const httpOpen = await serveOnce([...args, "--http-listen", "0.0.0.0:0"]);
      expect(httpOpen).toMatchObject({ code: 2, served: false });
      expect(httpOpen.stderr).toMatch(refusal);
      // either guard makes the same listeners acceptable
      const withToken = await serveOnce([...args, "--http-listen", "0.0.0.0:0"], { CREDBROKER_INJECT_TOKEN_TEST: randomBytes(24).toString("base64url") });
      expect(withToken).toMatchObject({ code: 0, served: true });
      const withClientCa = await serveOnce([...args, "--http-listen", "0.0.0.0:0", "--tls-client-ca-file", join(pki.dir, "ca.crt")]);
      expect(withClientCa).toMatchObject({ code: 0, served: true });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("TLS on both listeners", () => {
  let tb: TestBroker;
  let grpcPort: string;
  let httpPort: string;
  beforeAll(async () => {
    tb = await startTestBroker({ tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: undefined } });
    grpcPort = tb.broker.grpcAddress.split(":")[1]!;
    httpPort = tb.broker.httpAddress!.split(":")[1]!;
    const admin = createClient(
      SecretService,
      createConnectTransport({ baseUrl: `https://127.0.0.1:${httpPort}`, httpVersion: "2", nodeOptions: { ca: pki.ca } }),
    );
    await admin.createSecret(
      { mode: Mode.TEST, name: "tls-key", credentials: apiKey("over-tls") },
      { headers: { authorization: `Bearer ${tb.adminToken}` } },
    );
  });
  afterAll(async () => {
    await tb?.close();
  });

  it("accepts a grpc-js client that trusts the CA, by IP and by name", async () => {
    expect(await grpcInject(`127.0.0.1:${grpcPort}`, grpc.credentials.createSsl(pki.ca))).toBe("ok");
    expect(await grpcInject(`localhost:${grpcPort}`, grpc.credentials.createSsl(pki.ca))).toBe("ok");
  });

  it("accepts a Connect client that trusts the CA, over HTTP/2 and HTTP/1.1", async () => {
    expect(await connectInject(`127.0.0.1:${httpPort}`, "2", { ca: pki.ca })).toBe("ok");
    expect(await connectInject(`127.0.0.1:${httpPort}`, "1.1", { ca: pki.ca })).toBe("ok");
    expect(await connectInject(`localhost:${httpPort}`, "1.1", { ca: pki.ca })).toBe("ok");
  });

  it("refuses plaintext clients", async () => {
    expect(await grpcInject(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure())).toBe("UNAVAILABLE");
    expect(await connectInject(`127.0.0.1:${httpPort}`, "2", {}, "http")).not.toBe("ok");
    expect(await connectInject(`127.0.0.1:${httpPort}`, "1.1", {}, "http")).not.toBe("ok");
  });

  it("is refused by clients that trust another CA", async () => {
    expect(await grpcInject(`127.0.0.1:${grpcPort}`, grpc.credentials.createSsl(pki.otherCa))).toBe("UNAVAILABLE");
    // connect-node reports the failed verification as Internal on HTTP/2 and Unavailable on HTTP/1.1
    expect(await connectInject(`127.0.0.1:${httpPort}`, "2", { ca: pki.otherCa })).toMatch(/^(Unavailable|Internal)$/);
    expect(await connectInject(`127.0.0.1:${httpPort}`, "1.1", { ca: pki.otherCa })).toMatch(/^(Unavailable|Internal)$/);
  });
});

describe("client certificates (mTLS)", () => {
  let tb: TestBroker;
  let grpcAddress: string;
  let httpAddress: string;
  beforeAll(async () => {
    tb = await startTestBroker({ tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.ca } });
    grpcAddress = tb.broker.grpcAddress;
    httpAddress = tb.broker.httpAddress!;
    const admin = createClient(
      SecretService,
      createConnectTransport({
        baseUrl: `https://${httpAddress}`,
        httpVersion: "2",
        nodeOptions: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
      }),
    );
    await admin.createSecret(
      { mode: Mode.TEST, name: "tls-key", credentials: apiKey("over-mtls") },
      { headers: { authorization: `Bearer ${tb.adminToken}` } },
    );
  });
  afterAll(async () => {
    await tb?.close();
  });

  it("accepts clients that present a certificate from the client CA", async () => {
    expect(await grpcInject(grpcAddress, grpc.credentials.createSsl(pki.ca, pki.clientKey, pki.clientCert))).toBe("ok");
    for (const version of ["2", "1.1"] as const) {
      expect(await connectInject(httpAddress, version, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey })).toBe("ok");
    }
  });

  it("records the client certificate's subject and the peer in the audit log", async () => {
    expect(await grpcInject(grpcAddress, grpc.credentials.createSsl(pki.ca, pki.clientKey, pki.clientCert))).toBe("ok");
    expect(await connectInject(httpAddress, "2", { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey })).toBe("ok");
    expect(await connectInject(httpAddress, "1.1", { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey })).toBe("ok");
    const audit = createClient(
      AuditService,
      createConnectTransport({
        baseUrl: `https://${httpAddress}`,
        httpVersion: "2",
        nodeOptions: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
      }),
    );
    const { events } = await audit.listAuditEvents({ name: "tls-key" }, { headers: { authorization: `Bearer ${tb.adminToken}` } });
    const injects = events.filter((e) => e.method.endsWith("/Inject"));
    expect(injects.length).toBeGreaterThanOrEqual(3);
    for (const event of injects.slice(-3)) {
      expect(event.code).toBe("ok");
      expect(event.caller?.tlsSubject).toBe("CN=client");
      expect(event.caller?.peerAddress).toMatch(/127\.0\.0\.1:\d+$/);
    }
  });

  it("refuses clients without a certificate, or with one from another CA", async () => {
    expect(await grpcInject(grpcAddress, grpc.credentials.createSsl(pki.ca))).toBe("UNAVAILABLE");
    expect(await grpcInject(grpcAddress, grpc.credentials.createSsl(pki.ca, pki.strangerKey, pki.strangerCert))).toBe("UNAVAILABLE");
    for (const version of ["2", "1.1"] as const) {
      expect(await connectInject(httpAddress, version, { ca: pki.ca })).not.toBe("ok");
      expect(await connectInject(httpAddress, version, { ca: pki.ca, cert: pki.strangerCert, key: pki.strangerKey })).not.toBe("ok");
    }
  });
});
