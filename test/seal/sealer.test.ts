import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { SealedPayloadSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { Mode, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { createKeyring, openKeyring } from "../../src/keys/keyring.ts";
import type { RecordBinding } from "../../src/seal/record-binding.ts";
import { createSealer } from "../../src/seal/sealer.ts";
import { aeadSeal } from "../../src/seal/aead.ts";
import { codeOf } from "../support/error-code.ts";

const masterKey = () => new Uint8Array(randomBytes(32));
const binding: RecordBinding = {
  mode: Mode.TEST,
  name: "stripe-api-key",
  type: SecretType.API_KEY,
  version: 3n,
  generation: 0x1234_5678_9abc_def0n,
  description: "Stripe",
  createTime: { seconds: 1_700_000_000n, nanos: 123_000_000 },
  updateTime: { seconds: 1_700_000_500n, nanos: 456_000_000 },
};
const canary = new TextEncoder().encode("canary-sealed-plaintext-6b1f");

describe("sealer", () => {
  const sealer = createSealer(createKeyring(masterKey(), new Date()).keyring);

  it("round-trips a payload and never stores it in clear", () => {
    const sealed = sealer.seal(binding, canary);
    expect(sealed.format).toBe(3);
    expect(sealed.keyId).toBe(1);
    expect(Buffer.from(sealed.ciphertext).includes(Buffer.from(canary))).toBe(false);
    expect(new TextDecoder().decode(sealer.open(binding, sealed))).toBe("canary-sealed-plaintext-6b1f");
  });

  it("uses a fresh data key and nonce for every seal", () => {
    const a = sealer.seal(binding, canary);
    const b = sealer.seal(binding, canary);
    expect(Buffer.from(a.wrappedKey).equals(Buffer.from(b.wrappedKey))).toBe(false);
    expect(Buffer.from(a.ciphertext).equals(Buffer.from(b.ciphertext))).toBe(false);
  });

  it.each([
    ["mode", { ...binding, mode: Mode.LIVE }],
    ["name", { ...binding, name: "other-secret" }],
    ["type", { ...binding, type: SecretType.BEARER_TOKEN }],
    ["version", { ...binding, version: 4n }],
    // a secret deleted and created again at the same version
    ["generation", { ...binding, generation: binding.generation + 1n }],
    ["description", { ...binding, description: "Stripe (old)" }],
    ["createTime", { ...binding, createTime: { ...binding.createTime, seconds: binding.createTime.seconds + 1n } }],
    ["createTime's nanos", { ...binding, createTime: { ...binding.createTime, nanos: binding.createTime.nanos + 1 } }],
    ["updateTime", { ...binding, updateTime: { ...binding.updateTime, seconds: binding.updateTime.seconds - 1n } }],
  ])("refuses a payload moved to another %s", (_what, moved) => {
    const sealed = sealer.seal(binding, canary);
    expect(codeOf(() => sealer.open(moved, sealed))).toBe("ERR_SEAL_OPEN_FAILED");
  });

  it("refuses a payload sealed under another keyring", () => {
    const other = createSealer(createKeyring(masterKey(), new Date()).keyring);
    expect(codeOf(() => other.open(binding, sealer.seal(binding, canary)))).toBe("ERR_SEAL_OPEN_FAILED");
  });

  it.each(["wrappedKey", "ciphertext"] as const)("refuses a flipped byte in %s", (field) => {
    const sealed = sealer.seal(binding, canary);
    for (const index of [0, 30, sealed[field].length - 1]) {
      const bytes = new Uint8Array(sealed[field]);
      bytes[index]! ^= 0x01;
      expect(codeOf(() => sealer.open(binding, create(SealedPayloadSchema, { ...sealed, [field]: bytes })))).toBe(
        "ERR_SEAL_OPEN_FAILED",
      );
    }
  });

  it("refuses an unknown format or key id", () => {
    const sealed = sealer.seal(binding, canary);
    for (const format of [0, 4]) {
      expect(codeOf(() => sealer.open(binding, create(SealedPayloadSchema, { ...sealed, format })))).toBe("ERR_SEAL_OPEN_FAILED");
      expect(codeOf(() => sealer.rewrap(binding, create(SealedPayloadSchema, { ...sealed, format })))).toBe("ERR_SEAL_OPEN_FAILED");
    }
    expect(codeOf(() => sealer.open(binding, create(SealedPayloadSchema, { ...sealed, keyId: 9 })))).toBe(
      "ERR_SEAL_OPEN_FAILED",
    );
  });

  it("reseals to another binding, which then opens only there", () => {
    const live = { ...binding, mode: Mode.LIVE, version: 1n };
    const moved = sealer.reseal(binding, live, sealer.seal(binding, canary));
    expect(new TextDecoder().decode(sealer.open(live, moved))).toBe("canary-sealed-plaintext-6b1f");
    expect(codeOf(() => sealer.open(binding, moved))).toBe("ERR_SEAL_OPEN_FAILED");
  });

  it("never names the plaintext in its errors", () => {
    const sealed = sealer.seal(binding, canary);
    try {
      sealer.open({ ...binding, version: 9n }, sealed);
      expect.unreachable();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain("canary");
    }
  });
});

describe("key rotation", () => {
  const rotated = async () => {
    const key = masterKey();
    const { keyring, sealed } = createKeyring(key, new Date());
    const sealer = createSealer(keyring);
    const old = sealer.seal(binding, canary);
    let stored = sealed;
    const term = await keyring.rotate(key, new Date(), async (next) => {
      stored = next;
      return true;
    });
    return { key, keyring, sealer, old, stored, term };
  };

  it("seals new payloads under the new key at once; the old key still opens older ones", async () => {
    const { keyring, sealer, old, term } = await rotated();
    expect(term?.id).toBe(2);
    expect(keyring.activeKeyId).toBe(2);
    expect(keyring.terms().map((t) => t.id)).toEqual([1, 2]);
    expect(sealer.seal(binding, canary).keyId).toBe(2);
    expect(old.keyId).toBe(1);
    expect(new TextDecoder().decode(sealer.open(binding, old))).toBe("canary-sealed-plaintext-6b1f");
  });

  it("persists the rotation: the stored keyring reopens with both keys and the new one active", async () => {
    const { key, old, stored } = await rotated();
    const reopened = createSealer(openKeyring(key, stored));
    expect(new TextDecoder().decode(reopened.open(binding, old))).toBe("canary-sealed-plaintext-6b1f");
    expect(reopened.seal(binding, canary).keyId).toBe(2);
  });

  it("changes nothing when the keyring cannot be stored", async () => {
    const key = masterKey();
    const { keyring } = createKeyring(key, new Date());
    expect(await keyring.rotate(key, new Date(), async () => false)).toBeUndefined();
    expect(keyring.activeKeyId).toBe(1);
    expect(keyring.terms()).toHaveLength(1);
  });

  it("rewraps the data key only: the payload ciphertext stays byte for byte", async () => {
    const { sealer, old } = await rotated();
    const moved = sealer.rewrap(binding, old)!;
    expect(moved.format).toBe(3);
    expect(moved.keyId).toBe(2);
    expect(Buffer.from(moved.ciphertext).equals(Buffer.from(old.ciphertext))).toBe(true);
    expect(Buffer.from(moved.wrappedKey).equals(Buffer.from(old.wrappedKey))).toBe(false);
    expect(new TextDecoder().decode(sealer.open(binding, moved))).toBe("canary-sealed-plaintext-6b1f");
    expect(sealer.rewrap(binding, moved)).toBeUndefined();
    // the rewrapped data key is still bound to its record and its key id
    expect(codeOf(() => sealer.open({ ...binding, version: 4n }, moved))).toBe("ERR_SEAL_OPEN_FAILED");
    expect(codeOf(() => sealer.open(binding, create(SealedPayloadSchema, { ...moved, keyId: 1 })))).toBe(
      "ERR_SEAL_OPEN_FAILED",
    );
  });

  it("refuses to rewrap a tampered data key", async () => {
    const { sealer, old } = await rotated();
    const bytes = new Uint8Array(old.wrappedKey);
    bytes[30]! ^= 0x01;
    expect(codeOf(() => sealer.rewrap(binding, create(SealedPayloadSchema, { ...old, wrappedKey: bytes })))).toBe(
      "ERR_SEAL_OPEN_FAILED",
    );
  });

  it("still opens format 1 envelopes and upgrades them to format 3 when rewrapping", async () => {
    const { keyring, sealer } = await rotated();
    // format 1 as earlier builds wrote it: one AAD, naming the key id, for both layers
    const aad = encoder.encode(`credbroker record\0${1}\0${1}\0${identity}`);
    const v1 = oldEnvelope(1, keyring.keyById(1)!, aad, aad);
    expect(new TextDecoder().decode(sealer.open(binding, v1))).toBe("canary-sealed-plaintext-6b1f");
    const upgraded = sealer.rewrap(binding, v1)!;
    expect(upgraded.format).toBe(3);
    expect(upgraded.keyId).toBe(2);
    expect(new TextDecoder().decode(sealer.open(binding, upgraded))).toBe("canary-sealed-plaintext-6b1f");
    expect(codeOf(() => sealer.open({ ...binding, generation: 7n }, upgraded))).toBe("ERR_SEAL_OPEN_FAILED");
  });

  it("still opens format 2 envelopes, bound to what format 2 bound, and rewraps them as format 2", async () => {
    const { keyring, sealer } = await rotated();
    // format 2 as earlier builds wrote it: mode, name, type and version; the key id in the wrap alone
    const v2 = oldEnvelope(
      2,
      keyring.keyById(1)!,
      encoder.encode(`credbroker data key\0${2}\0${1}\0${identity}`),
      encoder.encode(`credbroker payload\0${2}\0${identity}`),
    );
    expect(new TextDecoder().decode(sealer.open(binding, v2))).toBe("canary-sealed-plaintext-6b1f");
    // format 2 bound no generation, description or times: a record's may be anything
    const unbound = { ...binding, generation: 0n, description: "", updateTime: { seconds: 0n, nanos: 0 } };
    expect(new TextDecoder().decode(sealer.open(unbound, v2))).toBe("canary-sealed-plaintext-6b1f");
    expect(codeOf(() => sealer.open({ ...binding, version: 4n }, v2))).toBe("ERR_SEAL_OPEN_FAILED");
    const moved = sealer.rewrap(binding, v2)!;
    expect(moved).toMatchObject({ format: 2, keyId: 2 });
    expect(Buffer.from(moved.ciphertext).equals(Buffer.from(v2.ciphertext))).toBe(true);
    expect(new TextDecoder().decode(sealer.open(binding, moved))).toBe("canary-sealed-plaintext-6b1f");
    expect(sealer.rewrap(binding, moved)).toBeUndefined();
    // the new wrap is format 2's, naming the new key id
    expect(codeOf(() => sealer.open(binding, create(SealedPayloadSchema, { ...moved, keyId: 1 })))).toBe("ERR_SEAL_OPEN_FAILED");
  });
});

const encoder = new TextEncoder();
/** What formats 1 and 2 bound of `binding`, NUL-separated. */
const identity = `${binding.mode}\0${binding.name}\0${binding.type}\0${binding.version}`;

/** The canary sealed as an earlier build did, with the AADs it used. */
function oldEnvelope(format: number, wrappingKey: Uint8Array, wrapAad: Uint8Array, payloadAad: Uint8Array) {
  const dataKey = new Uint8Array(randomBytes(32));
  return create(SealedPayloadSchema, {
    format,
    keyId: 1,
    wrappedKey: aeadSeal(wrappingKey, dataKey, wrapAad),
    ciphertext: aeadSeal(dataKey, canary, payloadAad),
  });
}
