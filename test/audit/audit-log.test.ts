/**
 * The audit log over a real broker (real LMDB, real listeners): one event
 * per call with its fields, the change and its event atomic, fail-closed
 * when events cannot be written, retention, ListAuditEvents paging, and no
 * credential value in any event.
 */
import { readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { toBinary, toJsonString } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import {
  AuditEventSchema,
  AuditService,
  CallerKind,
  type AuditEvent,
} from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { CredbrokerError } from "../../src/errors.ts";
import type { SecretStore } from "../../src/store/secret-store.ts";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";
import { connectCodeOf } from "../support/error-code.ts";

const injectToken = { value: "audit-inject-token-5d1e-9b27c40f8a63", source: "test" };
const canary = "CANARY-7f3a9c-never-in-an-event";

let tb: TestBroker | undefined;
afterEach(async () => {
  await tb?.close();
  tb = undefined;
});

function basic(password = "pw-1") {
  return { kind: { case: "basicAuth" as const, value: { username: "svc", password } } };
}

async function allEvents(broker: TestBroker, name?: string): Promise<AuditEvent[]> {
  const audit = broker.connect(AuditService, broker.adminToken);
  const events: AuditEvent[] = [];
  let pageToken = "";
  do {
    const page = await audit.listAuditEvents({ pageSize: 1000, pageToken, ...(name === undefined ? {} : { name }) });
    events.push(...page.events);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  // ListAuditEvents is audited too; these tests look at the other calls
  return events.filter((event) => !event.method.endsWith("/ListAuditEvents"));
}

describe("audit events", () => {
  it("records one event per admin call and Inject, with method, mode, secret, version, code, caller and request id", async () => {
    tb = await startTestBroker({ injectToken });
    const admin = tb.connect(SecretService, tb.adminToken);
    const rid = (n: string) => ({ headers: { "x-request-id": `rid-${n}` } });
    await admin.createSecret({ mode: Mode.TEST, name: "stripe", credentials: basic() }, rid("create"));
    await admin.updateSecret({ mode: Mode.TEST, name: "stripe", description: "d" }, rid("update"));
    await admin.deploySecrets({ names: ["stripe"] }, rid("deploy"));
    const grpcJs = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    const ok = await grpcJs.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.LIVE, name: "stripe" }, {
      token: injectToken.value,
    });
    expect(ok.ok).toBe(true);
    const inject = tb.connect(InjectService, injectToken.value);
    expect(await connectCodeOf(inject.inject({ mode: Mode.TEST, name: "absent" }, rid("notfound")))).toBe(Code.NotFound);
    expect(await connectCodeOf(tb.connect(InjectService).inject({ mode: Mode.TEST, name: "stripe" }, rid("unauth")))).toBe(
      Code.Unauthenticated,
    );
    expect(await connectCodeOf(tb.connect(SecretService, "wrong").getSecret({ mode: Mode.TEST, name: "stripe" }))).toBe(
      Code.Unauthenticated,
    );
    await admin.deleteSecret({ mode: Mode.TEST, name: "stripe" }, rid("delete"));

    const events = await allEvents(tb);
    const summary = events.map((e) => ({
      method: e.method.replace("credbroker.v1.", ""),
      mode: e.mode,
      secrets: e.secrets.map((s) => `${s.name}@${s.version}`),
      code: e.code,
      kind: e.caller?.kind,
    }));
    expect(summary).toEqual([
      { method: "SecretService/CreateSecret", mode: Mode.TEST, secrets: ["stripe@1"], code: "ok", kind: CallerKind.ADMIN },
      { method: "SecretService/UpdateSecret", mode: Mode.TEST, secrets: ["stripe@2"], code: "ok", kind: CallerKind.ADMIN },
      { method: "SecretService/DeploySecrets", mode: Mode.LIVE, secrets: ["stripe@1"], code: "ok", kind: CallerKind.ADMIN },
      { method: "InjectService/Inject", mode: Mode.LIVE, secrets: ["stripe@1"], code: "ok", kind: CallerKind.INJECT },
      { method: "InjectService/Inject", mode: Mode.TEST, secrets: ["absent@0"], code: "not_found", kind: CallerKind.INJECT },
      { method: "InjectService/Inject", mode: Mode.TEST, secrets: ["stripe@0"], code: "unauthenticated", kind: CallerKind.NONE },
      { method: "SecretService/GetSecret", mode: Mode.TEST, secrets: ["stripe@0"], code: "unauthenticated", kind: CallerKind.NONE },
      { method: "SecretService/DeleteSecret", mode: Mode.TEST, secrets: ["stripe@2"], code: "ok", kind: CallerKind.ADMIN },
    ]);
    expect(events.map((e) => e.requestId)).toEqual([
      "rid-create",
      "rid-update",
      "rid-deploy",
      expect.stringMatching(/^[0-9a-f-]{36}$/),
      "rid-notfound",
      "rid-unauth",
      expect.stringMatching(/^[0-9a-f-]{36}$/),
      "rid-delete",
    ]);
    for (const event of events) {
      expect(event.caller?.peerAddress).toMatch(/^(ipv4:)?127\.0\.0\.1:\d+$/);
      expect(event.caller?.tlsSubject).toBe("");
      expect(Math.abs(timestampDate(event.time!).getTime() - Date.now())).toBeLessThan(60_000);
    }
    // sequences increase with time
    const sequences = events.map((e) => e.sequence);
    expect([...sequences].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequences);
    expect(new Set(sequences).size).toBe(sequences.length);
  });

  it("writes no credential value into any event", async () => {
    tb = await startTestBroker();
    const admin = tb.connect(SecretService, tb.adminToken);
    await admin.createSecret({ mode: Mode.TEST, name: "canary", description: "plain", credentials: basic(canary) });
    await admin.updateSecret({ mode: Mode.TEST, name: "canary", credentials: basic(`${canary}-2`) });
    const answer = await tb.connect(InjectService).inject({ mode: Mode.TEST, name: "canary", step: StepKind.CODE });
    // the value did pass through the broker in this test
    expect(toJsonString(InjectResponseSchema, answer)).toContain(canary);
    // a value sent where a name belongs is not echoed
    await connectCodeOf(tb.connect(InjectService).inject({ mode: Mode.TEST, name: canary }));
    await connectCodeOf(admin.createSecret({ mode: Mode.TEST, name: canary, credentials: basic(canary) }));
    await connectCodeOf(admin.deploySecrets({ names: [canary] }));
    const events = await allEvents(tb);
    expect(events.length).toBe(6);
    for (const event of events) {
      expect(toJsonString(AuditEventSchema, event)).not.toContain("CANARY");
      expect(Buffer.from(toBinary(AuditEventSchema, event)).includes(canary)).toBe(false);
    }
    expect(events.slice(3).map((e) => e.secrets.map((s) => s.name))).toEqual([["(invalid)"], ["(invalid)"], ["(invalid)"]]);
  });
});

