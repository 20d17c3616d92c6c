/**
 * Deploy state and dry-run deploys through a real broker: each live copy
 * remembers the test secret and version it was deployed from, and a
 * validate_only deploy answers what it would create and replace, writing
 * nothing but its audit event.
 */
import { join } from "node:path";
import { open } from "lmdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { AuditService } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { DeployState, Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { DeploySecretsRequestSchema, DeploySecretsResponseSchema, SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";

let tb: TestBroker;
let admin: Client<typeof SecretService>;
const bearer = (token: string) => ({ kind: { case: "bearerToken" as const, value: { token } } });

/**
 * Every stored record, as the bytes LMDB holds: what "nothing written"
 * compares. Opened read-only: a second writable handle in this process would
 * share the broker's LMDB environment and open with a synchronous write
 * transaction, which deadlocks when the broker's writer thread holds the
 * write lock waiting for this thread (the audit mover writes every 20 ms).
 */
async function storedBytes(): Promise<string[]> {
  const root = open({ path: join(tb.dataDir, "credbroker.mdb"), readOnly: true, maxDbs: 8 });
  try {
    const secrets = root.openDB<Uint8Array, string>({ name: "secrets", encoding: "binary" });
    return [...secrets.getRange({})].map(({ key, value }) => `${key}=${Buffer.from(value).toString("base64")}`);
  } finally {
    await root.close();
  }
}

/** The deploy state of every test secret, by name, as ListSecrets and GetSecret show it (they must agree). */
async function states(): Promise<Record<string, DeployState>> {
  const listed = await admin.listSecrets({ mode: Mode.TEST, pageSize: 100 });
  const out: Record<string, DeployState> = {};
  for (const secret of listed.secrets) {
    out[secret.name] = secret.deployState;
    expect((await admin.getSecret({ mode: Mode.TEST, name: secret.name })).secret?.deployState, secret.name).toBe(secret.deployState);
  }
  return out;
}

beforeAll(async () => {
  tb = await startTestBroker();
  admin = tb.connect(SecretService, tb.adminToken);
});
afterAll(async () => {
  await tb?.close();
});

describe("deploy state", () => {
  it("through create, deploy, update in test, update in live, and a test secret created again", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "alpha", credentials: bearer("a1") });
    await admin.createSecret({ mode: Mode.TEST, name: "beta", credentials: bearer("b1") });
    expect(await states()).toEqual({ alpha: DeployState.NOT_IN_LIVE, beta: DeployState.NOT_IN_LIVE });

    const deployed = await admin.deploySecrets({ names: ["alpha", "beta"] });
    expect([deployed.createdNames, deployed.replacedNames]).toEqual([["alpha", "beta"], []]);
    expect(deployed.secrets.map((secret) => secret.deployedFromVersion)).toEqual([1n, 1n]);
    expect(await states()).toEqual({ alpha: DeployState.IN_SYNC, beta: DeployState.IN_SYNC });

    await admin.updateSecret({ mode: Mode.TEST, name: "alpha", credentials: bearer("a2") });
    expect((await states())["alpha"]).toBe(DeployState.NEWER_IN_TEST);
    const redeployed = await admin.deploySecrets({ names: ["alpha"] });
    expect([redeployed.createdNames, redeployed.replacedNames]).toEqual([[], ["alpha"]]);
    expect((await admin.getSecret({ mode: Mode.LIVE, name: "alpha" })).secret?.deployedFromVersion).toBe(2n);
    expect((await states())["alpha"]).toBe(DeployState.IN_SYNC);

    // a change made directly in live wins over a later test change: a deploy would undo it
    await admin.updateSecret({ mode: Mode.LIVE, name: "alpha", description: "hotfix in live" });
    expect((await states())["alpha"]).toBe(DeployState.CHANGED_IN_LIVE);
    await admin.updateSecret({ mode: Mode.TEST, name: "alpha", description: "and in test" });
    expect((await states())["alpha"]).toBe(DeployState.CHANGED_IN_LIVE);
    // the live copy still names the deploy it came from
    expect((await admin.getSecret({ mode: Mode.LIVE, name: "alpha" })).secret?.deployedFromVersion).toBe(2n);
    await admin.deploySecrets({ names: ["alpha"] });
    expect((await states())["alpha"]).toBe(DeployState.IN_SYNC);

    // deleted and created again: version 1 again, but another secret than the one deployed
    await admin.deleteSecret({ mode: Mode.TEST, name: "beta" });
    await admin.createSecret({ mode: Mode.TEST, name: "beta", credentials: bearer("b-new") });
    expect((await states())["beta"]).toBe(DeployState.NEWER_IN_TEST);

    // a live secret nobody deployed
    await admin.createSecret({ mode: Mode.LIVE, name: "gamma", credentials: bearer("g-live") });
    await admin.createSecret({ mode: Mode.TEST, name: "gamma", credentials: bearer("g-test") });
    expect((await states())["gamma"]).toBe(DeployState.CHANGED_IN_LIVE);
    expect((await admin.getSecret({ mode: Mode.LIVE, name: "gamma" })).secret?.deployedFromVersion).toBe(0n);
    // live answers carry no deploy state; the live listing shows the deploy each came from, as GetSecret does
    const live = await admin.listSecrets({ mode: Mode.LIVE });
    expect(live.secrets.map((secret) => secret.deployState)).toEqual([0, 0, 0]);
    expect(live.secrets.map((secret) => [secret.name, secret.deployedFromVersion])).toEqual([
      ["alpha", 3n],
      ["beta", 1n],
      ["gamma", 0n],
    ]);
    for (const secret of live.secrets) {
      expect((await admin.getSecret({ mode: Mode.LIVE, name: secret.name })).secret?.deployedFromVersion).toBe(secret.deployedFromVersion);
    }
  });
});

