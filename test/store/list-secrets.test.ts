import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { open } from "lmdb";
import { SecretRecordSchema, type SecretRecord } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { Mode, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../../src/errors.ts";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import type { SecretStore } from "../../src/store/secret-store.ts";
import { codeOf } from "../support/error-code.ts";

const types = [SecretType.BASIC_AUTH, SecretType.BEARER_TOKEN, SecretType.API_KEY, SecretType.SFTP_PASSWORD, SecretType.SFTP_PRIVATE_KEY, SecretType.OAUTH2_CLIENT_CREDENTIALS, SecretType.JSON_CREDENTIALS];

/** A record as the store keeps it; a live one of even `i` carries the origin a deploy gives it. */
function record(mode: Mode, name: string, i: number): SecretRecord {
  const time = timestampFromDate(new Date(1_700_000_000_000 + i * 1000));
  const version = BigInt(1 + (i % 4));
  return create(SecretRecordSchema, {
    secret: { name, mode, type: types[i % types.length]!, description: i % 3 === 0 ? "" : `secret ${i}`, version, createTime: time, updateTime: time },
    payload: { format: 2, keyId: 1 + (i % 2), wrappedKey: new Uint8Array(72).fill(i), ciphertext: new Uint8Array(40 + i).fill(0x5a) },
    ...(mode === Mode.LIVE && i % 2 === 0 ? { deployedFrom: { testVersion: BigInt(i), testCreateTime: time, liveVersion: version } } : {}),
  });
}

/** What listSecrets and getMetadata should give for a record: all of it but the payload. */
const metadataOf = (r: SecretRecord | undefined) => (r === undefined ? undefined : { secret: r.secret, deployedFrom: r.deployedFrom });

/** Writes raw values under raw keys of the secrets database, as someone with write access to the data file could, offline. */
async function writeRaw(path: string, entries: [string, Uint8Array][]): Promise<void> {
  const root = open({ path, maxDbs: 4 });
  const secrets = root.openDB<Uint8Array, string>({ name: "secrets", encoding: "binary", useVersions: true });
  try {
    for (const [key, value] of entries) {
      await secrets.put(key, value, 1);
    }
  } finally {
    await root.close();
  }
}

/** Sets of names to read at once out of 90 stored ones (`n-000`...): in order, spread thin, absent, unordered, one, none. */
function askedNames(names: readonly string[]): string[][] {
  return [
    names.filter((_, i) => i % 3 === 0),
    // few names over many records: the walk stops short and the rest are looked up
    ["n-000", "n-001", "n-050", "n-089", "n-089x", "zzz"],
    ["a", "n-010", "n-010x", "n-011"],
    ["n-020", "n-005", "absent", "n-060"],
    ["n-007"],
    [],
  ];
}

describe("listing metadata only", () => {
  let dir: string;
  let path: string;
  let store: SecretStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "credbroker-list-"));
    path = join(dir, "credbroker.mdb");
    store = openLmdbStore({ path });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function reopenWith(entries: [string, Uint8Array][]): Promise<void> {
    await store.close();
    await writeRaw(path, entries);
    store = openLmdbStore({ path });
  }

  it("pages exactly as the full decode does, in both modes and every page size", async () => {
    const names = Array.from({ length: 61 }, (_, i) => `s-${String(i).padStart(3, "0")}${i % 5 === 0 ? ".x" : ""}`);
    await store.commit([
      ...names.map((name, i) => ({ kind: "put" as const, record: record(Mode.TEST, name, i), expectVersion: 0n })),
      ...names.slice(0, 7).map((name, i) => ({ kind: "put" as const, record: record(Mode.LIVE, name, i + 100), expectVersion: 0n })),
    ]);
    for (const mode of [Mode.TEST, Mode.LIVE]) {
      for (const size of [1, 2, 7, 60, 61, 62, 1000]) {
        const pages = [];
        let after = "";
        for (let page = store.listSecrets(mode, after, size); page.length > 0; page = store.listSecrets(mode, after, size)) {
          expect(page).toEqual(store.list(mode, after, size).map(metadataOf));
          pages.push(...page);
          after = page.at(-1)!.secret.name;
        }
        expect(pages).toEqual(store.list(mode, "", 1000).map(metadataOf));
        expect(pages).toHaveLength(mode === Mode.TEST ? 61 : 7);
        expect(pages.filter((listed) => listed.deployedFrom !== undefined)).toHaveLength(mode === Mode.TEST ? 0 : 4);
      }
    }
    expect(store.listSecrets(Mode.TEST, "s-030.x", 2).map((s) => s.secret.name)).toEqual(["s-031", "s-032"]);
    expect(store.listSecrets(Mode.TEST, "zzz", 10)).toEqual([]);
  });

  it("reads one record's metadata as get does, without its payload", async () => {
    await store.commit([0, 1, 2].map((i) => ({ kind: "put" as const, record: record(Mode.LIVE, `live-${i}`, i), expectVersion: 0n })));
    for (const name of ["live-0", "live-1", "live-2"]) {
      expect(store.getMetadata(Mode.LIVE, [name])[0]).toMatchObject(metadataOf(store.get(Mode.LIVE, name))!);
    }
    expect(store.getMetadata(Mode.LIVE, ["absent"])[0]).toBeUndefined();
    expect(store.getMetadata(Mode.TEST, ["live-0"])[0]).toBeUndefined();
    expect(store.getMetadata(Mode.LIVE, ["live-0"])[0]?.deployedFrom?.testVersion).toBe(0n);
    expect(store.getMetadata(Mode.LIVE, ["live-1"])[0]?.deployedFrom).toBeUndefined();
  });

  it("reads many names' metadata at once as it reads each, in order or not, in a range crowded with other records", async () => {
    const names = Array.from({ length: 90 }, (_, i) => `n-${String(i).padStart(3, "0")}`);
    await store.commit(names.map((name, i) => ({ kind: "put" as const, record: record(Mode.LIVE, name, i), expectVersion: 0n })));
    const one = (name: string) => metadataOf(store.get(Mode.LIVE, name));
    for (const wanted of askedNames(names)) {
      const got = store.getMetadata(Mode.LIVE, wanted);
      expect(got).toHaveLength(wanted.length);
      got.forEach((metadata, i) => {
        const expected = one(wanted[i]!);
        if (expected === undefined) {
          expect(metadata, wanted[i]).toBeUndefined();
        } else {
          expect(metadata, wanted[i]).toMatchObject(expected);
        }
      });
    }
  });

  it("reads many names' last-use times at once, in order or not, among other secrets' times and the other mode's", async () => {
    const names = Array.from({ length: 90 }, (_, i) => `n-${String(i).padStart(3, "0")}`);
    for (const mode of [Mode.TEST, Mode.LIVE]) {
      await store.commit(names.map((name, i) => ({ kind: "put" as const, record: record(mode, name, i), expectVersion: 0n })));
    }
    // every other test secret was used, at a time of its own; the live ones of the same names at other times
    const used = new Map(names.filter((_, i) => i % 2 === 0).map((name, i) => [name, 1_700_000_000_000 + i * 1000]));
    await store.putLastUses([...used].map(([name, time]) => ({ mode: Mode.TEST, name, time })));
    await store.putLastUses([...used].map(([name, time]) => ({ mode: Mode.LIVE, name, time: time + 7 })));
    for (const wanted of askedNames(names)) {
      expect(store.getLastUses(Mode.TEST, wanted), wanted.join()).toEqual(wanted.map((name) => used.get(name)));
      expect(store.getLastUses(Mode.LIVE, wanted), wanted.join()).toEqual(wanted.map((name) => (used.has(name) ? used.get(name)! + 7 : undefined)));
    }
    await store.commit([{ kind: "delete", mode: Mode.TEST, name: "n-000", expectVersion: 1n }]);
    expect(store.getLastUses(Mode.TEST, ["n-000", "n-002"])).toEqual([undefined, used.get("n-002")]);
  });

  it("decodes only the records asked for: a damaged neighbour fails no read", async () => {
    await store.commit(["a", "c"].map((name, i) => ({ kind: "put" as const, record: record(Mode.LIVE, name, i), expectVersion: 0n })));
    await reopenWith([["live/b", Uint8Array.from([0x0f, 0x01])]]);
    expect(store.getMetadata(Mode.LIVE, ["a", "c"]).map((metadata) => metadata?.secret?.name)).toEqual(["a", "c"]);
    expect(codeOf(() => store.getMetadata(Mode.LIVE, ["a", "b", "c"]))).toBe("ERR_SEAL_OPEN_FAILED");
  });

  it("reads the metadata of a record without its payload or its secret as get does, where listing refuses it", async () => {
    const whole = record(Mode.LIVE, "half", 2);
    await reopenWith([
      ["live/half", toBinary(SecretRecordSchema, create(SecretRecordSchema, { secret: whole.secret!, deployedFrom: whole.deployedFrom! }))],
      ["live/half2", toBinary(SecretRecordSchema, create(SecretRecordSchema, { payload: whole.payload! }))],
    ]);
    for (const name of ["half", "half2"]) {
      expect(store.getMetadata(Mode.LIVE, [name])[0]).toMatchObject(metadataOf(store.get(Mode.LIVE, name))!);
    }
    expect(store.getMetadata(Mode.LIVE, ["half"])[0]?.secret?.name).toBe("half");
    expect(store.getMetadata(Mode.LIVE, ["half2"])[0]?.secret).toBeUndefined();
    expect(codeOf(() => store.listSecrets(Mode.LIVE, "", 10))).toBe("ERR_SEAL_OPEN_FAILED");
  });

  it("refuses a record moved under another key (ERR_SEAL_OPEN_FAILED), as get and list do", async () => {
    await store.commit([{ kind: "put", record: record(Mode.LIVE, "prod-db", 1), expectVersion: 0n }]);
    const moved = toBinary(SecretRecordSchema, store.get(Mode.LIVE, "prod-db")!);
    await reopenWith([
      ["test/prod-db", moved],
      ["live/renamed-db", moved],
    ]);
    for (const mode of [Mode.TEST, Mode.LIVE]) {
      expect(codeOf(() => store.listSecrets(mode, "", 10))).toBe("ERR_SEAL_OPEN_FAILED");
      expect(codeOf(() => store.list(mode, "", 10))).toBe("ERR_SEAL_OPEN_FAILED");
    }
    expect(codeOf(() => store.getMetadata(Mode.TEST, ["prod-db"])[0])).toBe("ERR_SEAL_OPEN_FAILED");
    expect(codeOf(() => store.getMetadata(Mode.LIVE, ["renamed-db"])[0])).toBe("ERR_SEAL_OPEN_FAILED");
    // the record where it belongs still lists
    expect(store.listSecrets(Mode.LIVE, "", 1).map((s) => s.secret.name)).toEqual(["prod-db"]);
  });

  it.each([
    ["truncated", (bytes: Uint8Array) => bytes.subarray(0, bytes.length - 5)],
    ["garbage", () => new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ["a bad wire type", () => Uint8Array.from([0x0f, 0x01])],
  ])("answers ERR_SEAL_OPEN_FAILED for a %s value in listings and reads, never another error", async (_what, damage) => {
    await store.commit([{ kind: "put", record: record(Mode.TEST, "damaged", 3), expectVersion: 0n }]);
    const damaged = damage(toBinary(SecretRecordSchema, store.get(Mode.TEST, "damaged")!));
    await reopenWith([["test/damaged", damaged]]);
    let error: unknown;
    try {
      store.listSecrets(Mode.TEST, "", 10);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CredbrokerError);
    expect((error as CredbrokerError).code).toBe("ERR_SEAL_OPEN_FAILED");
    // neither the message nor the cause carries the sealed bytes (the ciphertext is all "Z")
    expect(`${(error as Error).message} ${String((error as Error).cause)}`).not.toMatch(/ZZZZ|90,90,90/);
    expect(codeOf(() => store.get(Mode.TEST, "damaged"))).toBe("ERR_SEAL_OPEN_FAILED");
    expect(codeOf(() => store.getMetadata(Mode.TEST, ["damaged"])[0])).toBe("ERR_SEAL_OPEN_FAILED");
    expect(codeOf(() => store.list(Mode.TEST, "", 10))).toBe("ERR_SEAL_OPEN_FAILED");
  });

  it("answers ERR_SEAL_OPEN_FAILED for a record without its payload or its secret", async () => {
    const whole = record(Mode.TEST, "half", 3);
    await reopenWith([
      ["test/half", toBinary(SecretRecordSchema, create(SecretRecordSchema, { secret: whole.secret! }))],
      ["test/half2", toBinary(SecretRecordSchema, create(SecretRecordSchema, { payload: whole.payload! }))],
    ]);
    expect(codeOf(() => store.listSecrets(Mode.TEST, "", 10))).toBe("ERR_SEAL_OPEN_FAILED");
    expect(codeOf(() => store.listSecrets(Mode.TEST, "half", 10))).toBe("ERR_SEAL_OPEN_FAILED");
  });
});
