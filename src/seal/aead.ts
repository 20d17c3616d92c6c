import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { randomBytes } from "@noble/ciphers/utils.js";

const nonceLength = 24;

/** Encrypts with XChaCha20-Poly1305 under a fresh random nonce; returns nonce || ciphertext || tag. */
export function aeadSeal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const nonce = randomBytes(nonceLength);
  const sealed = xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
  const out = new Uint8Array(nonceLength + sealed.length);
  out.set(nonce, 0);
  out.set(sealed, nonceLength);
  return out;
}

/** Opens what aeadSeal produced; undefined when authentication fails. */
export function aeadOpen(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < nonceLength + 16) {
    return undefined;
  }
  try {
    return xchacha20poly1305(key, sealed.subarray(0, nonceLength), aad).decrypt(
      sealed.subarray(nonceLength),
    );
  } catch {
    // noble throws on a bad tag; the caller turns that into its own error
    return undefined;
  }
}
