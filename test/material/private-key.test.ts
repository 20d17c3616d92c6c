import { spawnSync } from "node:child_process";
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { CredbrokerError } from "../../src/errors.ts";
import { clientPrivateKey } from "../../src/material/client-private-key.ts";
import { checkPrivateKey } from "../../src/material/private-key.ts";

const KEY = "credentials.sftpPrivateKey.privateKey";
const PASSPHRASE = "credentials.sftpPrivateKey.passphrase";
const canary = (): string => `canary-${randomUUID()}`;
const pass = canary();

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
const ed = generateKeyPairSync("ed25519").privateKey;
const pem = (key: KeyObject, type: "pkcs1" | "pkcs8" | "sec1", passphrase?: string): string =>
  key.export(passphrase === undefined
    ? { type, format: "pem" }
    : { type, format: "pem", cipher: "aes-256-cbc", passphrase }).toString();
const openssh = (passphrase?: string, rounds = 16): string =>
  ssh2.utils.generateKeyPairSync("ed25519", passphrase === undefined ? {} : { passphrase, cipher: "aes256-ctr", rounds }).private;

const keys = {
  rsaPkcs8: pem(rsa, "pkcs8"),
  rsaPkcs1: pem(rsa, "pkcs1"),
  ecSec1: pem(ec, "sec1"),
  ecPkcs8: pem(ec, "pkcs8"),
  edPkcs8: pem(ed, "pkcs8"),
  edOpenSsh: openssh(),
  rsaPkcs8Encrypted: pem(rsa, "pkcs8", pass),
  ecPkcs8Encrypted: pem(ec, "pkcs8", pass),
  edPkcs8Encrypted: pem(ed, "pkcs8", pass),
  rsaPkcs1Encrypted: pem(rsa, "pkcs1", pass),
  edOpenSshEncrypted: openssh(pass),
};

/** Runs `fn`, expects ERR_INVALID_FIELD on `field`, and no trace of any secret anywhere in the error. */
function expectRejected(fn: () => void, field: string, secrets: string[] = []): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CredbrokerError);
  const error = caught as CredbrokerError;
  expect({ code: error.code, field: error.field }).toEqual({ code: "ERR_INVALID_FIELD", field });
  const shown = `${inspect(error, { depth: 10 })} ${JSON.stringify(error)}`;
  for (const secret of secrets) {
    const fragments = secret.split(/\r?\n/).filter((line) => line.length >= 12 && !line.startsWith("-----"));
    const whole = secret.trim().length >= 8 ? [secret] : [];
    for (const fragment of fragments.length > 0 ? fragments : whole) expect(shown).not.toContain(fragment);
  }
}

const spki = (key: string | KeyObject, passphrase?: string): string => {
  const opened = typeof key === "string" && passphrase !== undefined ? createPrivateKey({ key, format: "pem", passphrase }) : key;
  return createPublicKey(opened).export({ type: "spki", format: "der" }).toString("base64");
};
const sshPublic = (key: string, passphrase = ""): string => {
  const parsed = ssh2.utils.parseKey(key, passphrase === "" ? undefined : passphrase);
  if (parsed instanceof Error) throw parsed;
  return parsed.getPublicSSH().toString("base64");
};
const edPublicSsh = (): string => {
  const raw = Buffer.from(ed.export({ format: "jwk" }).x ?? "", "base64url");
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]).toString("base64");
};
const sshKeygen = spawnSync("ssh-keygen", ["-?"]).error === undefined;

