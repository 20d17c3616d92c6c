import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { readmeBlocks } from "../support/readme-blocks.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "../..");
const tsc = join(root, "node_modules/.bin/tsc");

/** A consumer's ESM script: the generated descriptors and the client helper, through the exports map. */
const consumerScript = `
import { Mode, SecretType, StepKind, SecretService, InjectService } from "credbroker/gen";
import { Code, ConnectError, createCredbrokerClient } from "credbroker/client";

const client = createCredbrokerClient({ addr: process.env.BROKER_ADDR, token: process.env.BROKER_TOKEN });
try {
  const created = await client.secrets.createSecret({
    mode: Mode.TEST,
    name: "from-a-consumer",
    credentials: { kind: { case: "bearerToken", value: { token: "consumer-token" } } },
  });
  const injected = await client.inject.inject({ mode: Mode.TEST, name: "from-a-consumer", step: StepKind.HTTP });
  const missing = await client.secrets.getSecret({ mode: Mode.LIVE, name: "absent" }).catch((e) => e);
  console.log(JSON.stringify({
    services: [SecretService.typeName, InjectService.typeName],
    type: created.secret.type === SecretType.BEARER_TOKEN,
    version: String(created.secret.version),
    header: injected.material.value.headers[0],
    notFound: missing instanceof ConnectError && missing.code === Code.NotFound,
    resolved: [import.meta.resolve("credbroker/client"), import.meta.resolve("credbroker/gen")],
  }));
} finally {
  client.close();
}
`;

/** The same in TypeScript, type-checked against the package's .d.ts files. */
const consumerTypes = `
import { Mode, type Secret } from "credbroker/gen";
import { createCredbrokerClient, type CredbrokerClient } from "credbroker/client";

const client: CredbrokerClient = createCredbrokerClient({ addr: "127.0.0.1:7390", token: "t", protocol: "connect" });
const secret: Secret | undefined = (await client.secrets.getSecret({ mode: Mode.TEST, name: "n" })).secret;
const version: bigint = secret?.version ?? 0n;
// @ts-expect-error a version is a bigint, which the types must say
const wrong: number = secret?.version ?? 0;
console.log(version, wrong);
`;

describe("the package's exports map, from another package", () => {
  let tb: TestBroker;
  let consumer: string;

  beforeAll(async () => {
    tb = await startTestBroker();
    consumer = await mkdtemp(join(tmpdir(), "credbroker-consumer-"));
    // npm pack runs prepack (npm run build:lib): dist/ is built from src/ with tsc
    await run("npm", ["pack", "--pack-destination", consumer, "--silent"], { cwd: root });
    const tarball = (await readdir(consumer)).find((file) => file.endsWith(".tgz"));
    expect(tarball).toBeDefined();
    await writeFile(
      join(consumer, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { credbroker: `file:./${tarball}` } }),
    );
    // every dependency is in the npm cache after npm ci; no install scripts are needed for the client
    await run("npm", ["install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: consumer });
  }, 90_000);
  afterAll(async () => {
    await tb?.close();
    if (consumer !== undefined) {
      await rm(consumer, { recursive: true, force: true });
    }
  });

  it("imports credbroker/gen and credbroker/client from an installed tarball and calls a real broker", async () => {
    await writeFile(join(consumer, "consumer.mjs"), consumerScript);
    const { stdout } = await run(process.execPath, ["consumer.mjs"], {
      cwd: consumer,
      env: { PATH: process.env["PATH"] ?? "", BROKER_ADDR: tb.broker.grpcAddress, BROKER_TOKEN: tb.adminToken },
    });
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      services: ["credbroker.v1.SecretService", "credbroker.v1.InjectService"],
      type: true,
      version: "1",
      header: { name: "Authorization", value: "Bearer consumer-token" },
      notFound: true,
    });
    // resolved through node_modules to the built JavaScript, not to the repository's .ts sources
    expect(result.resolved).toEqual([
      expect.stringMatching(/\/node_modules\/credbroker\/dist\/client\/index\.js$/),
      expect.stringMatching(/\/node_modules\/credbroker\/dist\/client\/gen\.js$/),
    ]);
  });

  it("runs the README's client example as written", async () => {
    await tb
      .connect(SecretService, tb.adminToken)
      .createSecret({ mode: Mode.TEST, name: "readme-listed", credentials: { kind: { case: "bearerToken", value: { token: "t" } } } });
    const [example] = await readmeBlocks("Using the generated clients", "js");
    await writeFile(join(consumer, "readme-example.mjs"), example!);
    const { stdout } = await run(process.execPath, ["readme-example.mjs"], {
      cwd: consumer,
      env: { PATH: process.env["PATH"] ?? "", CREDBROKER_ADDR: tb.broker.grpcAddress, CREDBROKER_TOKEN: tb.adminToken },
    });
    expect(stdout).toMatch(/^readme-listed is at version 1$/m);
    expect(stdout).toMatch(/\nnot found: [^\n]*never-deployed[^\n]*\n$/);
  });

  it("gives a TypeScript consumer the types through the exports map's types condition", async () => {
    await writeFile(join(consumer, "consumer.ts"), consumerTypes);
    await writeFile(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2024", strict: true, noEmit: true, types: [] },
        files: ["consumer.ts"],
      }),
    );
    const checked = await run(tsc, ["-p", "."], { cwd: consumer }).then(
      () => ({ code: 0, stdout: "" }),
      (error: { code: number; stdout: string }) => error,
    );
    expect(checked.stdout).toBe("");
    expect(checked.code).toBe(0);
  });
});
