/**
 * The PEM envelope of a private key and the DER walks its checks need: the
 * label names the format, legacy encryption shows in RFC 1421 headers, and
 * a DER body is read as TLVs without trusting its lengths.
 */
import { keyError } from "./private-key-field.ts";

// The largest key worth parsing: a 16384-bit RSA PEM is about 13 KB.
const MAX_KEY_LENGTH = 64 * 1024;

/** The key formats the SFTP client can be given, by PEM label. */
export type KeyFormat = "openssh" | "pkcs1" | "sec1" | "pkcs8" | "pkcs8-encrypted";

const PEM_LABELS = new Map<string, KeyFormat>([
  ["OPENSSH PRIVATE KEY", "openssh"],
  ["RSA PRIVATE KEY", "pkcs1"],
  ["EC PRIVATE KEY", "sec1"],
  ["PRIVATE KEY", "pkcs8"],
  ["ENCRYPTED PRIVATE KEY", "pkcs8-encrypted"],
]);

const PEM_BLOCK = /^-----BEGIN ([A-Z0-9 ]{1,40})-----\r?\n([\s\S]*?)\r?\n-----END \1-----$/;

/** A key's PEM block, read. */
export interface Pem {
  format: KeyFormat;
  /** RFC 1421 headers of legacy-encrypted PEM (`Proc-Type`, `DEK-Info`). */
  headers: Map<string, string>;
  body: Buffer;
}

/** Reads one PEM block of a supported label; ERR_INVALID_FIELD on the key otherwise. */
export function readPem(text: string): Pem {
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

/** Whether the DER is one SEQUENCE that spans it exactly. */
export function isCompleteDerSequence(der: Buffer): boolean {
  const tlv = readTlv(der, 0, der.length);
  return tlv?.tag === 0x30 && tlv.end === der.length;
}

/** Every INTEGER under `der` (PBKDF2 iterations, scrypt N, key lengths) is at most `limit`. */
export function derIntegersWithin(der: Buffer, from: number, to: number, limit: number, depth = 0): boolean {
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
