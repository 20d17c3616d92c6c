/**
 * SFTP private keys: strict validation when a secret is written, and the form
 * that the ssh2 client loads when it is injected. Errors name a field and a
 * reason; they never quote the key, its passphrase or parser output about it.
 */
import { createPrivateKey, randomBytes } from "node:crypto";
import type { KeyObject } from "node:crypto";
import ssh2 from "ssh2";
import type { ParsedKey } from "ssh2";
import { invalidField } from "../errors.ts";

const KEY_FIELD = "credentials.sftpPrivateKey.privateKey";
const PASSPHRASE_FIELD = "credentials.sftpPrivateKey.passphrase";

// The largest key worth parsing: a 16384-bit RSA PEM is about 13 KB.
const MAX_KEY_LENGTH = 64 * 1024;

// ssh2 runs bcrypt_pbkdf in JavaScript on the event loop (~15 ms a round on
// this hardware); the cap keeps `ssh-keygen -a 100` keys usable and a hostile
// round count from stalling the broker.
const MAX_BCRYPT_ROUNDS = 256;
// PBKDF2 iterations (or scrypt N) in encrypted PKCS#8: 2^20 admits OWASP's
// 600,000 and costs OpenSSL well under a second.
const MAX_KDF_COST = 2 ** 20;

// The OpenSSH key ciphers that ssh2 can decrypt (not chacha20-poly1305).
const OPENSSH_KEY_CIPHERS = new Set([
  "aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-cbc", "aes192-cbc",
  "aes256-cbc", "3des-cbc", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
]);

// Legacy PEM encryption (DEK-Info) that both OpenSSL and ssh2 read, with block lengths.
const LEGACY_PEM_CIPHERS = new Map([
  ["AES-128-CBC", 16], ["AES-192-CBC", 16], ["AES-256-CBC", 16], ["DES-EDE3-CBC", 8],
]);

const SSH2_KEY_TYPES = new Set([
  "ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
]);
const SSH_CURVES = new Set(["prime256v1", "secp384r1", "secp521r1"]);

type KeyFormat = "openssh" | "pkcs1" | "sec1" | "pkcs8" | "pkcs8-encrypted";

const PEM_LABELS = new Map<string, KeyFormat>([
  ["OPENSSH PRIVATE KEY", "openssh"],
  ["RSA PRIVATE KEY", "pkcs1"],
  ["EC PRIVATE KEY", "sec1"],
  ["PRIVATE KEY", "pkcs8"],
  ["ENCRYPTED PRIVATE KEY", "pkcs8-encrypted"],
]);

const PEM_BLOCK = /^-----BEGIN ([A-Z0-9 ]{1,40})-----\r?\n([\s\S]*?)\r?\n-----END \1-----$/;
const OPENSSH_MAGIC = "openssh-key-v1\0";

interface Pem {
  format: KeyFormat;
  /** RFC 1421 headers of legacy-encrypted PEM (`Proc-Type`, `DEK-Info`). */
  headers: Map<string, string>;
  body: Buffer;
}

/** Credential material as the ssh2 client's `privateKey`/`passphrase` options. */
export interface ClientPrivateKey {
  privateKey: string;
  passphrase: string;
}

/** Throws ERR_INVALID_FIELD unless the key is a private key the SFTP client can log in with. */
export function checkPrivateKey(privateKey: string, passphrase: string): void {
  const pem = readPem(privateKey);
  const encrypted = checkStructure(pem);
  if (encrypted && passphrase === "") {
    throw invalidField(PASSPHRASE_FIELD, "is required: the private key is encrypted");
  }
  // A passphrase for a plain key is a mistake worth catching (a wrong key
  // pasted, or a passphrase meant for another secret), not something to store.
  if (!encrypted && passphrase !== "") {
    throw invalidField(PASSPHRASE_FIELD, "is set but the private key is not encrypted");
  }
  let client: ClientPrivateKey = { privateKey, passphrase };
  if (pem.format === "pkcs8" || pem.format === "pkcs8-encrypted") {
    client = convertPkcs8(openWithCrypto(privateKey, encrypted, passphrase), encrypted, passphrase);
  } else if (pem.format !== "openssh") {
    // OpenSSL checks the whole key and the legacy encryption's padding; ssh2
    // only reads the public half of PKCS#1/SEC1, so it alone would miss damage.
    openWithCrypto(privateKey, encrypted, passphrase);
  }
  const parsed = parseWithSsh2(client);
  if (parsed === undefined) {
    if (pem.format === "openssh" && encrypted) {
      throw invalidField(PASSPHRASE_FIELD, "does not open the private key");
    }
    throw invalidField(KEY_FIELD, "cannot be loaded by the SFTP client (unsupported key type, curve or cipher)");
  }
  if (!SSH2_KEY_TYPES.has(parsed.type)) {
    throw invalidField(KEY_FIELD, "has a key type the SFTP client does not support (use RSA, ECDSA or Ed25519)");
  }
  if (!signsAndVerifies(parsed)) {
    throw invalidField(KEY_FIELD, "does not match its own public key");
  }
}

