/**
 * The fleet settings: the PostgreSQL URL from its variable or a file (it
 * holds a password, which no message repeats), the schema and the instance
 * id; and the rule that fleet mode needs a configured master key and admin
 * token, exit 2 from `credbroker serve` otherwise.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.ts";
import { loadConfig } from "../../src/config/config.ts";
import { runCli } from "../support/run-cli.ts";

const password = `pw-canary-${randomBytes(8).toString("hex")}`;
const url = `postgres://credbroker:${password}@db.internal:5432/automations`;
const fleetKeys = { CREDBROKER_MASTER_KEY: randomBytes(32).toString("base64"), CREDBROKER_ADMIN_TOKEN: randomBytes(24).toString("base64url") };

/** The ConfigError loadConfig throws, checked to quote no part of the password. */
async function refusal(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const error = await loadConfig(args, env).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ConfigError);
  const message = (error as Error).message;
  for (const form of [password, Buffer.from(password).toString("base64"), Buffer.from(password).toString("hex")]) {
    expect(message).not.toContain(form);
  }
  return message;
}

describe("fleet settings", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "credbroker-fleet-settings-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("are standalone, schema credbroker and the host name by default", async () => {
    const config = await loadConfig([], {});
    expect(config.postgresUrl).toBeUndefined();
    expect(config.postgresSchema).toBe("credbroker");
    expect(config.instanceId).toBe(hostname());
  });

  it("read the URL from CREDBROKER_POSTGRES_URL or from the file --postgres-url-file names, and the schema and instance id", async () => {
    const file = join(dir, "postgres-url");
    await writeFile(file, `${url}\n`, { mode: 0o600 });
    const fromFile = await loadConfig(["--postgres-url-file", file, "--postgres-schema", "engine_secrets", "--instance-id", "automations-7d9f-x2k4q"], fleetKeys);
    expect(fromFile.postgresUrl).toEqual({ value: url, source: `--postgres-url-file ${file}` });
    expect(fromFile.postgresSchema).toBe("engine_secrets");
    expect(fromFile.instanceId).toBe("automations-7d9f-x2k4q");
    const fromEnv = await loadConfig([], { ...fleetKeys, CREDBROKER_POSTGRES_URL: url, CREDBROKER_INSTANCE_ID: "pod-1" });
    expect(fromEnv.postgresUrl).toEqual({ value: url, source: "CREDBROKER_POSTGRES_URL" });
    expect(fromEnv.instanceId).toBe("pod-1");
  });

  it("refuse a URL that is not PostgreSQL's, a schema that is no plain identifier and an instance id with spaces, quoting no password", async () => {
    expect(await refusal([], { ...fleetKeys, CREDBROKER_POSTGRES_URL: `https://credbroker:${password}@db.internal/` })).toBe(
      "CREDBROKER_POSTGRES_URL must be a PostgreSQL URL starting postgres:// or postgresql://",
    );
    expect(await refusal([], { ...fleetKeys, CREDBROKER_POSTGRES_URL: `credbroker ${password} db.internal` })).toContain("must be a PostgreSQL URL");
    expect(await refusal([], { ...fleetKeys, CREDBROKER_POSTGRES_URL: `${url}?target_session_attrs=read-write` })).toBe(
      "CREDBROKER_POSTGRES_URL: target_session_attrs is not supported; give the primary's address",
    );
    expect(await refusal([], { ...fleetKeys, CREDBROKER_POSTGRES_URL: url, PGTARGETSESSIONATTRS: "read-write" })).toBe(
      "PGTARGETSESSIONATTRS: target_session_attrs is not supported; unset it and give the primary's address",
    );
    // standalone, PostgreSQL is not used and the variable is none of the broker's business
    expect((await loadConfig([], { PGTARGETSESSIONATTRS: "read-write" })).postgresUrl).toBeUndefined();
    expect(await refusal(["--postgres-schema", "Engine-Secrets"], {})).toContain("--postgres-schema must be a lower-case SQL identifier");
    expect(await refusal(["--instance-id", "pod one"], {})).toContain("--instance-id must be 1 to 128 printable characters");
  });

  it("need a configured master key and admin token: serve exits 2 naming them, not the URL", async () => {
    expect(await refusal([], { CREDBROKER_POSTGRES_URL: url, CREDBROKER_ADMIN_TOKEN: fleetKeys.CREDBROKER_ADMIN_TOKEN })).toContain(
      "fleet mode needs CREDBROKER_MASTER_KEY (or --master-key-file) set",
    );
    const served = await runCli(["serve", "--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0", "--http-listen", "off", "--metrics-listen", "off"], {
      CREDBROKER_POSTGRES_URL: url,
    });
    expect(served.code).toBe(2);
    expect(served.stderr).toContain("fleet mode needs CREDBROKER_MASTER_KEY (or --master-key-file) and CREDBROKER_ADMIN_TOKEN (or --admin-token-file) set");
    expect(served.stderr).not.toContain(password);
  });
});
