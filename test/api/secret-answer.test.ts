/**
 * The Secret of every admin answer is built field by field from the stored
 * metadata (src/api/secret-answer.ts): whatever else a stored Secret holds
 * (output-only fields written by mistake, fields unknown to this build) never
 * reaches an answer, and a field added to Secret fails here until the
 * builder decides what it shows.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createSecretAnswers } from "../../src/api/secret-answer.ts";
import { DeployOriginSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { CredentialsSchema, DeployState, Mode, SecretSchema, SecretType, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { openLmdbStore, type LmdbStore } from "../../src/store/lmdb-store.ts";

let dir: string;
let store: LmdbStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "credbroker-answer-"));
  store = openLmdbStore({ path: join(dir, "credbroker.mdb") });
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A stored test Secret with every field set, output-only ones included, and bytes of a field this build does not know. */
function storedWithEverything(mode: Mode) {
  const full = create(SecretSchema, {
    name: "stored",
    mode,
    type: SecretType.API_KEY,
    description: "kept",
    version: 4n,
    generation: 9n,
    createTime: timestampFromMs(1_700_000_000_000),
    updateTime: timestampFromMs(1_700_000_100_000),
    steps: [StepKind.HTTP],
    readableCredentials: create(CredentialsSchema, { kind: { case: "apiKey", value: { keyName: "x-stored", keyValue: "stored-value" } } }),
    deployState: DeployState.IN_SYNC,
    deployedFromVersion: 77n,
    lastUseTime: timestampFromMs(1_600_000_000_000),
  });
  // field 99, a string: unknown to this build, kept by the decoder as an unknown field
  const unknown = new Uint8Array([0x9a, 0x06, 0x03, 0x61, 0x62, 0x63]);
  const bytes = new Uint8Array([...toBinary(SecretSchema, full), ...unknown]);
  return fromBinary(SecretSchema, bytes);
}

describe("Secret answers", () => {
  const answer = () => createSecretAnswers({ store });

  it("pass the stored metadata and compute the output-only fields: nothing else a record holds is shown", () => {
    const stored = storedWithEverything(Mode.TEST);
    expect(stored.$unknown?.length).toBe(1);
    const shown = answer()(stored, { live: undefined, lastUse: undefined });
    expect(shown).toEqual(
      create(SecretSchema, {
        name: "stored",
        mode: Mode.TEST,
        type: SecretType.API_KEY,
        description: "kept",
        version: 4n,
        generation: 9n,
        createTime: stored.createTime!,
        updateTime: stored.updateTime!,
        steps: [StepKind.HTTP],
        deployState: DeployState.NOT_IN_LIVE,
      }),
    );
    expect(shown.$unknown).toBeUndefined();
    expect(toBinary(SecretSchema, shown).length).toBe(toBinary(SecretSchema, shown, { writeUnknownFields: false }).length);
    expect(shown.steps).not.toBe(stored.steps);
  });

  it("show a live secret's deploy origin, a last use, and the opened credentials' readable fields only", () => {
    const stored = storedWithEverything(Mode.LIVE);
    const opened = create(CredentialsSchema, { kind: { case: "apiKey", value: { keyName: "x-api-key", keyValue: "sk_canary_answer" } } });
    const shown = answer()(stored, {
      opened,
      live: { secret: stored, deployedFrom: create(DeployOriginSchema, { testVersion: 3n, liveVersion: 4n }) },
      lastUse: 1_650_000_000_000,
    });
    expect(shown.deployState).toBe(DeployState.UNSPECIFIED);
    expect(shown.deployedFromVersion).toBe(3n);
    expect(shown.lastUseTime).toEqual(timestampFromMs(1_650_000_000_000));
    expect(shown.readableCredentials?.kind).toEqual({ case: "apiKey", value: expect.objectContaining({ keyName: "x-api-key", keyValue: "" }) });
    expect(JSON.stringify(shown, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain("sk_canary_answer");
  });

  it("account for every field of Secret (a new field fails here until the builder shows or leaves it)", () => {
    const decided = [
      "name", "mode", "type", "description", "version", "create_time", "update_time", "readable_credentials",
      "deploy_state", "deployed_from_version", "last_use_time", "steps", "generation",
    ];
    expect(SecretSchema.fields.map((field) => field.name).sort()).toEqual([...decided].sort());
  });
});
