import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { pino } from "pino";
import { SecretRecordSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { Mode, SecretSchema, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { createKeyring, type Keyring } from "../../src/keys/keyring.ts";
import { createRewrapper } from "../../src/keys/rewrapper.ts";
import { bindingOf } from "../../src/seal/record-binding.ts";
import { createSealer, type Sealer } from "../../src/seal/sealer.ts";
import { openLmdbStore, type LmdbStore } from "../../src/store/lmdb-store.ts";
import type { SecretStore } from "../../src/store/secret-store.ts";

const plaintext = (name: string) => new TextEncoder().encode(`canary-${name}`);

describe("rewrapper", () => {
  let dir: string;
  let store: LmdbStore;
  let keyring: Keyring;
  let sealer: Sealer;
  const masterKey = new Uint8Array(randomBytes(32));
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "credbroker-rewrapper-"));
    store = openLmdbStore({ path: join(dir, "credbroker.mdb") });
    keyring = createKeyring(masterKey, new Date()).keyring;
    sealer = createSealer(keyring);
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function put(mode: Mode, names: string[]): Promise<void> {
    const writes = names.map((name) => {
      const secret = create(SecretSchema, { name, mode, type: SecretType.BEARER_TOKEN, version: 1n, generation: 1n });
      const record = create(SecretRecordSchema, { secret, payload: sealer.seal(bindingOf(secret), plaintext(name)) });
      return { kind: "put" as const, record, expectVersion: 0n };
    });
    expect(await store.commit(writes)).toBeUndefined();
  }

  it("moves the records of an older key to the active one, reading in full only those records", async () => {
    const old = Array.from({ length: 9 }, (_, i) => `old-${i}`);
    await put(Mode.TEST, old);
    await put(Mode.LIVE, ["old-live"]);
    await keyring.rotate(masterKey, new Date(), async () => true);
    const current = Array.from({ length: 7 }, (_, i) => `new-${i}`);
    await put(Mode.TEST, current);
    const fullReads: string[] = [];
    const counted: SecretStore = {
      ...store,
      get: (mode, name) => (fullReads.push(name), store.get(mode, name)),
      list: () => expect.fail("the rewrap lists no full records"),
    };
    const rewrapper = createRewrapper({ store: counted, sealer, keyring, logger: pino({ level: "silent" }), batchSize: 4 });
    rewrapper.kick();
    await rewrapper.idle();
    expect(fullReads.sort()).toEqual([...old, "old-live"].sort());
    for (const [mode, name] of [...[...old, ...current].map((name) => [Mode.TEST, name] as const), [Mode.LIVE, "old-live"] as const]) {
      const record = store.get(mode, name)!;
      expect(record.payload?.keyId, name).toBe(keyring.activeKeyId);
      expect(new TextDecoder().decode(sealer.open(bindingOf(record.secret!), record.payload!))).toBe(`canary-${name}`);
    }
    // every record under the active key: a pass reads none in full
    fullReads.length = 0;
    rewrapper.kick();
    await rewrapper.idle();
    expect(fullReads).toEqual([]);
    await rewrapper.close();
  });
});
