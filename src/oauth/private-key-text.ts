/**
 * A private key as the credentials hold it: one unencrypted PEM block
 * (PKCS#8, PKCS#1 or SEC1) or a private JWK as JSON text. Parsed with
 * node:crypto; errors name the field in fixed words and never quote the
 * key, JSON.parse's or OpenSSL's words about it.
 */
import { createPrivateKey } from "node:crypto";
import type { JsonWebKey, KeyObject } from "node:crypto";
import { invalidField } from "../errors.ts";

/** The PEM labels of unencrypted private keys: PKCS#8, PKCS#1 (RSA) and SEC1 (EC). */
const PEM_KEY = /^-----BEGIN (PRIVATE|RSA PRIVATE|EC PRIVATE) KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1 KEY-----$/;

/** A parsed private key, and the JWK it was given as, if it was one. */
export interface PrivateKeyText {
  /** The key; never log it or put it into an error. */
  key: KeyObject;
  /** The JWK's `alg` member, when the key was a JWK that had one. */
  jwkAlg: string | undefined;
}

/** Parses PEM or JWK text; throws ERR_INVALID_FIELD naming `field`. */
export function parsePrivateKeyText(text: string, field: string): PrivateKeyText {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) {
    return { key: parsePem(trimmed, field), jwkAlg: undefined };
  }
  const jwk = parseJwk(trimmed, field);
  try {
    return { key: createPrivateKey({ key: jwk, format: "jwk" }), jwkAlg: typeof jwk.alg === "string" ? jwk.alg : undefined };
  } catch {
    throw invalidField(field, "is not a usable private JWK (RSA, EC or OKP)");
  }
}

function parsePem(text: string, field: string): KeyObject {
  if (!PEM_KEY.test(text)) {
    throw invalidField(field, "must be one unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1) or a private JWK");
  }
  try {
    return createPrivateKey({ key: text, format: "pem" });
  } catch {
    throw invalidField(field, "is not a readable PEM private key");
  }
}

function parseJwk(text: string, field: string): JsonWebKey {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text, which is the key
    throw invalidField(field, "starts with '{' but is not JSON (a JWK)");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || !("d" in value)) {
    throw invalidField(field, "a JWK must be an object with its private part (d)");
  }
  return value as JsonWebKey;
}
