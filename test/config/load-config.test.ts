/**
 * loadConfig over the settings table: each setting from its flag, its
 * variable or its default; parse mistakes, and the rules across settings,
 * as ConfigErrors that name the setting and never a secret's value; and
 * `credbroker serve` exiting 2 on them.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.ts";
import { defaultConfig, loadConfig } from "../../src/config/config.ts";
import { packageUiDir } from "../../src/config/setting-parsers.ts";
import { makePki, type Pki } from "../support/pki.ts";
import { serveOnce } from "../support/serve-once.ts";

let pki: Pki;
beforeAll(async () => {
  pki = await makePki();
});
afterAll(async () => {
  await rm(pki.dir, { recursive: true, force: true });
});

describe("defaults", () => {
  it("are the settings table's: what serve runs with no flags and an empty environment", async () => {
    const config = await defaultConfig();
    expect(config).toMatchObject({
      dataDir: join(process.cwd(), "data"),
      listen: "127.0.0.1:7390",
      httpListen: "127.0.0.1:7391",
      metricsListen: "127.0.0.1:9464",
      uiDir: packageUiDir,
      masterKey: undefined,
      adminToken: undefined,
      injectToken: undefined,
      tls: undefined,
      socketGroup: undefined,
      maxConnections: undefined,
      materialCacheSize: 10_000,
      oauthTokenCacheSize: 1000,
      oauthDefaultTtlSeconds: 300,
      oauthTimeoutMs: 10_000,
      auditMaxEvents: 1_000_000,
      auditMaxRefusedEvents: undefined,
      auditMaxAgeDays: 90,
      logLevel: "info",
    });
  });
});

describe("listener addresses", () => {
  it("are parsed by loadConfig: a bad one is a ConfigError naming the flag or variable it came from", async () => {
    expect((await loadConfig(["--listen", "unix:/run/credbroker.sock"], {})).listen).toBe("unix:/run/credbroker.sock");
    expect((await loadConfig([], { CREDBROKER_HTTP_LISTEN: "[::1]:8080" })).httpListen).toBe("[::1]:8080");
    await expect(loadConfig(["--listen", "nonsense"], {})).rejects.toThrow(ConfigError);
    await expect(loadConfig(["--listen", "nonsense"], {})).rejects.toThrow(/^--listen: expected host:port or unix:\/path/);
    await expect(loadConfig([], { CREDBROKER_HTTP_LISTEN: "127.0.0.1:99999" })).rejects.toThrow(/^CREDBROKER_HTTP_LISTEN: /);
    await expect(loadConfig([], { CREDBROKER_METRICS_LISTEN: "unix:relative.sock" })).rejects.toThrow(/^CREDBROKER_METRICS_LISTEN: .*absolute/);
  });

  it("make serve exit 2 before anything listens or the data dir is made", async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), "credbroker-bad-listen-")), "untouched");
    try {
      for (const args of [["--listen", "nonsense"], ["--http-listen", "localhost"], ["--metrics-listen", "unix:x"]]) {
        const run = await serveOnce(["--data-dir", dataDir, ...args]);
        expect(run, args.join(" ")).toMatchObject({ code: 2, served: false });
        expect(run.stderr).toMatch(new RegExp(`^credbroker: ${args[0]}: `));
      }
      await expect(import("node:fs/promises").then((fs) => fs.stat(dataDir))).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      await rm(join(dataDir, ".."), { recursive: true, force: true });
    }
  });

  it("is read from --metrics-listen over CREDBROKER_METRICS_LISTEN, default 127.0.0.1:9464", async () => {
    expect((await loadConfig([], {})).metricsListen).toBe("127.0.0.1:9464");
    expect((await loadConfig([], { CREDBROKER_METRICS_LISTEN: "off" })).metricsListen).toBe("off");
    expect((await loadConfig(["--metrics-listen", "0.0.0.0:9100"], { CREDBROKER_METRICS_LISTEN: "off" })).metricsListen).toBe("0.0.0.0:9100");
  });
});

describe("secrets", () => {
  it("never put a value in a message: an empty, malformed, short or shared one is named by its setting", async () => {
    const short = "short-but-secret-9f3a";
    const shared = randomBytes(24).toString("base64url");
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ CREDBROKER_ADMIN_TOKEN: "" }, /CREDBROKER_ADMIN_TOKEN must be a non-empty token/],
      [{ CREDBROKER_MASTER_KEY: "" }, /CREDBROKER_MASTER_KEY must be the base64 encoding of 32 random bytes/],
      [{ CREDBROKER_MASTER_KEY: short }, /CREDBROKER_MASTER_KEY must be the base64/],
      [{ CREDBROKER_INJECT_TOKEN: short }, /CREDBROKER_INJECT_TOKEN must be at least 32 characters/],
      [{ CREDBROKER_ADMIN_TOKEN: shared, CREDBROKER_INJECT_TOKEN_LIVE: shared }, /CREDBROKER_ADMIN_TOKEN and CREDBROKER_INJECT_TOKEN_LIVE hold the same token/],
    ];
    for (const [env, message] of cases) {
      const error = await loadConfig([], env).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain(short);
      expect((error as Error).message).not.toContain(shared);
    }
  });

  it("come from the file a --*-file flag names, over the variable, and the source says which", async () => {
    const dir = await mkdtemp(join(tmpdir(), "credbroker-secret-files-"));
    try {
      const key = randomBytes(32).toString("base64");
      await writeFile(join(dir, "master.key"), `${key}\n`);
      const config = await loadConfig(["--master-key-file", join(dir, "master.key")], { CREDBROKER_MASTER_KEY: "ignored" });
      expect(Buffer.from(config.masterKey!.value).toString("base64")).toBe(key);
      expect(config.masterKey!.source).toBe(`--master-key-file ${join(dir, "master.key")}`);
      await expect(loadConfig(["--admin-token-file", join(dir, "absent")], {})).rejects.toThrow(/^--admin-token-file: cannot read .*absent \(ENOENT\)$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it("reads the scoped tokens from the environment, and from files given by flags", async () => {
    const dir = await import("node:fs/promises").then((fs) => fs.mkdtemp(join(process.env["TMPDIR"] ?? "/tmp", "credbroker-tokens-")));
    await writeFile(join(dir, "test.token"), "from-file-test-5b0e9a2c7d14f3e80\n");
    await writeFile(join(dir, "live.token"), "from-file-live-8c3f1d6a0e92b7c40\n");
    const env = { CREDBROKER_INJECT_TOKEN_TEST: "env-test-token-1f7c3a9e5d20b8640", CREDBROKER_INJECT_TOKEN_LIVE: "env-live-token-6d2b8e0f4a19c7350" };
    const fromEnv = await loadConfig([], env);
    expect(fromEnv.injectTokenTest).toEqual({ value: "env-test-token-1f7c3a9e5d20b8640", source: "CREDBROKER_INJECT_TOKEN_TEST" });
    expect(fromEnv.injectTokenLive).toEqual({ value: "env-live-token-6d2b8e0f4a19c7350", source: "CREDBROKER_INJECT_TOKEN_LIVE" });
    const fromFiles = await loadConfig(
      ["--inject-token-test-file", join(dir, "test.token"), "--inject-token-live-file", join(dir, "live.token")],
      env,
    );
    expect(fromFiles.injectTokenTest?.value).toBe("from-file-test-5b0e9a2c7d14f3e80");
    expect(fromFiles.injectTokenLive?.value).toBe("from-file-live-8c3f1d6a0e92b7c40");
    await expect(loadConfig([], { CREDBROKER_INJECT_TOKEN_LIVE: "two words" })).rejects.toThrow(/CREDBROKER_INJECT_TOKEN_LIVE/);
  });
});

describe("the connection cap", () => {
  it("comes from --max-connections over CREDBROKER_MAX_CONNECTIONS, a whole number of at least 1; unset, the default applies", async () => {
    expect((await loadConfig([], {})).maxConnections).toBeUndefined();
    expect((await loadConfig([], { CREDBROKER_MAX_CONNECTIONS: "70" })).maxConnections).toBe(70);
    expect((await loadConfig(["--max-connections", "50"], { CREDBROKER_MAX_CONNECTIONS: "70" })).maxConnections).toBe(50);
    for (const bad of ["0", "-1", "many"]) {
      await expect(loadConfig([], { CREDBROKER_MAX_CONNECTIONS: bad })).rejects.toThrow(ConfigError);
    }
    await expect(loadConfig(["--max-connections", "0"], {})).rejects.toThrow(/--max-connections/);
  });

});

describe("unix sockets and TLS", () => {
  it("reads CREDBROKER_SOCKET_GROUP as a name or a gid", async () => {
    expect((await loadConfig([], { CREDBROKER_SOCKET_GROUP: "daemon" })).socketGroup).toBe(1);
    expect((await loadConfig(["--socket-group", "4242"], { CREDBROKER_SOCKET_GROUP: "daemon" })).socketGroup).toBe(4242);
    await expect(loadConfig([], { CREDBROKER_SOCKET_GROUP: "no-such-group-x" })).rejects.toThrow(/CREDBROKER_SOCKET_GROUP/);
  });

  it("reads the certificate files named by the variables and flags, and refuses half a setting", async () => {
    const files = (name: string) => join(pki.dir, name);
    const config = await loadConfig(["--tls-cert-file", files("server.crt")], {
      CREDBROKER_TLS_KEY_FILE: files("server.key"),
      CREDBROKER_TLS_CLIENT_CA_FILE: files("ca.crt"),
    });
    expect(config.tls).toEqual({ cert: pki.serverCert, key: pki.serverKey, clientCa: pki.ca });
    await expect(loadConfig([], { CREDBROKER_TLS_CERT_FILE: files("server.crt") })).rejects.toThrow(/CREDBROKER_TLS_KEY_FILE/);
    await expect(loadConfig([], { CREDBROKER_TLS_CLIENT_CA_FILE: files("ca.crt") })).rejects.toThrow(/CREDBROKER_TLS_CERT_FILE/);
    await expect(
      loadConfig([], { CREDBROKER_TLS_CERT_FILE: files("server.crt"), CREDBROKER_TLS_KEY_FILE: files("client.key") }),
    ).rejects.toThrow(/not a usable PEM/);
  });
});

describe("CREDBROKER_UI and --ui", () => {
  const packageDist = fileURLToPath(new URL("../../dist/ui/", import.meta.url));

  it("default on: the package's dist/ui, found from the module rather than the working directory", async () => {
    expect(packageUiDir).toBe(packageDist);
    expect((await loadConfig([], {})).uiDir).toBe(packageDist);
    expect((await loadConfig([], { CREDBROKER_UI: "" })).uiDir).toBe(packageDist);
    expect((await loadConfig([], { CREDBROKER_UI: "on" })).uiDir).toBe(packageDist);
  });

  it("off turns the page off; the flag wins over the variable", async () => {
    expect((await loadConfig([], { CREDBROKER_UI: "off" })).uiDir).toBeUndefined();
    expect((await loadConfig(["--ui", "off"], { CREDBROKER_UI: "on" })).uiDir).toBeUndefined();
    expect((await loadConfig(["--ui", "on"], { CREDBROKER_UI: "off" })).uiDir).toBe(packageDist);
  });

  it("refuses anything but on or off, naming the variable or flag", async () => {
    await expect(loadConfig([], { CREDBROKER_UI: "yes" })).rejects.toThrow(ConfigError);
    await expect(loadConfig([], { CREDBROKER_UI: "yes" })).rejects.toThrow(/CREDBROKER_UI must be "on" or "off"/);
    await expect(loadConfig(["--ui", "OFF"], {})).rejects.toThrow(/--ui must be "on" or "off"/);
  });
});