describe("checkPrivateKey accepts", () => {
  it.each([
    ["RSA PKCS#8", keys.rsaPkcs8, ""], ["RSA PKCS#1", keys.rsaPkcs1, ""],
    ["EC SEC1", keys.ecSec1, ""], ["EC PKCS#8", keys.ecPkcs8, ""],
    ["Ed25519 PKCS#8", keys.edPkcs8, ""], ["Ed25519 OpenSSH", keys.edOpenSsh, ""],
    ["encrypted RSA PKCS#8", keys.rsaPkcs8Encrypted, pass],
    ["encrypted EC PKCS#8", keys.ecPkcs8Encrypted, pass],
    ["encrypted Ed25519 PKCS#8", keys.edPkcs8Encrypted, pass],
    ["legacy-encrypted PKCS#1", keys.rsaPkcs1Encrypted, pass],
    ["legacy-encrypted SEC1 (DES-EDE3-CBC)", ec.export({ type: "sec1", format: "pem", cipher: "des-ede3-cbc", passphrase: pass }).toString(), pass],
    ["OpenSSH with passphrase", keys.edOpenSshEncrypted, pass],
    ["CRLF line endings", keys.rsaPkcs8.replaceAll("\n", "\r\n"), ""],
  ])("%s", (_, key, passphrase) => {
    expect(() => checkPrivateKey(key, passphrase)).not.toThrow();
  });
});

describe("checkPrivateKey rejects a passphrase problem on the passphrase field", () => {
  const encrypted = [
    ["encrypted PKCS#8", keys.rsaPkcs8Encrypted], ["encrypted Ed25519 PKCS#8", keys.edPkcs8Encrypted],
    ["legacy-encrypted PKCS#1", keys.rsaPkcs1Encrypted], ["OpenSSH", keys.edOpenSshEncrypted],
  ] as const;
  it.each(encrypted)("%s with a wrong passphrase", (_, key) => {
    const wrong = canary();
    expectRejected(() => checkPrivateKey(key, wrong), PASSPHRASE, [key, wrong, pass]);
  });
  it.each(encrypted)("%s without a passphrase", (_, key) => {
    expectRejected(() => checkPrivateKey(key, ""), PASSPHRASE, [key, pass]);
  });
  it("a plain key with a passphrase", () => {
    const stray = canary();
    expectRejected(() => checkPrivateKey(keys.edOpenSsh, stray), PASSPHRASE, [keys.edOpenSsh, stray]);
    expectRejected(() => checkPrivateKey(keys.rsaPkcs8, stray), PASSPHRASE, [keys.rsaPkcs8, stray]);
  });
});

