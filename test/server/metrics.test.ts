import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";
import { startTokenServer, type TokenServer } from "../support/oidc-server.ts";

/** A scrape in the Prometheus text format, parsed: `# TYPE` lines and samples keyed by name and sorted labels. */
interface Scrape {
  readonly text: string;
  readonly types: Map<string, string>;
  readonly samples: Map<string, number>;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;

function seriesKey(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`);
  return `${name}{${pairs.join(",")}}`;
}

/** Parses the text format strictly: a line that is neither a comment nor a well-formed sample fails the test. */
function parseScrape(text: string): Scrape {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice("# TYPE ".length).split(" ");
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith("# HELP ")) continue;
    const match = sampleLine.exec(line);
    expect(match, `a sample line: ${line}`).not.toBeNull();
    const [, name, rawLabels = "", rawValue] = match!;
    const labels: Record<string, string> = {};
    labelPair.lastIndex = 0;
    while (labelPair.lastIndex < rawLabels.length) {
      const pair = labelPair.exec(rawLabels);
      expect(pair, `labels of: ${line}`).not.toBeNull();
      labels[pair![1]!] = pair![2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    // Prometheus reads values with Go's ParseFloat: NaN in any case (prom-client writes "Nan"), +Inf, -Inf
    const isNaNText = /^nan$/i.test(rawValue!);
    const value = isNaNText ? NaN : rawValue === "+Inf" ? Infinity : rawValue === "-Inf" ? -Infinity : Number(rawValue);
    expect(Number.isNaN(value) && !isNaNText, `a number: ${line}`).toBe(false);
    samples.set(seriesKey(name!, labels), value);
  }
  return { text, types, samples };
}

/** A sample's value; absent series read as 0 (a counter that never moved). */
function value(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  return scrape.samples.get(seriesKey(name, labels)) ?? 0;
}

async function scrape(address: string): Promise<Scrape> {
  const res = await fetch(`http://${address}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseScrape(await res.text());
}

const inject = { service: "credbroker.v1.InjectService", method: "Inject" };
const list = { service: "credbroker.v1.SecretService", method: "ListSecrets" };
const unique = (label: string) => `${label}${randomBytes(6).toString("hex")}`;

describe("the metrics listener", () => {
  let tb: TestBroker;
  let idp: TokenServer;
  const names = { apiKey: unique("mx-api-"), basic: unique("mx-basic-"), oauth: unique("mx-oauth-") };
  const values = {
    apiKey: unique("canaryapikey"),
    username: unique("canaryuser"),
    password: unique("canarypass"),
    clientSecret: unique("canaryclientsecret"),
  };
  let metrics: string;

  beforeAll(async () => {
    idp = await startTokenServer({
      clients: [{ client_id: "mx-client", client_secret: values.clientSecret, grant_types: ["client_credentials"], redirect_uris: [], response_types: [] }],
      ttlSeconds: 600,
    });
    tb = await startTestBroker();
    metrics = tb.broker.metricsAddress!;
    const admin = tb.connect(SecretService, tb.adminToken);
    await admin.createSecret({ mode: Mode.TEST, name: names.apiKey, credentials: { kind: { case: "apiKey", value: { keyName: "X-Key", keyValue: values.apiKey } } } });
    await admin.createSecret({ mode: Mode.TEST, name: names.basic, credentials: { kind: { case: "basicAuth", value: { username: values.username, password: values.password } } } });
    await admin.createSecret({
      mode: Mode.TEST,
      name: names.oauth,
      credentials: { kind: { case: "oauth2ClientCredentials", value: { clientId: "mx-client", clientSecret: values.clientSecret, tokenUrl: idp.tokenUrl } } },
    });
  });
  afterAll(async () => {
    await tb?.close();
    await idp?.stop();
  });

  it("is on a port of its own, which the broker reports", () => {
    expect(metrics).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(metrics).not.toBe(tb.broker.grpcAddress);
    expect(metrics).not.toBe(tb.broker.httpAddress);
    expect(tb.logs()).toContain(`"metrics":"${metrics}"`);
  });

  it("counts calls by service, method and code, and their latencies, on both listeners, exactly", async () => {
    const before = await scrape(metrics);
    const grpc = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    const call = (name: string) => grpc.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name });
    try {
      for (let i = 0; i < 3; i++) expect((await call(names.apiKey)).ok).toBe(true);
      expect((await call(names.basic)).ok).toBe(true);
      await tb.connect(InjectService).inject({ mode: Mode.TEST, name: names.basic, step: StepKind.CODE });
      expect(await call("mx-never-created")).toMatchObject({ ok: false });
      expect(await call("Not A Name")).toMatchObject({ ok: false });
    } finally {
      grpc.close();
    }
    await expect(tb.connect(SecretService).listSecrets({ mode: Mode.TEST })).rejects.toThrow();
    await tb.connect(SecretService, tb.adminToken).listSecrets({ mode: Mode.TEST });
    const after = await scrape(metrics);

    const delta = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    expect(delta("credbroker_requests_total", { ...inject, code: "OK" })).toBe(5);
    expect(delta("credbroker_requests_total", { ...inject, code: "NotFound" })).toBe(1);
    expect(delta("credbroker_requests_total", { ...inject, code: "InvalidArgument" })).toBe(1);
    expect(delta("credbroker_requests_total", { ...list, code: "Unauthenticated" })).toBe(1);
    expect(delta("credbroker_requests_total", { ...list, code: "OK" })).toBe(1);
    expect(delta("credbroker_request_duration_seconds_count", inject)).toBe(7);
    expect(delta("credbroker_request_duration_seconds_count", list)).toBe(2);
    expect(delta("credbroker_request_duration_seconds_sum", inject)).toBeGreaterThan(0);

    // a well-formed histogram: cumulative buckets from 100 µs, +Inf equal to the count
    const bounds = [...after.samples.keys()]
      .filter((key) => key.startsWith("credbroker_request_duration_seconds_bucket{") && key.includes("method=Inject,"))
      .map((key) => /le=([^,}]+)/.exec(key)![1]!);
    expect(bounds[0]).toBe("0.0001");
    expect(bounds.at(-1)).toBe("+Inf");
    const counts = bounds.map((le) => value(after, "credbroker_request_duration_seconds_bucket", { ...inject, le }));
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(counts.at(-1)).toBe(value(after, "credbroker_request_duration_seconds_count", inject));
    expect(after.types.get("credbroker_requests_total")).toBe("counter");
    expect(after.types.get("credbroker_request_duration_seconds")).toBe("histogram");

    // Injects by type and mode: cached answers (the 2nd and 3rd API key call) count too
    expect(delta("credbroker_injects_total", { type: "api_key", mode: "test" })).toBe(3);
    expect(delta("credbroker_injects_total", { type: "basic_auth", mode: "test" })).toBe(2);
    expect(delta("credbroker_injects_total", { type: "bearer_token", mode: "test" })).toBe(0);
    expect(after.samples.has(seriesKey("credbroker_injects_total", { type: "json_credentials", mode: "live" }))).toBe(true);
  });

  it("reports OAuth2 token fetches, cache hits and misses from the token cache", async () => {
    const before = await scrape(metrics);
    const arrivals = idp.arrivals;
    for (let i = 0; i < 3; i++) {
      await tb.connect(InjectService).inject({ mode: Mode.TEST, name: names.oauth });
    }
    const after = await scrape(metrics);
    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(idp.arrivals - arrivals).toBe(1);
    expect(delta("credbroker_oauth2_token_fetches_total")).toBe(1);
    expect(delta("credbroker_oauth2_token_cache_misses_total")).toBe(1);
    expect(delta("credbroker_oauth2_token_cache_hits_total")).toBeGreaterThanOrEqual(2);
    expect(delta("credbroker_oauth2_token_refresh_failures_total")).toBe(0);
    expect(delta("credbroker_injects_total", { type: "oauth2_client_credentials", mode: "test" })).toBe(3);
    expect(after.types.get("credbroker_oauth2_token_fetches_total")).toBe("counter");
  });

  it("reports secrets per mode and the material cache size, computed when scraped", async () => {
    expect(value(await scrape(metrics), "credbroker_secrets", { mode: "live" })).toBe(0);
    await tb.connect(SecretService, tb.adminToken).deploySecrets({ names: [names.apiKey] });
    const after = await scrape(metrics);
    expect(value(after, "credbroker_secrets", { mode: "test" })).toBe(3);
    expect(value(after, "credbroker_secrets", { mode: "live" })).toBe(1);
    expect(after.types.get("credbroker_secrets")).toBe("gauge");
    expect(value(after, "credbroker_material_cache_entries")).toBeGreaterThanOrEqual(2);
  });

  it("includes process and Node.js metrics under their standard names", async () => {
    const after = await scrape(metrics);
    expect(value(after, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(value(after, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(value(after, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
    expect(after.types.get("nodejs_eventloop_lag_seconds")).toBe("gauge");
  });

  it("names no secret and shows no credential value", async () => {
    const { text } = await scrape(metrics);
    for (const canary of [...Object.values(names), ...Object.values(values), tb.adminToken]) {
      expect(text).not.toContain(canary);
    }
  });

  it("serves GET (and HEAD) /metrics and nothing else", async () => {
    for (const path of ["/", "/metrics/", "/metric", "/credbroker.v1.InjectService/Inject", "/debug/pprof"]) {
      expect((await fetch(`http://${metrics}${path}`)).status, path).toBe(404);
    }
    const post = await fetch(`http://${metrics}/metrics`, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const head = await fetch(`http://${metrics}/metrics`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });
});

describe("metrics off", () => {
  it("starts no metrics listener", async () => {
    const tb = await startTestBroker({ metricsListen: "off" });
    try {
      expect(tb.broker.metricsAddress).toBeUndefined();
      expect(tb.logs()).toContain('"metrics":"off"');
      // calls still work without the counters
      await tb.connect(SecretService, tb.adminToken).listSecrets({ mode: Mode.TEST });
    } finally {
      await tb.close();
    }
  });
});
