import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "./config-error.ts";
import { parseListenAddress } from "./listen-address.ts";
import type { RawSetting } from "./setting.ts";

/**
 * Where `npm run build:ui` writes the admin page: the package's own
 * `dist/ui/`, found from this module rather than the working directory, so
 * that the broker serves its page wherever it is started from.
 */
export const packageUiDir = fileURLToPath(new URL("../../dist/ui/", import.meta.url));

/** A directory, made absolute against the working directory at start-up. */
export function directory(raw: RawSetting): string {
  return resolve(raw.value);
}

/** A listener address (`host:port`, `[v6]:port` or `unix:/path`), checked here so that a typo is a configuration error. */
export function listenAddress(raw: RawSetting): string {
  parseListenAddress(raw.value, raw.source);
  return raw.value;
}

/** A listener address, or "off". */
export function listenAddressOrOff(raw: RawSetting): string {
  return raw.value === "off" ? raw.value : listenAddress(raw);
}

/** CREDBROKER_UI (--ui): "on" serves the package's admin page, "off" none. */
export function uiDir(raw: RawSetting): string | undefined {
  if (raw.value === "on") {
    return packageUiDir;
  }
  if (raw.value === "off") {
    return undefined;
  }
  throw new ConfigError(`${raw.source} must be "on" or "off"`);
}

/** A file path, kept with its source, for a reader that needs more than one setting (TLS). */
export function filePath(raw: RawSetting | undefined): RawSetting | undefined {
  return raw;
}

/** A whole number. */
export function count(raw: RawSetting): number {
  if (!/^\d{1,9}$/.test(raw.value)) {
    throw new ConfigError(`${raw.source} must be a whole number`);
  }
  return Number(raw.value);
}

/** A whole number, or undefined when unset. */
export function optionalCount(raw: RawSetting | undefined): number | undefined {
  return raw === undefined ? undefined : count(raw);
}

/** A listener's connection cap: a whole number of at least 1. */
export function connectionCap(raw: RawSetting | undefined): number | undefined {
  if (raw === undefined) {
    return undefined;
  }
  const value = count(raw);
  if (value < 1) {
    throw new ConfigError(`${raw.source} must be at least 1`);
  }
  return value;
}

/** A group name or gid, as a gid; a name is looked up in /etc/group. */
export async function groupId(raw: RawSetting | undefined): Promise<number | undefined> {
  if (raw === undefined) {
    return undefined;
  }
  if (/^\d{1,10}$/.test(raw.value)) {
    return Number(raw.value);
  }
  const lines = (await readFile("/etc/group", "utf8").catch(() => "")).split("\n");
  const entry = lines.map((line) => line.split(":")).find((fields) => fields[0] === raw.value);
  if (entry === undefined || !/^\d+$/.test(entry[2] ?? "")) {
    throw new ConfigError(`${raw.source}: no group named "${raw.value}" in /etc/group; give a gid instead`);
  }
  return Number(entry[2]);
}

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** LOG_LEVEL, checked here so that a typo is a configuration error (exit 2), not an exception from pino. */
export function logLevel(raw: RawSetting): string {
  const level = raw.value.toLowerCase();
  if (!logLevels.includes(level)) {
    throw new ConfigError(`${raw.source} must be one of ${logLevels.join(", ")}`);
  }
  return level;
}
