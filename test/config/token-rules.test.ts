/**
 * The token rules at start-up (src/config/config-rules.ts): each configured
 * token at least 32 characters, no token in two roles, the data dir's
 * admin.token checked like a configured one; a refused start touches no data
 * dir and `credbroker serve` exits 2 naming the settings, never the values.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.ts";
import { startTestBroker } from "../support/broker.ts";
import { serveOnce } from "../support/serve-once.ts";

describe("token rules at start-up", () => {
  const roles = ["adminToken", "injectToken", "injectTokenTest", "injectTokenLive"] as const;
  const settings = {
    adminToken: "CREDBROKER_ADMIN_TOKEN",
    injectToken: "CREDBROKER_INJECT_TOKEN",
    injectTokenTest: "CREDBROKER_INJECT_TOKEN_TEST",
    injectTokenLive: "CREDBROKER_INJECT_TOKEN_LIVE",
  } as const;
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "credbroker-token-rules-"));
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  /** The ConfigError a start with these tokens fails with; the data dir it names must stay untouched. */
  async function refusal(tokens: Partial<Record<(typeof roles)[number], string>>): Promise<ConfigError> {
    const dataDir = join(scratch, `untouched-${randomBytes(4).toString("hex")}`);
    const overrides = Object.fromEntries(Object.entries(tokens).map(([role, value]) => [role, { value, source: settings[role as keyof typeof settings] }]));
    const error = await startTestBroker({ dataDir, ...overrides }).then(
      async (tb) => {
        await tb.close();
        throw new Error(`started with ${Object.keys(tokens).join(", ")}`);
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    await expect(stat(dataDir)).rejects.toMatchObject({ code: "ENOENT" });
    return error as ConfigError;
  }

  it("refuses a token shorter than 32 characters in every role, naming the setting and never the value", async () => {
    const short = "canary-short-token-3f9a1c7e0b2d"; // 31 characters
    for (const role of roles) {
      const error = await refusal({ [role]: short });
      expect(error.message).toContain(`${settings[role]} must be at least 32 characters`);
      expect(error.message).not.toContain(short);
    }
    const exactly32 = `${short}x`;
    const tb = await startTestBroker({ adminToken: { value: exactly32, source: "CREDBROKER_ADMIN_TOKEN" }, injectToken: { value: `${short}y`, source: "test" } });
    await tb.close();
  });

  it("refuses one token in two roles, for every pair of admin, inject, test-only and live-only", async () => {
    const shared = `canary-shared-${randomBytes(18).toString("base64url")}`;
    for (const [index, first] of roles.entries()) {
      for (const second of roles.slice(index + 1)) {
        const error = await refusal({ [first]: shared, [second]: shared });
        expect(error.message).toBe(
          `${settings[first]} and ${settings[second]} hold the same token; the admin, inject, test-only and live-only tokens must all differ`,
        );
      }
    }
  });

  it("checks the data dir's admin.token like a configured one", async () => {
    const withAdminToken = async (content: string) => {
      const dataDir = await mkdtemp(join(scratch, "generated-"));
      await writeFile(join(dataDir, "admin.token"), `${content}\n`, { mode: 0o600 });
      return { dataDir, path: join(dataDir, "admin.token") };
    };
    const generated = randomBytes(32).toString("base64url");
    const copied = await withAdminToken(generated);
    await expect(
      startTestBroker({ dataDir: copied.dataDir, adminToken: undefined, injectTokenTest: { value: generated, source: "CREDBROKER_INJECT_TOKEN_TEST" } }),
    ).rejects.toThrow(`${copied.path} and CREDBROKER_INJECT_TOKEN_TEST hold the same token`);
    const edited = await withAdminToken("canary-edited");
    await expect(startTestBroker({ dataDir: edited.dataDir, adminToken: undefined })).rejects.toThrow(`${edited.path} must be at least 32 characters`);
  });

  it("makes `credbroker serve` exit 2 with the settings named, never the values", async () => {
    const dataDir = join(scratch, "serve");
    const short = await serveOnce(["--data-dir", dataDir], { CREDBROKER_ADMIN_TOKEN: "x" });
    expect(short).toMatchObject({ code: 2, served: false });
    expect(short.stderr).toContain("CREDBROKER_ADMIN_TOKEN must be at least 32 characters");
    const live = `canary-live-${randomBytes(18).toString("base64url")}`;
    const reused = await serveOnce(["--data-dir", dataDir], { CREDBROKER_INJECT_TOKEN_TEST: live, CREDBROKER_INJECT_TOKEN_LIVE: live });
    expect(reused).toMatchObject({ code: 2, served: false });
    expect(reused.stderr).toContain("CREDBROKER_INJECT_TOKEN_TEST and CREDBROKER_INJECT_TOKEN_LIVE hold the same token");
    expect(reused.stderr).not.toContain(live);
    await expect(stat(dataDir)).rejects.toMatchObject({ code: "ENOENT" });
  });
});