/** The key in a form ssh2 loads: PKCS#8 converted, every other format returned as is. */
export function clientPrivateKey(privateKey: string, passphrase: string): ClientPrivateKey {
  // Runs on every Inject: only PKCS#8 needs work, and the header says so.
  const start = privateKey.trimStart();
  const encrypted = start.startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");
  if (!encrypted && !start.startsWith("-----BEGIN PRIVATE KEY-----")) {
    return { privateKey, passphrase };
  }
  return convertPkcs8(openWithCrypto(privateKey, encrypted, passphrase), encrypted, passphrase);
}

/**
 * ssh2 1.17 reads PKCS#1, SEC1 and OpenSSH keys but not PKCS#8. An encrypted
 * RSA/EC key stays encrypted with the same passphrase as legacy PEM
 * (aes-256-cbc), so material that leaks without its passphrase (a log of
 * connect options, a core dump) is not a usable key at a glance; legacy PEM's
 * one-round MD5 key derivation does not hold off a brute force. An encrypted
 * Ed25519 key has only the OpenSSH format, whose encryption needs
 * bcrypt_pbkdf: ssh2 does not export it, and it would cost ~250 ms of event
 * loop on every Inject plus as much again in the runner. Since the passphrase
 * travels in the same response, encryption protects nothing in transit, so
 * that key goes out decrypted with an empty passphrase.
 */
function convertPkcs8(key: KeyObject, encrypted: boolean, passphrase: string): ClientPrivateKey {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return { privateKey: exportPem(key, "pkcs1", encrypted, passphrase), passphrase };
    case "ec":
      if (SSH_CURVES.has(key.asymmetricKeyDetails?.namedCurve ?? "")) {
        return { privateKey: exportPem(key, "sec1", encrypted, passphrase), passphrase };
      }
      break;
    case "ed25519":
      return { privateKey: ed25519ToOpenSsh(key), passphrase: "" };
  }
  throw invalidField(KEY_FIELD, "has a key type the SFTP client does not support (use RSA, ECDSA P-256/384/521 or Ed25519)");
}

function exportPem(key: KeyObject, type: "pkcs1" | "sec1", encrypted: boolean, passphrase: string): string {
  const pem = encrypted
    ? key.export({ type, format: "pem", cipher: "aes-256-cbc", passphrase })
    : key.export({ type, format: "pem" });
  return pem.toString();
}

