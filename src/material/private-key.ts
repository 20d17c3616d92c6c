/**
 * SFTP private keys: strict validation when a secret is written, so that
 * every stored key is one the SFTP client can log in with. Errors name a
 * field and a reason; they never quote the key, its passphrase or parser
 * output about it.
 */
import { randomBytes } from "node:crypto";
import type { ParsedKey } from "ssh2";
import { convertPkcs8, openWithCrypto, type ClientPrivateKey } from "./client-private-key.ts";
import { derIntegersWithin, isCompleteDerSequence, readPem, type Pem } from "./pem-der.ts";
import { keyError, passphraseError } from "./private-key-field.ts";
import { ssh2 } from "./ssh2-module.ts";
import { OPENSSH_MAGIC, readSshString } from "./ssh-wire.ts";

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

/** Throws ERR_INVALID_FIELD unless the key is a private key the SFTP client can log in with. */
export function checkPrivateKey(privateKey: string, passphrase: string): void {
  const pem = readPem(privateKey);
  const encrypted = checkStructure(pem);
  if (encrypted && passphrase === "") {
    throw passphraseError("is required: the private key is encrypted");
  }
  // A passphrase for a plain key is a mistake worth catching (a wrong key
  // pasted, or a passphrase meant for another secret), not something to store.
  if (!encrypted && passphrase !== "") {
    throw passphraseError("is set but the private key is not encrypted");
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
      throw passphraseError("does not open the private key");
    }
    throw keyError("cannot be loaded by the SFTP client (unsupported key type, curve or cipher)");
  }
  if (!SSH2_KEY_TYPES.has(parsed.type)) {
    throw keyError("has a key type the SFTP client does not support (use RSA, ECDSA or Ed25519)");
  }
  if (!signsAndVerifies(parsed)) {
    throw keyError("does not match its own public key");
  }
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

function parseWithSsh2(client: ClientPrivateKey): ParsedKey | undefined {
  // loaded outside the try: a broken install is an internal error, not a bad key
  const { utils } = ssh2();
  try {
    const parsed = utils.parseKey(client.privateKey, client.passphrase === "" ? undefined : client.passphrase);
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
