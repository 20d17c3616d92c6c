/**
 * The hand-written AuditEvent encoder writes what protobuf-es's toBinary
 * writes, byte for byte, and fails here first when the schema gains a field
 * it does not write.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { encodeAuditEvent, type AuditEventFields } from "../../src/audit/event-encoding.ts";
import { AuditCallerSchema, AuditEventSchema, AuditSecretSchema, CallerKind } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";

const base: AuditEventFields = {
  time: { seconds: 1_796_000_000n, nanos: 123_000_000 },
  method: "credbroker.v1.InjectService/Inject",
  mode: Mode.LIVE,
  secrets: [{ name: "stripe-api-key", version: 7n }],
  code: "ok",
  caller: { kind: CallerKind.INJECT_LIVE, peerAddress: "127.0.0.1:53122", tlsSubject: "" },
  requestId: "3f0c2b9e-8c1d-4e2a-9f7b-1a2b3c4d5e6f",
};

const variants: [string, AuditEventFields, number, string?][] = [
  ["an Inject", base, 1_796_000_000_123_000],
  ["zeros and empty strings everywhere", { ...base, time: { seconds: 0n, nanos: 0 }, method: "", mode: Mode.UNSPECIFIED, secrets: [], code: "", caller: { kind: CallerKind.UNSPECIFIED, peerAddress: "", tlsSubject: "" }, requestId: "" }, 0],
  ["many secrets, versions past 2^53 and a secret without a version", { ...base, secrets: [{ name: "a", version: 0n }, { name: "b", version: 2n ** 63n + 5n }, { name: "c", version: 2n ** 64n - 1n }] }, 1],
  ["non-ASCII and long strings", { ...base, caller: { kind: CallerKind.ADMIN, peerAddress: "/run/credbroker/é-sock", tlsSubject: `CN=${"ü".repeat(300)},O=Ωmega 🚀` }, requestId: "x".repeat(200) }, 2 ** 53 - 1],
  ["a negative time (int64 as ten bytes) and nanos near a second", { ...base, time: { seconds: -5n, nanos: 999_999_999 } }, 128],
  ["a dry run", { ...base, validateOnly: true }, 3],
  ["a fleet sidecar's event, naming its instance", base, 4, "automations-7d9f-x2k4q"],
];

describe("encodeAuditEvent", () => {
  for (const [label, fields, sequence, instanceId = ""] of variants) {
    it(`writes toBinary's bytes for ${label}`, () => {
      const message = create(AuditEventSchema, {
        sequence: BigInt(sequence),
        time: fields.time,
        method: fields.method,
        mode: fields.mode,
        secrets: fields.secrets.map((secret) => create(AuditSecretSchema, secret)),
        code: fields.code,
        caller: create(AuditCallerSchema, fields.caller),
        requestId: fields.requestId,
        validateOnly: fields.validateOnly ?? false,
        instanceId,
      });
      const encoded = encodeAuditEvent(fields, sequence, 17, { instanceId });
      expect(Buffer.from(encoded.subarray(17))).toEqual(Buffer.from(toBinary(AuditEventSchema, message)));
      expect(fromBinary(AuditEventSchema, encoded.subarray(17))).toEqual(message);
    });
  }

  it("knows every field of the schema: a new field must be written by the encoder too", () => {
    const fields = (schema: { fields: readonly { name: string; number: number }[] }) => schema.fields.map((f) => `${f.number}:${f.name}`);
    expect(fields(AuditEventSchema)).toEqual(["1:sequence", "2:time", "3:method", "4:mode", "5:secrets", "6:code", "7:caller", "8:request_id", "9:validate_only", "10:instance_id"]);
    expect(fields(AuditSecretSchema)).toEqual(["1:name", "2:version"]);
    expect(fields(AuditCallerSchema)).toEqual(["1:kind", "2:peer_address", "3:tls_subject"]);
  });
});
