import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SecretRecordSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { CredentialsSchema, Mode, SecretSchema, SecretType, StepKind, type Secret } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { bindingOf } from "../../src/seal/record-binding.ts";
import { sealCredentials } from "../../src/api/secret-writes.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

const bearer = (token: string) => ({ kind: { case: "bearerToken" as const, value: { token } } });

/** A generation as the broker gives them: non-zero, 63 bits. */
function expectNewGeneration(secret: Secret | undefined): bigint {
  const generation = secret?.generation ?? 0n;
  expect(generation).toBeGreaterThan(0n);
  expect(generation).toBeLessThan(2n ** 63n);
  return generation;
}

describe("record generations (ServiceImpl called directly, real LMDB)", () => {
  let svc: TestServices;
  const injected = async (mode: Mode, name: string) => {
    const res = await svc.injectClient.inject({ mode, name, step: StepKind.CODE });
    return { generation: res.secret?.generation, token: res.material.case === "code" ? res.material.value.fields["token"] : undefined };
  };

  beforeEach(async () => {
    svc = await createTestServices();
  });
  afterEach(async () => {
    await svc.close();
  });

  it("gives a secret a generation at create, keeps it on every update, and another one when it is created again after a delete", async () => {
    const created = await svc.secretsClient.createSecret({ mode: Mode.TEST, name: "g", credentials: bearer("first") });
    const first = expectNewGeneration(created.secret);
    const described = await svc.secretsClient.updateSecret({ mode: Mode.TEST, name: "g", description: "changed" });
    const rotated = await svc.secretsClient.updateSecret({ mode: Mode.TEST, name: "g", credentials: bearer("second") });
    expect([described.secret?.generation, rotated.secret?.generation, svc.store.get(Mode.TEST, "g")?.secret?.generation]).toEqual([first, first, first]);
    expect(await injected(Mode.TEST, "g")).toEqual({ generation: first, token: "second" });

    await svc.secretsClient.deleteSecret({ mode: Mode.TEST, name: "g" });
    const again = await svc.secretsClient.createSecret({ mode: Mode.TEST, name: "g", credentials: bearer("third") });
    expect(again.secret?.version).toBe(1n);
    const second = expectNewGeneration(again.secret);
    expect(second).not.toBe(first);
    expect((await svc.secretsClient.getSecret({ mode: Mode.TEST, name: "g" })).secret?.generation).toBe(second);
    expect(await injected(Mode.TEST, "g")).toEqual({ generation: second, token: "third" });
  });

  it("gives a live secret its own generation at its first deploy and keeps it on every redeploy", async () => {
    const test = expectNewGeneration((await svc.secretsClient.createSecret({ mode: Mode.TEST, name: "d", credentials: bearer("one") })).secret);
    const [deployed] = (await svc.secretsClient.deploySecrets({ names: ["d"] })).secrets;
    const live = expectNewGeneration(deployed);
    expect(live).not.toBe(test);
    expect(svc.store.get(Mode.LIVE, "d")?.secret?.generation).toBe(live);

    await svc.secretsClient.updateSecret({ mode: Mode.TEST, name: "d", credentials: bearer("two") });
    expect((await svc.secretsClient.deploySecrets({ names: ["d"] })).secrets[0]).toMatchObject({ version: 2n, generation: live });
    // the test secret created again is another secret; live stays the same one
    await svc.secretsClient.deleteSecret({ mode: Mode.TEST, name: "d" });
    await svc.secretsClient.createSecret({ mode: Mode.TEST, name: "d", credentials: bearer("three") });
    expect((await svc.secretsClient.deploySecrets({ names: ["d"] })).secrets[0]).toMatchObject({ version: 3n, generation: live });
    expect(await injected(Mode.LIVE, "d")).toEqual({ generation: live, token: "three" });
  });

  it("keeps a live secret's generation from its CreateSecret through a deploy", async () => {
    const live = expectNewGeneration((await svc.secretsClient.createSecret({ mode: Mode.LIVE, name: "l", credentials: bearer("live") })).secret);
    await svc.secretsClient.createSecret({ mode: Mode.TEST, name: "l", credentials: bearer("test") });
    expect((await svc.secretsClient.deploySecrets({ names: ["l"] })).secrets[0]).toMatchObject({ version: 2n, generation: live });
    expect(await injected(Mode.LIVE, "l")).toEqual({ generation: live, token: "test" });
  });

  it("keeps generation 0 on a record stored before generations", async () => {
    const now = timestampNow();
    const secret = create(SecretSchema, { name: "old", mode: Mode.TEST, type: SecretType.BEARER_TOKEN, version: 4n, createTime: now, updateTime: now });
    const payload = sealCredentials(svc.sealer, bindingOf(secret), create(CredentialsSchema, bearer("kept")));
    expect(await svc.store.commit([{ kind: "put", record: create(SecretRecordSchema, { secret, payload }), expectVersion: 0n }])).toBeUndefined();
    const updated = await svc.secretsClient.updateSecret({ mode: Mode.TEST, name: "old", description: "touched" });
    expect(updated.secret).toMatchObject({ version: 5n, generation: 0n });
    expect(await injected(Mode.TEST, "old")).toEqual({ generation: 0n, token: "kept" });
  });
});

describe("generation in Connect JSON", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker();
  });
  afterAll(async () => {
    await tb.close();
  });

  it("shows GetSecret's generation as the JSON string \"generation\"", async () => {
    const created = await tb.connect(SecretService, tb.adminToken).createSecret({ mode: Mode.TEST, name: "json", credentials: bearer("v") });
    const response = await fetch(`http://${tb.broker.httpAddress}/${SecretService.typeName}/GetSecret`, {
      method: "POST",
      headers: { authorization: `Bearer ${tb.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ mode: "MODE_TEST", name: "json" }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { secret: { generation?: unknown } };
    expect(body.secret.generation).toBe(String(expectNewGeneration(created.secret)));
  });
});
