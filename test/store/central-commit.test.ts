/**
 * The central store's commit on a real PostgreSQL, for commits of several
 * names (written by one statement) and of one name or a name twice (a
 * statement each): expectations are checked against what is stored, a
 * conflict anywhere writes nothing, and what commits is one revision with
 * its records, tombstones, wrapped keys and events.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { SecretRecordSchema, SealedPayloadSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { Mode, SecretSchema } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { openCentralStore, type CentralChange, type CentralStore } from "../../src/store/central-store.ts";
import type { StoreWrite } from "../../src/store/secret-store.ts";
import { fleetSuite } from "../support/fleet.ts";
import { startPostgres, type RunningPostgres } from "../support/postgres.ts";

const suite = fleetSuite("the central store's commit");

const record = (mode: Mode, name: string, version: bigint, wrappedKey?: Uint8Array) =>
  create(SecretRecordSchema, {
    secret: create(SecretSchema, { mode, name, version }),
    ...(wrappedKey === undefined ? {} : { payload: create(SealedPayloadSchema, { wrappedKey, ciphertext: new Uint8Array([1, 2, 3, 4]) }) }),
  });
const put = (mode: Mode, name: string, version: bigint, expectVersion: bigint, wrappedKey?: Uint8Array, expectWrappedKey?: Uint8Array): StoreWrite => ({
  kind: "put",
  record: record(mode, name, version, wrappedKey),
  expectVersion,
  ...(expectWrappedKey === undefined ? {} : { expectWrappedKey }),
});
const event = (sequence: number, names: string[]) => ({ sequence, auditClass: "main" as const, bytes: new Uint8Array([sequence % 256, 7]), instanceId: "commit-test", names });

describe.skipIf(suite.skip)(suite.title, () => {
  let postgres: RunningPostgres;
  let central: CentralStore;

  beforeAll(async () => {
    postgres = await startPostgres();
    central = openCentralStore({ url: postgres.database("commits"), schema: "credbroker", instanceId: "commit-test" });
  }, 60_000);
  afterAll(async () => {
    await central?.close();
    await postgres?.close();
  });

  /** Every record change after `revision`, as `<mode>/<name>@<version>` (`-` for a tombstone), by revision. */
  async function changesAfter(revision: bigint): Promise<Map<bigint, string[]>> {
    const out = new Map<bigint, string[]>();
    for (const change of (await central.changes(revision, 10_000)) as CentralChange[]) {
      if (change.kind === "record") {
        const list = out.get(change.revision) ?? [];
        list.push(`${change.mode}/${change.name}@${change.record === undefined ? "-" : change.version}`);
        out.set(change.revision, list.sort());
      }
    }
    return out;
  }

  it("writes several names, puts and deletes, with their events, as one revision", async () => {
    const first = await central.commit([put(Mode.TEST, "a", 1n, 0n), put(Mode.TEST, "b", 1n, 0n), put(Mode.TEST, "c", 1n, 0n)], [event(1, ["a", "b", "c"])]);
    expect(first).toHaveProperty("revision");
    const start = (first as { revision: bigint }).revision;
    const second = await central.commit(
      [put(Mode.TEST, "a", 2n, 1n, new Uint8Array([9, 9])), { kind: "delete", mode: Mode.TEST, name: "b", expectVersion: 1n }, put(Mode.LIVE, "a", 1n, 0n)],
      [event(2, ["a", "b"]), event(3, ["a"])],
    );
    const revision = (second as { revision: bigint }).revision;
    expect(revision).toBe(start + 1n);
    expect(await changesAfter(start - 1n)).toEqual(
      new Map([
        // a change supersedes the same name's earlier one: "a" and "b" of the first commit now read at the second's revision
        [start, ["1/c@1"]],
        [revision, ["1/a@2", "1/b@-", "2/a@1"]],
      ]),
    );
    const events = await central.listEvents(0n, "", 100);
    expect(events.map((bytes) => [...bytes])).toEqual([
      [1, 7],
      [2, 7],
      [3, 7],
    ]);
    expect((await central.listEvents(0n, "", 100, "b")).length).toBe(2);
  });

  it("writes nothing when one expectation of several fails, and names the name", async () => {
    const before = await central.head();
    const answer = await central.commit([put(Mode.TEST, "c", 2n, 1n), put(Mode.TEST, "a", 3n, 1n), put(Mode.TEST, "d", 1n, 0n)], [event(4, ["c", "a", "d"])]);
    expect(answer).toEqual({ conflict: { mode: Mode.TEST, name: "a", actualVersion: 2n } });
    expect(await changesAfter(before.revision)).toEqual(new Map());
    expect((await central.listEvents(0n, "", 100)).length).toBe(3);
    // a deleted name counts as absent; a put of a name that exists where absence is expected fails
    expect(await central.commit([put(Mode.TEST, "b", 1n, 0n), put(Mode.TEST, "c", 1n, 0n)], [])).toEqual({ conflict: { mode: Mode.TEST, name: "c", actualVersion: 1n } });
  });

  it("checks a rewrap's wrapped key for each of several names", async () => {
    const moved = await central.commit([put(Mode.TEST, "c", 2n, 1n, new Uint8Array([1])), put(Mode.TEST, "a", 3n, 2n, new Uint8Array([2]), new Uint8Array([8, 8]))], []);
    expect(moved).toEqual({ conflict: { mode: Mode.TEST, name: "a", actualVersion: 2n } });
    const ok = await central.commit([put(Mode.TEST, "c", 2n, 1n, new Uint8Array([1])), put(Mode.TEST, "a", 3n, 2n, new Uint8Array([2]), new Uint8Array([9, 9]))], []);
    expect(ok).toHaveProperty("revision");
  });

  it("writes a name given twice in one commit change after change, each checked against the one before", async () => {
    const answer = await central.commit([put(Mode.TEST, "e", 1n, 0n), put(Mode.TEST, "e", 2n, 1n)], []);
    const revision = (answer as { revision: bigint }).revision;
    expect(await changesAfter(revision - 1n)).toEqual(new Map([[revision, ["1/e@2"]]]));
    expect(await central.commit([put(Mode.TEST, "f", 1n, 0n), put(Mode.TEST, "f", 2n, 0n)], [])).toEqual({ conflict: { mode: Mode.TEST, name: "f", actualVersion: 1n } });
  });

  it("carries any name through its line formats: a tab, a line break, non-ASCII", async () => {
    const odd = ["tab\there", "line\nbreak", "naïve-名"];
    const answer = await central.commit(odd.map((name) => put(Mode.TEST, name, 1n, 0n)), []);
    const revision = (answer as { revision: bigint }).revision;
    expect(await changesAfter(revision - 1n)).toEqual(new Map([[revision, odd.map((name) => `1/${name}@1`).sort()]]));
    const removed = await central.commit([{ kind: "delete", mode: Mode.TEST, name: odd[0]!, expectVersion: 1n }, put(Mode.TEST, odd[1]!, 2n, 1n)], []);
    const next = (removed as { revision: bigint }).revision;
    expect(await changesAfter(next - 1n)).toEqual(new Map([[next, [`1/${odd[0]}@-`, `1/${odd[1]}@2`].sort()]]));
  });
});