/** The real LMDB store, refusing audit writes while `refuse` says so, as a full audit database would. */
function refusingStore(refuse: { error: Error | undefined }) {
  return (store: SecretStore): SecretStore => ({
    ...store,
    async putEvents(events) {
      if (refuse.error !== undefined) {
        throw refuse.error;
      }
      return store.putEvents(events);
    },
    async commit(writes, events) {
      if (refuse.error !== undefined && events !== undefined && events.length > 0) {
        throw refuse.error;
      }
      return store.commit(writes, events);
    },
  });
}

const summary = (events: AuditEvent[]) => events.map((e) => `${e.method.split("/")[1]}:${e.code}:${e.requestId}`);

describe("fail closed", () => {
  it("refuses a change whose event cannot be committed; an Inject's event waits in its segment file while the store refuses it", async () => {
    const refuse: { error: Error | undefined } = { error: undefined };
    tb = await startTestBroker({}, { wrapStore: refusingStore(refuse) });
    const admin = tb.connect(SecretService, tb.adminToken);
    const inject = tb.connect(InjectService);
    const rid = (n: string) => ({ headers: { "x-request-id": n } });
    await admin.createSecret({ mode: Mode.TEST, name: "warm", credentials: basic() }, rid("create"));
    await inject.inject({ mode: Mode.TEST, name: "warm" }, rid("inject-1")); // now in the material cache

    refuse.error = new CredbrokerError("ERR_STORE_FULL", "the store is full");
    expect(await connectCodeOf(admin.createSecret({ mode: Mode.TEST, name: "new", credentials: basic() }, rid("refused-create")))).toBe(
      Code.ResourceExhausted,
    );
    expect(await connectCodeOf(inject.inject({ mode: Mode.TEST, name: "warm" }, rid("inject-2")))).toBe("ok");
    refuse.error = new Error("audit database closed");
    expect(await connectCodeOf(admin.updateSecret({ mode: Mode.TEST, name: "warm", description: "x" }, rid("refused-update")))).toBe(
      Code.Internal,
    );
    const grpcJs = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    const held = await grpcJs.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "warm" }, {
      metadata: { "x-request-id": "inject-3" },
    });
    grpcJs.close();
    expect(held.ok).toBe(true);
    const expected = [
      "CreateSecret:ok:create",
      "Inject:ok:inject-1",
      "CreateSecret:resource_exhausted:refused-create",
      "Inject:ok:inject-2",
      "UpdateSecret:internal:refused-update",
      "Inject:ok:inject-3",
    ];
    // not in the store yet, and listed all the same
    expect(summary(await allEvents(tb))).toEqual(expected);

    refuse.error = undefined;
    // the refused changes left nothing behind, and the held events reach the store
    expect(await connectCodeOf(admin.getSecret({ mode: Mode.TEST, name: "new" }))).toBe(Code.NotFound);
    expect((await admin.getSecret({ mode: Mode.TEST, name: "warm" })).secret?.description).toBe("");
    const dataDir = tb.dataDir;
    await tb.close({ keepData: true });
    tb = undefined;
    const store = openLmdbStore({ path: join(dataDir, "credbroker.mdb") });
    try {
      expect(summary(store.listEvents(0n, 100)).slice(0, expected.length)).toEqual(expected);
    } finally {
      await store.close();
    }
    expect((await readdir(join(dataDir, "audit"))).filter((name) => name.endsWith(".log"))).toEqual([]);
    await rm(dataDir, { recursive: true, force: true });
  });

  it("refuses an Inject whose event cannot be written to a segment file, on both listeners, and serves again once it can", async () => {
    // segments of 2 KiB: a new one is needed every dozen events
    tb = await startTestBroker({}, { auditSegmentBytes: 2048 });
    const admin = tb.connect(SecretService, tb.adminToken);
    await admin.createSecret({ mode: Mode.TEST, name: "warm", credentials: basic() });
    const audit = join(tb.dataDir, "audit");
    // no new segment can be created where a file stands in for the directory
    await rename(audit, `${audit}-away`);
    await writeFile(audit, "");
    const inject = tb.connect(InjectService);
    const grpcJs = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    const answered: string[] = [];
    let connectRefusal: Code | "ok" = "ok";
    let grpcRefusal: number | undefined;
    for (let i = 0; i < 200 && (connectRefusal === "ok" || grpcRefusal === undefined); i++) {
      const requestId = `away-${i}`;
      if (i % 2 === 0) {
        connectRefusal = await connectCodeOf(inject.inject({ mode: Mode.TEST, name: "warm" }, { headers: { "x-request-id": requestId } }));
        if (connectRefusal === "ok") {
          answered.push(requestId);
        }
      } else {
        const res = await grpcJs.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "warm" }, {
          metadata: { "x-request-id": requestId },
        });
        if (res.ok) {
          answered.push(requestId);
        } else {
          grpcRefusal = res.code;
        }
      }
    }
    expect(connectRefusal).toBe(Code.Unavailable);
    expect(grpcRefusal).toBe(Code.Unavailable);

    await rm(audit);
    await rename(`${audit}-away`, audit);
    expect(await connectCodeOf(inject.inject({ mode: Mode.TEST, name: "warm" }, { headers: { "x-request-id": "back" } }))).toBe("ok");
    const grpcBack = await grpcJs.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "warm" });
    grpcJs.close();
    expect(grpcBack.ok).toBe(true);
    const injects = (await allEvents(tb)).filter((e) => e.method.endsWith("/Inject")).map((e) => e.requestId);
    // every answered Inject has its event; no refused one has an "ok" event
    expect(injects.slice(0, answered.length)).toEqual(answered);
    expect(injects.slice(answered.length, answered.length + 1)).toEqual(["back"]);
  });
});

