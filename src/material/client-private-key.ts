/**
 * SFTP private keys in the form that the ssh2 client loads, made on every
 * Inject: PKCS#8 converted, every other format as stored.
 */
import { createPrivateKey, randomBytes } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { keyError, passphraseError } from "./private-key-field.ts";
import { OPENSSH_MAGIC, sshString, uint32 } from "./ssh-wire.ts";

const SSH_CURVES = new Set(["prime256v1", "secp384r1", "secp521r1"]);

/** Credential material as the ssh2 client's `privateKey`/`passphrase` options. */
export interface ClientPrivateKey {
  privateKey: string;
  passphrase: string;
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
export function convertPkcs8(key: KeyObject, encrypted: boolean, passphrase: string): ClientPrivateKey {
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
  throw keyError("has a key type the SFTP client does not support (use RSA, ECDSA P-256/384/521 or Ed25519)");
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

/** Opens the key with OpenSSL; a failure names the passphrase when the key is encrypted, else the key. */
export function openWithCrypto(privateKey: string, encrypted: boolean, passphrase: string): KeyObject {
  try {
    return createPrivateKey(encrypted ? { key: privateKey, format: "pem", passphrase } : privateKey);
  } catch {
    // The structure was checked already, so an encrypted key that fails to
    // open most likely met the wrong passphrase.
    throw encrypted
      ? passphraseError("does not open the private key")
      : keyError("is not a valid private key");
  }
}