describe("DeploySecrets validate_only", () => {
  it("answers what would be created and replaced, writes no record, and its audit event says it was a dry run", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "delta", credentials: bearer("d1") });
    const before = await storedBytes();
    const liveBefore = await admin.listSecrets({ mode: Mode.LIVE, pageSize: 100 });
    const dry = await admin.deploySecrets({ names: ["delta", "alpha", "gamma"], validateOnly: true });
    expect(dry.createdNames).toEqual(["delta"]);
    expect(dry.replacedNames).toEqual(["alpha", "gamma"]);
    // the live secrets it would write, with the versions they would get
    const alphaLive = liveBefore.secrets.find((secret) => secret.name === "alpha")!;
    expect(dry.secrets.map((secret) => [secret.name, secret.mode, secret.version])).toEqual([
      ["delta", Mode.LIVE, 1n],
      ["alpha", Mode.LIVE, alphaLive.version + 1n],
      ["gamma", Mode.LIVE, 2n],
    ]);
    expect(await storedBytes()).toEqual(before);
    expect((await admin.listSecrets({ mode: Mode.LIVE, pageSize: 100 })).secrets).toEqual(liveBefore.secrets);
    expect((await states())["delta"]).toBe(DeployState.NOT_IN_LIVE);

    // the same over grpc-js
    const grpcJs = createGrpcJsClient(SecretService, tb.broker.grpcAddress, tb.adminToken);
    try {
      const viaGrpc = await grpcJs.call("DeploySecrets", DeploySecretsRequestSchema, DeploySecretsResponseSchema, { names: ["delta"], validateOnly: true });
      expect(viaGrpc.ok && viaGrpc.message.createdNames).toEqual(["delta"]);
    } finally {
      grpcJs.close();
    }
    expect(await storedBytes()).toEqual(before);

    // a dry run of a missing name is refused as the deploy would be
    const refused = await admin.deploySecrets({ names: ["delta", "nope"], validateOnly: true }).catch((error: unknown) => ConnectError.from(error));
    expect(refused instanceof ConnectError && refused.code).toBe(Code.NotFound);

    const events = (await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000 })).events.filter((event) =>
      event.method.endsWith("/DeploySecrets"),
    );
    const dryEvents = events.filter((event) => event.validateOnly);
    expect(dryEvents.map((event) => [event.code, event.secrets.map((secret) => secret.name)])).toEqual([
      ["ok", ["delta", "alpha", "gamma"]],
      ["ok", ["delta"]],
    ]);
    expect(events.filter((event) => !event.validateOnly && event.code === "ok").length).toBe(3);

    // and the real deploy afterwards does what the dry run said
    const real = await admin.deploySecrets({ names: ["delta", "alpha", "gamma"] });
    expect([real.createdNames, real.replacedNames]).toEqual([dry.createdNames, dry.replacedNames]);
    expect(real.secrets.map((secret) => [secret.name, secret.version])).toEqual(dry.secrets.map((secret) => [secret.name, secret.version]));
    expect(await states()).toMatchObject({ delta: DeployState.IN_SYNC, alpha: DeployState.IN_SYNC, gamma: DeployState.IN_SYNC });
  });
});