describe("retention and listing", () => {
  it("keeps at most the configured number of events, the newest", async () => {
    tb = await startTestBroker({ auditMaxEvents: 5 }, { auditRetentionIntervalMs: 20 });
    const admin = tb.connect(SecretService, tb.adminToken);
    for (let i = 0; i < 12; i++) {
      await connectCodeOf(admin.getSecret({ mode: Mode.TEST, name: `s${i}` }));
    }
    // ListAuditEvents calls are audited too and count against the bound: wait until all of it fits
    let all: AuditEvent[] = [];
    for (let tries = 0; tries < 250; tries++) {
      all = (await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000 })).events;
      if (all.length <= 5) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(all.length).toBeLessThanOrEqual(5);
    // what is left of the reads is their tail: the oldest went first
    const names = all.filter((e) => e.method.endsWith("/GetSecret")).map((e) => e.secrets[0]?.name);
    const calls = Array.from({ length: 12 }, (_, i) => `s${i}`);
    expect(names).toEqual(calls.slice(12 - names.length));
  });

  it("pages, filters by name and starts at `since`", async () => {
    tb = await startTestBroker();
    const admin = tb.connect(SecretService, tb.adminToken);
    const inject = tb.connect(InjectService);
    await admin.createSecret({ mode: Mode.TEST, name: "a", credentials: basic() });
    await admin.createSecret({ mode: Mode.TEST, name: "b", credentials: basic() });
    for (let i = 0; i < 5; i++) {
      await inject.inject({ mode: Mode.TEST, name: i % 2 === 0 ? "a" : "b" });
    }
    const audit = tb.connect(AuditService, tb.adminToken);
    const everything = (await audit.listAuditEvents({ pageSize: 1000 })).events;
    expect(everything.length).toBe(7);

    const paged: AuditEvent[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await audit.listAuditEvents({ pageSize: 3, pageToken });
      expect(page.events.length).toBeLessThanOrEqual(3);
      paged.push(...page.events.filter((e) => !e.method.endsWith("/ListAuditEvents")));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "" && pages < 20);
    expect(paged.map((e) => e.sequence)).toEqual(everything.map((e) => e.sequence));

    const onlyA = (await audit.listAuditEvents({ name: "a" })).events;
    expect(onlyA.map((e) => e.method.split("/")[1])).toEqual(["CreateSecret", "Inject", "Inject", "Inject"]);
    expect(onlyA.every((e) => e.secrets.some((s) => s.name === "a"))).toBe(true);

    const third = everything[2]!;
    const since = (await audit.listAuditEvents({ since: third.time! })).events;
    expect(since[0]?.sequence).toBe(third.sequence);
    const future = await audit.listAuditEvents({ since: timestampFromDate(new Date(Date.now() + 3_600_000)) });
    expect(future.events).toEqual([]);

    expect(await connectCodeOf(audit.listAuditEvents({ pageToken: "bogus" }))).toBe(Code.InvalidArgument);
    expect(await connectCodeOf(tb.connect(AuditService).listAuditEvents({}))).toBe(Code.Unauthenticated);
  });
});
