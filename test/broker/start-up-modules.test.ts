/**
 * What a standalone broker loads on its way to listening: not the fleet's
 * PostgreSQL client, not ssh2 (SFTP key checks and probes), not
 * pino-pretty (terminals only); the OAuth2 client and prom-client only once
 * every listener is up. A real process with a recorder loaded by --import,
 * and a real token server, so that the lazily loaded paths are shown to work.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startBrokerProcess } from "../support/broker-process.ts";
import { canary } from "../support/canary.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";
import type { ModuleLoad } from "../support/module-loads.ts";
import { startTokenServer, type TokenServer } from "../support/oidc-server.ts";

const recorder = join(import.meta.dirname, "../support/module-loads.ts");
const clientSecret = canary("start-up-client");
/** gRPC, HTTP and metrics. */
const listeners = 3;

const packageOf = (url: string) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];

describe("a standalone broker's start-up", () => {
  let idp: TokenServer;
  let work: string;
  let loads: ModuleLoad[];
  let authorization: string | undefined;
  let scrape: { status: number; text: string };

  beforeAll(async () => {
    idp = await startTokenServer({
      clients: [{ grant_types: ["client_credentials"], redirect_uris: [], response_types: [], client_id: "start-up", client_secret: clientSecret }],
    });
    work = await mkdtemp(join(tmpdir(), "credbroker-start-up-"));
    const out = join(work, "loads.jsonl");
    const broker = await startBrokerProcess({ env: { NODE_OPTIONS: `--import ${recorder}`, MODULE_LOADS_OUT: out } });
    try {
      await createClient(SecretService, createConnectTransport({ baseUrl: `http://${broker.httpAddress}`, httpVersion: "2" })).createSecret(
        {
          mode: Mode.TEST,
          name: "crm",
          credentials: { kind: { case: "oauth2ClientCredentials", value: { clientId: "start-up", clientSecret, tokenUrl: idp.tokenUrl } } },
        },
        { headers: { authorization: `Bearer ${broker.adminToken}` } },
      );
      const client = createGrpcJsClient(InjectService, broker.grpcAddress);
      const answer = await client.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "crm" });
      client.close();
      authorization = answer.ok && answer.message.material.case === "http"
        ? answer.message.material.value.headers.find((h) => h.name === "Authorization")?.value
        : undefined;
      const response = await fetch(`http://${broker.metricsAddress}/metrics`);
      scrape = { status: response.status, text: await response.text() };
    } finally {
      expect(await broker.stop()).toBe(0);
    }
    loads = (await readFile(out, "utf8")).split("\n").map((line) => JSON.parse(line) as ModuleLoad);
  });
  afterAll(async () => {
    await idp.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("loads neither the PostgreSQL client, nor ssh2, nor pino-pretty", () => {
    expect(loads.length).toBeGreaterThan(100);
    const loaded = new Set(loads.map((load) => packageOf(load.url)));
    expect(loaded).toContain("lmdb");
    for (const unneeded of ["postgres", "ssh2", "pino-pretty"]) {
      expect(loaded).not.toContain(unneeded);
    }
  });

  it("loads the OAuth2 client and prom-client only once every listener is up, and both work", () => {
    const beforeListening = new Set(loads.filter((load) => load.listening < listeners).map((load) => packageOf(load.url)));
    for (const deferred of ["openid-client", "jose", "prom-client", "@opentelemetry/api"]) {
      expect(beforeListening).not.toContain(deferred);
      expect(loads.some((load) => packageOf(load.url) === deferred)).toBe(true);
    }
    expect(idp.requests.map((request) => request.status)).toEqual([200]);
    expect(authorization).toBe(`Bearer ${idp.requests[0]?.accessToken}`);
    expect(scrape.status).toBe(200);
    expect(scrape.text).toMatch(/^credbroker_requests_total\{[^}]*method="Inject"[^}]*code="OK"[^}]*\} 1$/m);
  });
});
