/**
 * The HTTP listener's guard against web pages of other origins: a foreign
 * Origin or Sec-Fetch-Site, and (on a cleartext listener) a Host that is no
 * loopback address, as a DNS-rebound page would send. Raw HTTP/1.1 requests
 * against a real broker, since a browser's headers are what is tested.
 */
import { request } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditService } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { browserRequestProblem } from "../../src/server/browser-guard.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";

const canary = "CANARY-rebinding-7f3a";
const injectBody = JSON.stringify({ mode: "MODE_LIVE", name: "payments", step: "STEP_KIND_HTTP" });

interface Answer {
  status: number;
  body: string;
}

/** One HTTP/1.1 request with exactly these headers (Host included), to a TCP port or a unix socket. */
function send(target: { port: number } | { socketPath: string }, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target, host: "127.0.0.1", method, path, headers, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("browser guard on the HTTP listener", () => {
  let tb: TestBroker;
  let port: number;
  const inject = (headers: Record<string, string>) =>
    send({ port }, "POST", "/credbroker.v1.InjectService/Inject", { "content-type": "application/json", ...headers }, injectBody);

  beforeAll(async () => {
    // no inject token: Inject is open to local callers, which is what a foreign page would abuse
    tb = await startTestBroker();
    port = Number(tb.broker.httpAddress!.split(":").at(-1));
    await tb.connect(SecretService, tb.adminToken).createSecret({
      mode: Mode.LIVE,
      name: "payments",
      credentials: { kind: { case: "bearerToken", value: { token: canary } } },
    });
  });

  afterAll(() => tb.close());

  it("answers tools and same-origin pages: no Origin, loopback Hosts, the page's own origin", async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `127.1.2.3:${port}`]) {
      const answer = await inject({ host });
      expect(answer.status, host).toBe(200);
      expect(answer.body).toContain(canary);
    }
    const page = await inject({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, "sec-fetch-site": "same-origin" });
    expect(page.status).toBe(200);
    const typed = await inject({ host: `localhost:${port}`, "sec-fetch-site": "none" });
    expect(typed.status).toBe(200);
  });

  it.each([
    ["a DNS name rebound to 127.0.0.1 (same origin to the browser)", (port: number) => ({ host: `evil.example:${port}`, origin: `http://evil.example:${port}`, "sec-fetch-site": "same-origin" })],
    ["a rebound name, a GET without Origin", (port: number) => ({ host: `evil.example:${port}` })],
    ["another origin", (port: number) => ({ host: `127.0.0.1:${port}`, origin: "http://evil.example" })],
    ["another port of the same host", (port: number) => ({ host: `127.0.0.1:${port}`, origin: "http://127.0.0.1:3000" })],
    ["a sandboxed frame (Origin: null)", (port: number) => ({ host: `127.0.0.1:${port}`, origin: "null" })],
    ["a cross-site fetch", (port: number) => ({ host: `127.0.0.1:${port}`, "sec-fetch-site": "cross-site" })],
    ["a same-site fetch from another port", (port: number) => ({ host: `localhost:${port}`, "sec-fetch-site": "same-site" })],
  ] as const)("refuses %s with PERMISSION_DENIED, before any material is made", async (_case, headers) => {
    const answer = await inject(headers(port));
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ code: "permission_denied" });
    expect(answer.body).not.toContain(canary);
  });

  it("refuses a Connect GET from a rebound name as well", async () => {
    const query = new URLSearchParams({ connect: "v1", encoding: "json", message: injectBody });
    const ok = await send({ port }, "GET", `/credbroker.v1.InjectService/Inject?${query}`, { host: `127.0.0.1:${port}` });
    expect(ok.status).toBe(200);
    const rebound = await send({ port }, "GET", `/credbroker.v1.InjectService/Inject?${query}`, { host: `evil.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.body).not.toContain(canary);
  });

  it("logs and audits each refusal like any answer, naming no value", async () => {
    const refusals = () => tb.logs().split("\n").filter((line) => line.includes('"code":"PermissionDenied"'));
    await expect.poll(() => refusals().length).toBeGreaterThanOrEqual(8);
    expect(refusals().filter((line) => line.includes("another DNS name")).length).toBe(3);
    expect(refusals().filter((line) => line.includes("other origins")).length).toBe(5);
    expect(tb.logs()).not.toContain(canary);
    const audit = await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000, name: "payments" });
    expect(audit.events.filter((event) => event.code === "permission_denied")).toHaveLength(8);
  });
});

describe("browser guard on a unix socket listener", () => {
  it("takes any Host there: no browser reaches a unix socket", async () => {
    const dir = await mkdtemp(join(tmpdir(), "credbroker-guard-"));
    const socketPath = join(dir, "http.sock");
    const tb = await startTestBroker({ httpListen: `unix:${socketPath}` });
    try {
      const answer = await send({ socketPath }, "POST", "/credbroker.v1.SecretService/ListSecrets", {
        host: "credbroker",
        "content-type": "application/json",
        authorization: `Bearer ${tb.adminToken}`,
      }, JSON.stringify({ mode: "MODE_TEST" }));
      expect(answer.status).toBe(200);
    } finally {
      await tb.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("browserRequestProblem", () => {
  const headers = (init: Record<string, string>) => new Headers(init);
  it("takes IP literals and localhost names as Host on a cleartext listener, and refuses other DNS names", () => {
    for (const url of ["http://[::1]:7391/x", "http://0.0.0.0:7391/x", "http://127.0.0.1/x", "http://app.localhost:7391/x"]) {
      expect(browserRequestProblem(url, headers({}), true), url).toBeUndefined();
    }
    for (const url of ["http://evil.example:7391/x", "http://localhost.evil.example:7391/x", "http://127.0.0.1.nip.io:7391/x"]) {
      expect(browserRequestProblem(url, headers({}), true), url).toMatch(/not to another DNS name/);
    }
  });
  it("takes any Host with TLS (a rebound name would not match the certificate), but still checks Origin", () => {
    expect(browserRequestProblem("https://credbroker.internal:7391/x", headers({}), false)).toBeUndefined();
    expect(browserRequestProblem("https://credbroker.internal:7391/x", headers({ origin: "https://credbroker.internal:7391" }), false)).toBeUndefined();
    expect(browserRequestProblem("https://credbroker.internal:7391/x", headers({ origin: "https://evil.example" }), false)).toMatch(/other origins/);
  });
  it("judges each URL as a fresh parse would, whatever URL of the same prefix it saw before (the guard keeps parsed prefixes)", () => {
    // each pair shares the text before the first "/" after "//"; the host ends at "/", "\\", "?" or "#" within it
    const urls = [
      "http://127.0.0.1?evil.example/x",
      "http://127.0.0.1?evil.example/y",
      "http://evil.example\\127.0.0.1/x",
      "http://evil.example\\127.0.0.1/y",
      "http://127.0.0.1#evil.example/x",
      "http://evil.example#127.0.0.1/x",
      "http://127.0.0.1@evil.example/x",
      "http://evil.example@127.0.0.1/x",
      "http://evil.example@127.0.0.1/y",
    ];
    for (const pass of [1, 2]) {
      for (const url of pass === 1 ? urls : [...urls].reverse()) {
        const parsed = new URL(url);
        const rebindProof = /^(?:127\.0\.0\.1|\[::1\]|localhost)$/.test(parsed.hostname);
        expect(browserRequestProblem(url, headers({}), true), url).toEqual(rebindProof ? undefined : expect.stringMatching(/not to another DNS name/));
        expect(browserRequestProblem(url, headers({ origin: parsed.origin }), false), url).toBeUndefined();
        expect(browserRequestProblem(url, headers({ origin: "http://other.example" }), false), url).toMatch(/other origins/);
      }
    }
  });
});
