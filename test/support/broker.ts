import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, type ConnectTransportOptions } from "@connectrpc/connect-node";
import { randomBytes } from "node:crypto";
import { defaultConfig, type Config } from "../../src/config/config.ts";
import { checkConfig } from "../../src/config/config-rules.ts";
import { createLogger } from "../../src/server/logger.ts";
import { startBroker, type Broker, type BrokerOptions } from "../../src/broker/start-broker.ts";

/** A broker on port 0 in a temp dir, with its log lines captured. */
export interface TestBroker {
  readonly broker: Broker;
  readonly dataDir: string;
  readonly adminToken: string;
  readonly masterKey: Uint8Array;
  /** Every log line written so far. */
  logs(): string;
  /** A Connect-protocol client on the HTTP listener (HTTP/1.1 unless told otherwise). */
  connect<S extends DescService>(service: S, token?: string, httpVersion?: "1.1" | "2"): Client<S>;
  /** A gRPC client through connect-node on the gRPC listener. */
  grpcOverConnect<S extends DescService>(service: S, token?: string): Client<S>;
  /** Stops the broker; removes the data dir unless keepData. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** Transport options that reach an address: `host:port` or `unix:/path`. */
function endpoint(address: string): { baseUrl: string } | { baseUrl: string; nodeOptions: { socketPath: string } } {
  return address.startsWith("unix:")
    ? { baseUrl: "http://localhost", nodeOptions: { socketPath: address.slice("unix:".length) } }
    : { baseUrl: `http://${address}` };
}

/** Starts a real broker: real LMDB in a temp dir, every listener (gRPC, HTTP, metrics) on port 0. */
export async function startTestBroker(overrides: Partial<Config> = {}, brokerOptions: BrokerOptions = {}): Promise<TestBroker> {
  const dataDir = overrides.dataDir ?? (await mkdtemp(join(tmpdir(), "credbroker-test-")));
  const masterKey = overrides.masterKey?.value ?? new Uint8Array(randomBytes(32));
  const adminToken = overrides.adminToken?.value ?? randomBytes(24).toString("base64url");
  const config: Config = {
    ...(await defaultConfig()),
    dataDir,
    listen: "127.0.0.1:0",
    httpListen: "127.0.0.1:0",
    metricsListen: "127.0.0.1:0",
    // off unless a test passes a directory: most tests are about the API
    uiDir: undefined,
    masterKey: { value: masterKey, source: "test" },
    adminToken: { value: adminToken, source: "test" },
    // small caches and a short token fetch, so that tests reach their limits quickly
    materialCacheSize: 100,
    oauthTokenCacheSize: 100,
    oauthTimeoutMs: 3000,
    logLevel: "debug",
    ...overrides,
  };
  // the rules loadConfig applies to what it read
  checkConfig(config);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString("utf8"));
      callback();
    },
  });
  const broker = await startBroker(config, createLogger(config.logLevel, sink), brokerOptions);
  const headers = (token: string | undefined): Record<string, string> =>
    token === undefined ? {} : { authorization: `Bearer ${token}` };
  return {
    broker,
    dataDir,
    adminToken,
    masterKey,
    logs: () => lines.join(""),
    connect: (service, token, httpVersion = "1.1") =>
      createClient(
        service,
        // unix sockets are reached over HTTP/1.1 (nodeOptions.socketPath); the union type cannot say so
        createConnectTransport({
          ...endpoint(broker.httpAddress ?? ""),
          httpVersion,
          interceptors: [(next) => (req) => {
            for (const [k, v] of Object.entries(headers(token))) req.header.set(k, v);
            return next(req);
          }],
        } as ConnectTransportOptions),
      ),
    grpcOverConnect: (service, token) =>
      createClient(
        service,
        createGrpcTransport({
          baseUrl: `http://${broker.grpcAddress}`,
          interceptors: [(next) => (req) => {
            for (const [k, v] of Object.entries(headers(token))) req.header.set(k, v);
            return next(req);
          }],
        }),
      ),
    async close({ keepData = false } = {}) {
      await broker.close(1000);
      if (!keepData) {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}
