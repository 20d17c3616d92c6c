import * as http from "node:http";
import * as http2 from "node:http2";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { uiNotBuiltMessage } from "../../src/server/ui-handler.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";

/** The headers every answer under /ui carries, whatever its status. */
const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
};

const indexHtml = '<!doctype html><title>credbroker</title><script type="module" src="/ui/assets/app-abc123.js"></script>\n';
const appJs = 'console.log("credbroker admin");\n';

/** The fixture: a built page with a file of every content type the handler knows. */
const fixtureFiles: Record<string, { body: string | Buffer; type: string }> = {
  "index.html": { body: indexHtml, type: "text/html; charset=utf-8" },
  "assets/app-abc123.js": { body: appJs, type: "text/javascript; charset=utf-8" },
  "assets/app-abc123.js.map": { body: '{"version":3}', type: "application/json" },
  "assets/style-def456.css": { body: "body{margin:0}", type: "text/css; charset=utf-8" },
  "assets/inter-789.woff2": { body: Buffer.from([0x77, 0x4f, 0x46, 0x32]), type: "font/woff2" },
  "logo.svg": { body: "<svg xmlns='http://www.w3.org/2000/svg'/>", type: "image/svg+xml" },
  "logo.png": { body: Buffer.from([0x89, 0x50, 0x4e, 0x47]), type: "image/png" },
  "favicon.ico": { body: Buffer.from([0, 0, 1, 0]), type: "image/x-icon" },
  "manifest.json": { body: "{}", type: "application/json" },
  "robots.txt": { body: "User-agent: *\n", type: "text/plain; charset=utf-8" },
};

async function writeFixture(dir: string): Promise<void> {
  for (const [name, { body }] of Object.entries(fixtureFiles)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), body);
  }
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

type Fetch = (path: string, options?: { method?: string; headers?: Record<string, string> }) => Promise<Answer>;

/** HTTP/1.1 with the path sent exactly as given (no client-side normalisation of `..`). */
function http1(address: string): Fetch {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  return (path, { method = "GET", headers = {} } = {}) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host, port, path, method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on("error", reject);
      req.end();
    });
}

/** Cleartext HTTP/2 (prior knowledge), one session per fetcher. */
function http2Fetch(session: http2.ClientHttp2Session): Fetch {
  return (path, { method = "GET", headers = {} } = {}) =>
    new Promise((resolve, reject) => {
      const stream = session.request({ ":method": method, ":path": path, ...headers });
      const chunks: Buffer[] = [];
      let status = 0;
      let answerHeaders: Answer["headers"] = {};
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        answerHeaders = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(":")));
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => resolve({ status, headers: answerHeaders, body: Buffer.concat(chunks) }));
      stream.on("error", reject);
      stream.end();
    });
}

function expectSecurityHeaders(answer: Answer): void {
  for (const [name, value] of Object.entries(securityHeaders)) {
    expect(answer.headers[name], name).toBe(value);
  }
}

