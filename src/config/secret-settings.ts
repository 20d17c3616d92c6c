import { ConfigError } from "./config-error.ts";
import type { RawSetting } from "./setting.ts";

/** A secret value and where it came from (for messages; never the value). */
export interface ConfiguredSecret<T> {
  /** The secret itself. */
  value: T;
  /** E.g. "CREDBROKER_MASTER_KEY" or "--master-key-file /run/secrets/key". */
  source: string;
}

/** Decodes a master key: base64 of exactly 32 bytes. */
export function decodeMasterKey(text: string, source: string): ConfiguredSecret<Uint8Array> {
  const trimmed = text.trim();
  const bytes = Buffer.from(trimmed, "base64");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || bytes.length !== 32) {
    throw new ConfigError(`${source} must be the base64 encoding of 32 random bytes`);
  }
  const value = new Uint8Array(bytes);
  // the key lives on in `value` only
  bytes.fill(0);
  return { value, source };
}

/** A bearer token: non-empty, without whitespace (the length and the roles are checked across settings). */
export function checkedToken(value: string, source: string): ConfiguredSecret<string> {
  if (value === "" || /\s/.test(value)) {
    throw new ConfigError(`${source} must be a non-empty token without whitespace`);
  }
  return { value, source };
}

/** The master key setting's parser: unset means the data dir's generated key. */
export function masterKeySetting(raw: RawSetting | undefined): ConfiguredSecret<Uint8Array> | undefined {
  return raw === undefined ? undefined : decodeMasterKey(raw.value, raw.source);
}

/** A token setting's parser. */
export function tokenSetting(raw: RawSetting | undefined): ConfiguredSecret<string> | undefined {
  return raw === undefined ? undefined : checkedToken(raw.value, raw.source);
}