/** PROTOCOL.key `openssh-key-v1`, unencrypted, one key, empty comment. */
function ed25519ToOpenSsh(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" });
  const seed = Buffer.from(jwk.d ?? "", "base64url");
  const pub = Buffer.from(jwk.x ?? "", "base64url");
  const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
  const checkInt = randomBytes(4);
  // As OpenSSH writes it: the public fields again, then seed || public, then
  // the comment, padded to the 8-byte block of the "none" cipher.
  const secret = Buffer.concat([seed, pub]);
  const secretString = sshString(secret);
  const keys = Buffer.concat([checkInt, checkInt, publicBlob, secretString, sshString("")]);
  const padding = Buffer.from(Array.from({ length: (8 - (keys.length % 8)) % 8 }, (_, i) => i + 1));
  const padded = Buffer.concat([keys, padding]);
  const paddedString = sshString(padded);
  const body = Buffer.concat([
    Buffer.from(OPENSSH_MAGIC, "latin1"), sshString("none"), sshString("none"), sshString(""),
    uint32(1), sshString(publicBlob), paddedString,
  ]);
  const text = body.toString("base64").replace(/.{1,70}/g, "$&\n");
  // every buffer that held the private seed; the returned string cannot be zeroed
  for (const buffer of [seed, secret, secretString, keys, padded, paddedString, body]) {
    buffer.fill(0);
  }
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${text}-----END OPENSSH PRIVATE KEY-----\n`;
}

function readPem(text: string): Pem {
  if (text.length > MAX_KEY_LENGTH) throw keyError("is too large for a private key");
  const match = PEM_BLOCK.exec(text.trim());
  const format = match ? PEM_LABELS.get(match[1] ?? "") : undefined;
  if (match === null || format === undefined) {
    throw keyError("is not a supported private key (PEM PKCS#8, PKCS#1, SEC1 or OpenSSH format)");
  }
  const lines = (match[2] ?? "").split(/\r?\n/);
  const headers = new Map<string, string>();
  for (let line = lines[0]; line !== undefined && line.includes(":"); line = lines[0]) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    lines.shift();
  }
  const base64 = lines.join("").trim();
  if (base64 === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw keyError("has a malformed PEM body");
  return { format, headers, body: Buffer.from(base64, "base64") };
}

/** Checks what can be checked without the passphrase; says whether the key is encrypted. */
function checkStructure(pem: Pem): boolean {
  const legacy = pem.format === "pkcs1" || pem.format === "sec1";
  if (pem.format === "openssh" && pem.headers.size === 0) return checkOpenSshEnvelope(pem.body);
  if (legacy && pem.headers.get("Proc-Type") === "4,ENCRYPTED") {
    const [cipher = "", iv = ""] = (pem.headers.get("DEK-Info") ?? "").toUpperCase().split(",");
    const blockLength = LEGACY_PEM_CIPHERS.get(cipher);
    if (blockLength === undefined) throw keyError("is encrypted with a cipher the SFTP client does not support");
    if (!new RegExp(`^[0-9A-F]{${blockLength * 2}}$`).test(iv) || pem.body.length % blockLength !== 0) {
      throw keyError("has a malformed encrypted PEM body");
    }
    return true;
  }
  if (pem.format === "openssh" || pem.headers.size > 0 || !isCompleteDerSequence(pem.body)) {
    throw keyError("has a malformed PEM body");
  }
  if (pem.format !== "pkcs8-encrypted") return false;
  // OpenSSL runs PBKDF2 natively but without a ceiling; a hostile iteration
  // count would hold the broker for minutes.
  if (!derIntegersWithin(pem.body, 0, pem.body.length, MAX_KDF_COST)) {
    throw keyError(`is encrypted with a key derivation cost above ${MAX_KDF_COST}`);
  }
  return true;
}

function checkOpenSshEnvelope(body: Buffer): boolean {
  const cursor = { pos: OPENSSH_MAGIC.length };
  if (body.toString("latin1", 0, cursor.pos) !== OPENSSH_MAGIC) throw keyError("is not an openssh-key-v1 key");
  const cipher = readSshString(body, cursor)?.toString("latin1");
  const kdf = readSshString(body, cursor)?.toString("latin1");
  const kdfOptions = readSshString(body, cursor);
  const count = cursor.pos + 4 <= body.length ? body.readUInt32BE(cursor.pos) : 0;
  cursor.pos += 4;
  const publicBlob = readSshString(body, cursor);
  const privateBlob = readSshString(body, cursor);
  const tagLength = cipher?.endsWith("-gcm@openssh.com") ? 16 : 0;
  if (kdfOptions === undefined || count !== 1 || publicBlob === undefined
    || privateBlob === undefined || body.length - cursor.pos !== tagLength) {
    throw keyError("is a malformed OpenSSH private key");
  }
  if (cipher === "none" && kdf === "none" && kdfOptions.length === 0) return false;
  if (kdf !== "bcrypt" || cipher === undefined || !OPENSSH_KEY_CIPHERS.has(cipher)) {
    throw keyError("is encrypted with a cipher or KDF the SFTP client does not support");
  }
  const optionsCursor = { pos: 0 };
  const salt = readSshString(kdfOptions, optionsCursor);
  if (salt === undefined || optionsCursor.pos + 4 !== kdfOptions.length) {
    throw keyError("is a malformed OpenSSH private key");
  }
  if (kdfOptions.readUInt32BE(optionsCursor.pos) > MAX_BCRYPT_ROUNDS) {
    throw keyError(`is encrypted with more than ${MAX_BCRYPT_ROUNDS} bcrypt rounds`);
  }
  return true;
}

function openWithCrypto(privateKey: string, encrypted: boolean, passphrase: string): KeyObject {
  try {
    return createPrivateKey(encrypted ? { key: privateKey, format: "pem", passphrase } : privateKey);
  } catch {
    // The structure was checked already, so an encrypted key that fails to
    // open most likely met the wrong passphrase.
    throw encrypted
      ? invalidField(PASSPHRASE_FIELD, "does not open the private key")
      : keyError("is not a valid private key");
  }
}

function parseWithSsh2(client: ClientPrivateKey): ParsedKey | undefined {
  try {
    const parsed = ssh2.utils.parseKey(client.privateKey, client.passphrase === "" ? undefined : client.passphrase);
    return parsed instanceof Error || !parsed.isPrivateKey() ? undefined : parsed;
  } catch {
    return undefined;
  }
}

/** Proves the private half belongs to the public half that the server will see. */
function signsAndVerifies(parsed: ParsedKey): boolean {
  try {
    const probe = randomBytes(32);
    const algo = parsed.type === "ssh-rsa" ? "sha256" : undefined;
    // ssh2 returns an Error instead of throwing, whatever its types say.
    const signature: unknown = parsed.sign(probe, algo);
    return signature instanceof Buffer && (parsed.verify(probe, signature, algo) as unknown) === true;
  } catch {
    return false;
  }
}

function isCompleteDerSequence(der: Buffer): boolean {
  const tlv = readTlv(der, 0, der.length);
  return tlv?.tag === 0x30 && tlv.end === der.length;
}

/** Every INTEGER under `der` (PBKDF2 iterations, scrypt N, key lengths) is at most `limit`. */
function derIntegersWithin(der: Buffer, from: number, to: number, limit: number, depth = 0): boolean {
  for (let pos = from; pos < to;) {
    const tlv = readTlv(der, pos, to);
    if (tlv === undefined || depth > 8) return false;
    if (tlv.tag === 0x02) {
      let value = der.subarray(tlv.start, tlv.end);
      while (value.length > 1 && value[0] === 0) value = value.subarray(1);
      if (value.length === 0 || value.length > 3 || value.readUIntBE(0, value.length) > limit) return false;
    } else if ((tlv.tag & 0x20) !== 0 && !derIntegersWithin(der, tlv.start, tlv.end, limit, depth + 1)) {
      return false;
    }
    pos = tlv.end;
  }
  return true;
}

function readTlv(der: Buffer, pos: number, to: number): { tag: number; start: number; end: number } | undefined {
  if (pos + 2 > to) return undefined;
  const tag = der[pos] ?? 0;
  let length = der[pos + 1] ?? 0;
  let start = pos + 2;
  if (length >= 0x80) {
    const octets = length & 0x7f;
    if (octets < 1 || octets > 3 || start + octets > to) return undefined;
    length = der.readUIntBE(start, octets);
    start += octets;
  }
  return start + length <= to ? { tag, start, end: start + length } : undefined;
}

function readSshString(buffer: Buffer, cursor: { pos: number }): Buffer | undefined {
  if (cursor.pos + 4 > buffer.length) return undefined;
  const length = buffer.readUInt32BE(cursor.pos);
  const start = cursor.pos + 4;
  if (length > buffer.length - start) return undefined;
  cursor.pos = start + length;
  return buffer.subarray(start, start + length);
}

function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value, "latin1") : value;
  return Buffer.concat([uint32(bytes.length), bytes]);
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

function keyError(problem: string) {
  return invalidField(KEY_FIELD, problem);
}
