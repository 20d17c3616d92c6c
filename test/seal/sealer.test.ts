import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { SealedPayloadSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { Mode, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../../src/errors.ts";
import { createKeyring, openKeyring } from "../../src/seal/keyring.ts";
import { createSealer, type RecordBinding } from "../../src/seal/sealer.ts";

const masterKey = () => new Uint8Array(randomBytes(32));
const binding: RecordBinding = { mode: Mode.TEST, name: "stripe-api-key", type: SecretType.API_KEY, version: 3n };
const canary = new TextEncoder().encode("canary-sealed-plaintext-6b1f");

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof CredbrokerError ? error.code : `not a CredbrokerError: ${String(error)}`;
  }
  return undefined;
}

describe("sealer", () => {
  const sealer = createSealer(createKeyring(masterKey(), new Date()).keyring);

  it("round-trips a payload and never stores it in clear", () => {
    const sealed = sealer.seal(binding, canary);
    expect(sealed.format).toBe(1);
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
    expect(codeOf(() => sealer.open(binding, create(SealedPayloadSchema, { ...sealed, format: 2 })))).toBe(
      "ERR_SEAL_OPEN_FAILED",
    );
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

describe("keyring", () => {
  it("opens with its master key and seals the same way after reopening", () => {
    const key = masterKey();
    const { keyring, sealed } = createKeyring(key, new Date());
    const reopened = openKeyring(key, sealed);
    expect(reopened.activeKeyId).toBe(keyring.activeKeyId);
    const payload = createSealer(keyring).seal(binding, canary);
    expect(new TextDecoder().decode(createSealer(reopened).open(binding, payload))).toBe("canary-sealed-plaintext-6b1f");
  });

  it("refuses a wrong master key with ERR_MASTER_KEY_MISMATCH", () => {
    const { sealed } = createKeyring(masterKey(), new Date());
    expect(codeOf(() => openKeyring(masterKey(), sealed))).toBe("ERR_MASTER_KEY_MISMATCH");
  });

  it("refuses a corrupt keyring", () => {
    const key = masterKey();
    const { sealed } = createKeyring(key, new Date());
    const flipped = new Uint8Array(sealed);
    flipped[flipped.length - 1]! ^= 0x80;
    expect(codeOf(() => openKeyring(key, flipped))).toBe("ERR_MASTER_KEY_MISMATCH");
    expect(codeOf(() => openKeyring(key, new Uint8Array([0xff, 0xff])))).toBe("ERR_SEAL_OPEN_FAILED");
  });
});