describe.each(["1.1", "2"] as const)("the admin page under /ui/ over HTTP/%s", (version) => {
  let tb: TestBroker;
  let dir: string;
  let fetch: Fetch;
  let session: http2.ClientHttp2Session | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "credbroker-ui-"));
    await writeFixture(dir);
    // a link out of the directory, which must not be served
    await symlink(fileURLToPath(new URL("../../package.json", import.meta.url)), join(dir, "leak.json"));
    tb = await startTestBroker({ uiDir: dir });
    if (version === "2") {
      session = http2.connect(`http://${tb.broker.httpAddress}`);
      fetch = http2Fetch(session);
    } else {
      fetch = http1(tb.broker.httpAddress!);
    }
  });

  afterAll(async () => {
    session?.close();
    await tb.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers /ui/ and /ui/index.html with index.html, never stored", async () => {
    for (const path of ["/ui/", "/ui/index.html", "/ui/?tab=secrets"]) {
      const answer = await fetch(path);
      expect(answer.status, path).toBe(200);
      expect(answer.body.toString()).toBe(indexHtml);
      expect(answer.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(answer.headers["cache-control"]).toBe("no-store");
      expect(answer.headers["content-length"]).toBe(String(Buffer.byteLength(indexHtml)));
      expect(answer.headers["etag"]).toMatch(/^"[A-Za-z0-9_-]+"$/);
      expectSecurityHeaders(answer);
    }
  });

  it("serves every file with its content type; hashed assets are immutable, other files revalidated", async () => {
    for (const [name, { body, type }] of Object.entries(fixtureFiles)) {
      const answer = await fetch(`/ui/${name}?v=1`);
      expect(answer.status, name).toBe(200);
      expect(answer.headers["content-type"], name).toBe(type);
      expect(answer.body.equals(Buffer.from(body)), name).toBe(true);
      const cache = name.endsWith(".html") ? "no-store" : name.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache";
      expect(answer.headers["cache-control"], name).toBe(cache);
      expectSecurityHeaders(answer);
    }
  });

  it("answers If-None-Match with 304 and no body, with the same headers", async () => {
    const first = await fetch("/ui/assets/app-abc123.js");
    const etag = first.headers["etag"] as string;
    expect(etag).toBeTruthy();
    expect((await fetch("/ui/")).headers["etag"]).not.toBe(etag);
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const answer = await fetch("/ui/assets/app-abc123.js", { headers: { "if-none-match": ifNoneMatch } });
      expect(answer.status, ifNoneMatch).toBe(304);
      expect(answer.body.length).toBe(0);
      expect(answer.headers["etag"]).toBe(etag);
      expect(answer.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      expectSecurityHeaders(answer);
    }
    const stale = await fetch("/ui/assets/app-abc123.js", { headers: { "if-none-match": '"stale"' } });
    expect(stale.status).toBe(200);
    expect(stale.body.toString()).toBe(appJs);
  });

  it("answers HEAD with the GET headers and no body", async () => {
    const answer = await fetch("/ui/assets/app-abc123.js", { method: "HEAD" });
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(0);
    expect(answer.headers["content-length"]).toBe(String(Buffer.byteLength(appJs)));
    expect(answer.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expectSecurityHeaders(answer);
    const missing = await fetch("/ui/nope.js", { method: "HEAD" });
    expect(missing.status).toBe(404);
    expect(missing.body.length).toBe(0);
    expectSecurityHeaders(missing);
  });

  it("answers 404 for anything else under /ui/, without an SPA fallback", async () => {
    for (const path of ["/ui/nope.js", "/ui/secrets", "/ui/assets", "/ui/assets/", "/ui//index.html", "/ui/INDEX.HTML"]) {
      const answer = await fetch(path);
      expect(answer.status, path).toBe(404);
      expect(answer.headers["content-type"]).toBe("text/plain; charset=utf-8");
      expect(answer.body.toString()).not.toContain("<!doctype");
      expectSecurityHeaders(answer);
    }
  });

  it("answers 405 with Allow to every method but GET and HEAD", async () => {
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"]) {
      for (const path of ["/ui/", "/ui", "/ui/nope"]) {
        const answer = await fetch(path, { method });
        expect(answer.status, `${method} ${path}`).toBe(405);
        expect(answer.headers["allow"]).toBe("GET, HEAD");
        expectSecurityHeaders(answer);
      }
    }
  });

  it("redirects /ui to /ui/ with 308", async () => {
    for (const path of ["/ui", "/ui?x=1"]) {
      const answer = await fetch(path);
      expect(answer.status, path).toBe(308);
      expect(answer.headers["location"]).toBe("/ui/");
      expectSecurityHeaders(answer);
    }
  });

  it("never answers a file outside the directory", async () => {
    const paths = [
      "/ui/../package.json",
      "/ui/%2e%2e/package.json",
      "/ui/%2E%2E/package.json",
      "/ui/assets/..%2f..%2fpackage.json",
      "/ui/assets/../../package.json",
      "/ui/..%5c..%5cpackage.json",
      "/ui/index.html%00",
      "/ui/%00../package.json",
      "/ui/%ff",
      "/ui/leak.json",
      `/ui/${encodeURIComponent(fileURLToPath(new URL("../../package.json", import.meta.url)))}`,
    ];
    for (const path of paths) {
      const answer = await fetch(path);
      expect(answer.status, path).toBe(404);
      expect(answer.body.toString(), path).not.toContain("credbroker@");
      expect(answer.body.toString(), path).not.toContain('"name"');
      expectSecurityHeaders(answer);
    }
  });

  it("serves what was built at start-up, not files added later", async () => {
    await writeFile(join(dir, "later.txt"), "added after start");
    expect((await fetch("/ui/later.txt")).status).toBe(404);
  });

  it("leaves every other path to the Connect API", async () => {
    const client = tb.connect(SecretService, tb.adminToken, version);
    expect((await client.listSecrets({ mode: Mode.TEST })).secrets).toEqual([]);
    for (const path of ["/uix", "/ui.html", "/"]) {
      const answer = await fetch(path);
      expect(answer.status, path).toBe(404);
      expect(answer.headers["content-security-policy"], path).toBeUndefined();
    }
  });
});