describe("checkPrivateKey rejects what is not a usable private key on the key field", () => {
  const cut = (key: string, keep: number) => {
    const lines = key.trim().split("\n");
    return [...lines.slice(0, keep), lines.at(-1)].join("\n");
  };
  const rsaPss = generateKeyPairSync("rsa-pss", { modulusLength: 2048 }).privateKey;
  const k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey;
  it.each([
    ["empty", ""], ["whitespace", " \n\t "], ["garbage", "not a key at all"],
    ["an OpenSSH public key", sshPublicLine()],
    ["a PEM public key", createPublicKey(rsa).export({ type: "spki", format: "pem" }).toString()],
    ["a certificate-looking block", `-----BEGIN CERTIFICATE-----\n${Buffer.from(canary()).toString("base64")}\n-----END CERTIFICATE-----\n`],
    ["PEM cut in the middle", keys.rsaPkcs8.slice(0, keys.rsaPkcs8.length / 2)],
    ["PKCS#8 with body lines missing", cut(keys.rsaPkcs8, 8)],
    ["PKCS#1 with body lines missing", cut(keys.rsaPkcs1, 8)],
    ["OpenSSH with body lines missing", cut(keys.edOpenSsh, 3)],
    ["encrypted PKCS#8 with body lines missing", cut(keys.rsaPkcs8Encrypted, 8)],
    ["legacy PEM encrypted with a cipher ssh2 cannot read", keys.rsaPkcs1Encrypted.replace(/DEK-Info: AES-256-CBC,([0-9A-F]{16})[0-9A-F]{16}/, "DEK-Info: DES-CBC,$1")],
    ["mismatched BEGIN and END", keys.rsaPkcs1.replace("END RSA", "END EC")],
    ["two keys in one field", keys.ecSec1 + keys.rsaPkcs1],
    ["an RSA-PSS key", pem(rsaPss, "pkcs8")], ["a secp256k1 SEC1 key", pem(k1, "sec1")],
    ["a secp256k1 PKCS#8 key", pem(k1, "pkcs8")],
    ["an X25519 key", pem(generateKeyPairSync("x25519").privateKey, "pkcs8")],
    ["an oversized key", `-----BEGIN PRIVATE KEY-----\n${"A".repeat(70_000)}\n-----END PRIVATE KEY-----`],
  ])("%s", (_, key) => {
    expectRejected(() => checkPrivateKey(key, ""), KEY, [key]);
  });

  it("an OpenSSH key with a hostile bcrypt round count, without running bcrypt", () => {
    const lines = keys.edOpenSshEncrypted.trim().split("\n");
    const body = Buffer.from(lines.slice(1, -1).join(""), "base64");
    // magic(15) + "aes256-ctr"(4+10) + "bcrypt"(4+6) + kdfoptions length(4) + salt(4+16) -> rounds
    body.writeUInt32BE(0xffffffff, 15 + 14 + 10 + 4 + 20);
    const key = `${lines[0]}\n${body.toString("base64")}\n${lines.at(-1)}\n`;
    expectRejected(() => checkPrivateKey(key, pass), KEY, [key, pass]);
  });

  it("an encrypted PKCS#8 key with a hostile PBKDF2 iteration count, without running PBKDF2", () => {
    const der = (tag: number, ...parts: Buffer[]): Buffer => {
      const body = Buffer.concat(parts);
      const length = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
      return Buffer.concat([Buffer.from([tag]), length, body]);
    };
    const oid = (hex: string) => der(0x06, Buffer.from(hex, "hex"));
    const info = der(0x30,
      der(0x30, oid("2a864886f70d01050d"), der(0x30,
        der(0x30, oid("2a864886f70d01050c"), der(0x30, der(0x04, Buffer.alloc(16, 7)), der(0x02, Buffer.from([0x7f, 0xff, 0xff, 0xff])))),
        der(0x30, oid("60864801650304012a"), der(0x04, Buffer.alloc(16, 9))))),
      der(0x04, Buffer.alloc(48, 1)));
    const key = `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${info.toString("base64")}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
    expectRejected(() => checkPrivateKey(key, pass), KEY, [key, pass]);
  });

  it("a key whose private half does not match its public half", () => {
    const other = generateKeyPairSync("ed25519").privateKey;
    const mine = Buffer.from(keys.edOpenSsh.split("\n").slice(1, -2).join(""), "base64");
    const theirs = Buffer.from(clientPrivateKey(pem(other, "pkcs8"), "").privateKey.split("\n").slice(1, -2).join(""), "base64");
    // Keep this key's public blob and checkints, graft the other key's secret (seed + public).
    const end = (blob: Buffer) => blob.length - (blob.at(-1) ?? 0) /* padding */ - 4 /* empty comment */;
    theirs.copy(mine, end(mine) - 64, end(theirs) - 64, end(theirs));
    const key = `-----BEGIN OPENSSH PRIVATE KEY-----\n${mine.toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`;
    expectRejected(() => checkPrivateKey(key, ""), KEY, [key]);
  });

  it("survives mutated keys: only ERR_INVALID_FIELD, never key text or passphrase", () => {
    let seed = 0x2545f491;
    const next = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const quick = openssh(pass, 1);
    const samples = [keys.rsaPkcs1, keys.ecPkcs8, keys.edOpenSsh, keys.rsaPkcs8Encrypted, keys.rsaPkcs1Encrypted, quick];
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=:-\n ";
    let rejected = 0;
    for (let round = 0; round < 300; round++) {
      const original = samples[round % samples.length] ?? "";
      const chars = [...original];
      for (let flips = 1 + next(4); flips > 0; flips--) chars[next(chars.length)] = alphabet[next(alphabet.length)] ?? "";
      const mutated = round % 5 === 0 ? chars.slice(0, next(chars.length)).join("") : chars.join("");
      const passphrase = original.includes("ENCRYPTED") || original === quick ? pass : "";
      try {
        checkPrivateKey(mutated, passphrase);
      } catch (error) {
        rejected++;
        expectRejected(() => { throw error; }, (error as CredbrokerError).field === PASSPHRASE ? PASSPHRASE : KEY, [original, pass]);
      }
    }
    expect(rejected).toBeGreaterThan(200);
  });
});

describe("clientPrivateKey", () => {
  it.each([
    ["RSA PKCS#1", keys.rsaPkcs1, ""], ["EC SEC1", keys.ecSec1, ""], ["Ed25519 OpenSSH", keys.edOpenSsh, ""],
    ["legacy-encrypted PKCS#1", keys.rsaPkcs1Encrypted, pass], ["OpenSSH with passphrase", keys.edOpenSshEncrypted, pass],
  ])("returns %s unchanged", (_, key, passphrase) => {
    expect(clientPrivateKey(key, passphrase)).toEqual({ privateKey: key, passphrase });
  });

  it.each([
    ["RSA", keys.rsaPkcs8, rsa, "RSA PRIVATE KEY"], ["EC", keys.ecPkcs8, ec, "EC PRIVATE KEY"],
  ])("converts %s PKCS#8 to the traditional PEM that ssh2 reads", (_, key, original, label) => {
    const client = clientPrivateKey(key, "");
    expect(client.privateKey).toContain(`-----BEGIN ${label}-----`);
    expect(client.passphrase).toBe("");
    expect(spki(client.privateKey)).toBe(spki(original));
    expect(sshPublic(client.privateKey)).toBeTruthy();
  });

  it.each([
    ["RSA", keys.rsaPkcs8Encrypted, rsa, "RSA PRIVATE KEY"], ["EC", keys.ecPkcs8Encrypted, ec, "EC PRIVATE KEY"],
  ])("keeps encrypted %s PKCS#8 encrypted with the same passphrase", (_, key, original, label) => {
    const client = clientPrivateKey(key, pass);
    expect(client).toMatchObject({ passphrase: pass });
    expect(client.privateKey).toMatch(new RegExp(`^-----BEGIN ${label}-----\\nProc-Type: 4,ENCRYPTED\\n`));
    expect(spki(client.privateKey, pass)).toBe(spki(original));
    expect(sshPublic(client.privateKey, pass)).toBeTruthy();
    expect(ssh2.utils.parseKey(client.privateKey, canary())).toBeInstanceOf(Error);
  });

  it.each([
    ["plain", keys.edPkcs8, ""], ["encrypted (returned decrypted)", keys.edPkcs8Encrypted, pass],
  ])("converts %s Ed25519 PKCS#8 to an OpenSSH key", (_, key, passphrase) => {
    const client = clientPrivateKey(key, passphrase);
    expect(client.passphrase).toBe("");
    expect(client.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END OPENSSH PRIVATE KEY-----\n$/);
    expect(sshPublic(client.privateKey)).toBe(edPublicSsh());
    expect(() => checkPrivateKey(client.privateKey, "")).not.toThrow();
  });

  it.skipIf(!sshKeygen)("writes Ed25519 keys that OpenSSH's own ssh-keygen reads", () => {
    const dir = mkdtempSync(join(tmpdir(), "credbroker-key-"));
    try {
      const file = join(dir, "id_ed25519");
      writeFileSync(file, clientPrivateKey(keys.edPkcs8, "").privateKey, { mode: 0o600 });
      const derived = spawnSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" });
      expect(derived.stderr).toBe("");
      expect(derived.stdout.trim()).toBe(`ssh-ed25519 ${edPublicSsh()}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("does not confuse the ssh2 parser's view of the original key", () => {
    // Guards the premise: if ssh2 ever reads PKCS#8 itself, conversion can go.
    expect(ssh2.utils.parseKey(keys.rsaPkcs8)).toBeInstanceOf(Error);
    expect(createPrivateKey(keys.rsaPkcs8).asymmetricKeyType).toBe("rsa");
  });
});

function sshPublicLine(): string {
  return `ssh-ed25519 ${edPublicSsh()} someone@example`;
}
