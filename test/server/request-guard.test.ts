import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";
import { makePki, type Pki } from "../support/pki.ts";
import { rawExchange, type RawTarget } from "../support/raw-http.ts";

/** Each of these Hosts once ended the process: connect-node built `new URL()` from it and threw. */
const badHosts = ["", "a b", "[", "%zz", "a<b", "127.0.0.1:99999"];
const rpcPaths = ["/grpc.health.v1.Health/Check", "/credbroker.v1.InjectService/Inject"];
const value = "guarded-value-7f3a";

/** HTTP/1.x requests with a broken or missing Host, as raw bytes: Node's client would refuse to send some of them. */
function malformedRequests(path: string, method = "POST"): { what: string; request: string }[] {
  const body = method === "POST" ? "{}" : "";
  const tail = `content-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
  return [
    ...badHosts.map((host) => ({ what: `Host ${JSON.stringify(host)}`, request: `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n${tail}` })),
    { what: "HTTP/1.0 without Host", request: `${method} ${path} HTTP/1.0\r\n${tail}` },
    { what: "two Hosts", request: `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nhost: 127.0.0.2\r\n${tail}` },
  ];
}

/** One HTTP/2 request with the given :authority; its status, or "reset" when the stream was refused below the handler (nghttp2 checks some). */
function h2Status(url: string, authority: string, ca: Buffer | undefined): Promise<number | "reset"> {
  return new Promise((resolve) => {
    const session = http2.connect(url, ca === undefined ? {} : { ca });
    session.on("error", () => resolve("reset"));
    const req = session.request({ ":method": "POST", ":path": rpcPaths[0]!, ":authority": authority, "content-type": "application/json" });
    req.on("response", (headers) => resolve(Number(headers[":status"])));
    req.on("error", () => resolve("reset"));
    req.on("close", () => session.close());
    req.resume();
    req.end("{}");
  });
}

describe.each([
  { transport: "cleartext", tls: false },
  { transport: "TLS", tls: true },
])("malformed requests to a broker process ($transport)", ({ tls }) => {
  let broker: BrokerProcess;
  let pki: Pki | undefined;
  let http: RawTarget;
  let baseUrl: string;
  beforeAll(async () => {
    pki = tls ? await makePki() : undefined;
    broker = await startBrokerProcess({
      args: pki === undefined ? [] : ["--tls-cert-file", `${pki.dir}/server.crt`, "--tls-key-file", `${pki.dir}/server.key`],
    });
    http = { address: broker.httpAddress, ca: pki?.ca };
    baseUrl = `${tls ? "https" : "http"}://${broker.httpAddress}`;
    const admin = createClient(
      SecretService,
      createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ca: pki?.ca } }),
    );
    await admin.createSecret(
      { mode: Mode.TEST, name: "guarded", credentials: { kind: { case: "apiKey", value: { keyName: "X-Key", keyValue: value } } } },
      { headers: { authorization: `Bearer ${broker.adminToken}` } },
    );
  });
  afterAll(async () => {
    await broker.stop();
  });

  it("answers each with 400 or INVALID_ARGUMENT, logs it without header values, and keeps serving", { timeout: 60_000 }, async () => {
    const answers: string[] = [];
    const targets = [
      ...rpcPaths.map((path) => ({ target: http, requests: malformedRequests(path) })),
      { target: http, requests: malformedRequests("/ui/", "GET") },
      ...(tls ? [] : [{ target: { address: broker.metricsAddress }, requests: malformedRequests("/metrics", "GET") }]),
    ];
    for (const { target, requests } of targets) {
      for (const { what, request } of requests) {
        const answer = await rawExchange(target, request);
        answers.push(`${target.address} ${request.split(" ", 2)[1]} ${what}: ${answer.status}`);
        expect(answer.status, `${what} ${request.split(" ", 2)[1]}`).toBe(400);
        expect(broker.child.exitCode).toBeNull();
      }
    }
    // an RPC content type gets its protocol's INVALID_ARGUMENT
    const withType = (type: string) =>
      rawExchange(http, `POST ${rpcPaths[1]} HTTP/1.1\r\nhost: a b\r\ncontent-type: ${type}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    for (const type of ["application/grpc", "application/grpc-web+proto"]) {
      const answer = await withType(type);
      expect(answer.status).toBe(200);
      expect(answer.text).toMatch(/\r\ngrpc-status: 3\r\n/);
    }
    const stream = await withType("application/connect+json");
    expect(stream.status).toBe(200);
    expect(stream.text).toContain('{"error":{"code":"invalid_argument"');
    // over HTTP/2 the same Hosts as :authority: those nghttp2 lets through reach the guard
    const h2: Record<string, number | "reset"> = {};
    for (const host of badHosts) {
      h2[host] = await h2Status(baseUrl, host, pki?.ca);
      expect([400, "reset"]).toContain(h2[host]);
    }
    expect(h2["%zz"]).toBe(400);
    expect(h2["127.0.0.1:99999"]).toBe(400);
    console.log(`${answers.length} malformed HTTP/1.x requests answered 400; HTTP/2 :authority: ${JSON.stringify(h2)}`);

    expect(broker.child.exitCode).toBeNull();
    const health = await rawExchange(
      http,
      `POST ${rpcPaths[0]} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`,
    );
    expect(health.text).toContain('{"status":"SERVING"}');
    const injectOver = [
      createClient(InjectService, createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ca: pki?.ca } })),
      createClient(InjectService, createGrpcTransport({ baseUrl: `${tls ? "https" : "http"}://${broker.grpcAddress}`, nodeOptions: { ca: pki?.ca } })),
    ];
    for (const inject of injectOver) {
      const res = await inject.inject({ mode: Mode.TEST, name: "guarded" });
      expect(res.material.case === "http" ? res.material.value.headers[0]?.value : undefined).toBe(value);
    }
    const log = broker.stderr();
    expect(log.match(/"refused a malformed request"/g)?.length).toBeGreaterThanOrEqual(answers.length);
    expect(log).not.toContain("Invalid URL");
    expect(log).not.toContain(broker.adminToken);
    expect(log).not.toContain(value);
  });
});