describe("CREDBROKER_UI=off", () => {
  it("answers /ui/ like any unknown path (404) while the Connect API works", async () => {
    const { uiDir } = await loadConfig([], { CREDBROKER_UI: "off" });
    expect(uiDir).toBeUndefined();
    const tb = await startTestBroker({ uiDir });
    try {
      const fetch = http1(tb.broker.httpAddress!);
      for (const path of ["/ui/", "/ui", "/ui/index.html"]) {
        const answer = await fetch(path);
        expect(answer.status, path).toBe(404);
        expect(answer.headers["content-security-policy"]).toBeUndefined();
      }
      const client = tb.connect(SecretService, tb.adminToken);
      expect((await client.listSecrets({ mode: Mode.TEST })).secrets).toEqual([]);
      expect(tb.logs()).not.toContain(uiNotBuiltMessage);
    } finally {
      await tb.close();
    }
  });
});

describe("an admin page that is not built", () => {
  it.each([
    ["a missing directory", async (dir: string) => join(dir, "no-such-dir")],
    [
      "a directory without index.html",
      async (dir: string) => {
        await mkdir(join(dir, "assets"), { recursive: true });
        await writeFile(join(dir, "assets", "app-abc123.js"), appJs);
        return dir;
      },
    ],
  ])("answers 503 on every /ui path for %s, and logs one warning", async (_case, makeDir) => {
    const dir = await mkdtemp(join(tmpdir(), "credbroker-ui-"));
    const tb = await startTestBroker({ uiDir: await makeDir(dir) });
    try {
      for (const version of ["1.1", "2"] as const) {
        const session = version === "2" ? http2.connect(`http://${tb.broker.httpAddress}`) : undefined;
        const fetch = session === undefined ? http1(tb.broker.httpAddress!) : http2Fetch(session);
        try {
          for (const [method, path] of [["GET", "/ui/"], ["GET", "/ui"], ["GET", "/ui/assets/app-abc123.js"], ["POST", "/ui/"]] as const) {
            const answer = await fetch(path, { method });
            expect(answer.status, `${method} ${path}`).toBe(503);
            expect(answer.headers["content-type"]).toBe("text/plain; charset=utf-8");
            expect(answer.body.toString()).toBe(`${uiNotBuiltMessage}\n`);
            expectSecurityHeaders(answer);
          }
        } finally {
          session?.close();
        }
      }
      // the broker still serves its API
      expect((await tb.connect(SecretService, tb.adminToken).listSecrets({ mode: Mode.TEST })).secrets).toEqual([]);
      const warnings = tb
        .logs()
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((line) => line.msg.includes(uiNotBuiltMessage));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.level).toBe(40);
    } finally {
      await tb.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

