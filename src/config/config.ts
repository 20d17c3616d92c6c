import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { createSecureContext } from "node:tls";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { TlsMaterial } from "../server/transport-security.ts";

/** The broker's configuration, read once at start-up: flags over environment over defaults. */
export interface Config {
  /** The LMDB environment and the generated development key and token files. */
  dataDir: string;
  /** The gRPC listener: `host:port` or `unix:/path`. */
  listen: string;
  /** The Connect/HTTP listener: `host:port`, `unix:/path`, or "off". */
  httpListen: string;
  /**
   * The Prometheus metrics listener (`GET /metrics`): `host:port`,
   * `unix:/path`, or "off". It serves counts and latencies, never a secret
   * name or value, so it may listen beyond loopback for a scraper.
   */
  metricsListen: string;
  /**
   * The built admin page that the HTTP listener serves under /ui/ (the
   * package's `dist/ui/`); undefined when CREDBROKER_UI is off.
   */
  uiDir: string | undefined;
  /** The master key, when configured; undefined means the data dir's generated `master.key`. */
  masterKey: ConfiguredSecret<Uint8Array> | undefined;
  /** The admin token, when configured; undefined means the data dir's generated `admin.token`. */
  adminToken: ConfiguredSecret<string> | undefined;
  /**
   * The inject token that admits both modes. When none of the three inject
   * tokens is set, Inject is open to local callers; when any is, Inject
   * requires one of them (never the admin token).
   */
  injectToken: ConfiguredSecret<string> | undefined;
  /** The inject token that admits test-mode Injects only. */
  injectTokenTest: ConfiguredSecret<string> | undefined;
  /** The inject token that admits live-mode Injects only. */
  injectTokenLive: ConfiguredSecret<string> | undefined;
  /**
   * TLS on the gRPC and HTTP listeners (not metrics), with client
   * certificates required when a client CA is set; undefined serves
   * cleartext, which the broker allows on loopback and unix sockets only.
   */
  tls: TlsMaterial | undefined;
  /** The group (gid) of unix socket files, which are then 0660 instead of 0600. */
  socketGroup: number | undefined;
  /** Connections each of the gRPC and HTTP listeners keeps open at once; undefined: derived from the file-descriptor limit. */
  maxConnections?: number | undefined;
  /** How many ready materials Inject keeps (least recently used out first); 0 turns the cache off. */
  materialCacheSize: number;
  /** How many OAuth2 access tokens the broker keeps (least recently used out first). */
  oauthTokenCacheSize: number;
  /** How long a token whose response had no `expires_in` is kept, in seconds. */
  oauthDefaultTtlSeconds: number;
  /** The most one token fetch may take, retries included, in milliseconds. */
  oauthTimeoutMs: number;
  /** The pino log level: fatal, error, warn, info, debug, trace or silent. */
  logLevel: string;
  /** The most audit events kept (oldest removed first); default 1,000,000. */
  auditMaxEvents?: number | undefined;
  /** The most events kept of calls refused before presenting a known token, apart from the others; default a tenth of auditMaxEvents. */
  auditMaxRefusedEvents?: number | undefined;
  /** The oldest an audit event may get, in days; default 90. */
  auditMaxAgeDays?: number | undefined;
  /** How often audit retention runs, in milliseconds; default one minute (tests shorten it). */
  auditRetentionIntervalMs?: number | undefined;
}

/** A secret value and where it came from (for messages; never the value). */
export interface ConfiguredSecret<T> {
  value: T;
  /** E.g. "CREDBROKER_MASTER_KEY" or "--master-key-file /run/secrets/key". */
  source: string;
}

/** A configuration mistake; the message names the variable or flag, never a value. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Where `npm run build:ui` writes the admin page: the package's own
 * `dist/ui/`, found from this module rather than the working directory, so
 * that the broker serves its page wherever it is started from.
 */
export const packageUiDir = fileURLToPath(new URL("../../dist/ui/", import.meta.url));

/** The `serve` flags, as util.parseArgs options. */
export const serveOptions = {
  "data-dir": { type: "string" },
  listen: { type: "string" },
  "http-listen": { type: "string" },
  "metrics-listen": { type: "string" },
  ui: { type: "string" },
  "master-key-file": { type: "string" },
  "admin-token-file": { type: "string" },
  "inject-token-file": { type: "string" },
  "inject-token-test-file": { type: "string" },
  "inject-token-live-file": { type: "string" },
  "tls-cert-file": { type: "string" },
  "tls-key-file": { type: "string" },
  "tls-client-ca-file": { type: "string" },
  "socket-group": { type: "string" },
  "max-connections": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Reads the configuration from `serve` arguments and the environment. */
export async function loadConfig(args: string[], env: NodeJS.ProcessEnv): Promise<Config> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: serveOptions, strict: true, allowPositionals: false }));
  } catch (cause) {
    throw new ConfigError(cause instanceof Error ? cause.message : String(cause));
  }
  const masterKeyFile = values["master-key-file"];
  const adminTokenFile = values["admin-token-file"];
  const tokenSetting = async (flag: string, file: string | undefined, envName: string) =>
    token(
      file === undefined ? undefined : await readConfigFile(file, `--${flag}`),
      file === undefined ? undefined : `--${flag} ${file}`,
      env[envName],
      envName,
    );
  return {
    dataDir: resolve(values["data-dir"] ?? nonEmpty(env["CREDBROKER_DATA_DIR"]) ?? "./data"),
    listen: values.listen ?? nonEmpty(env["CREDBROKER_LISTEN"]) ?? "127.0.0.1:7390",
    httpListen: values["http-listen"] ?? nonEmpty(env["CREDBROKER_HTTP_LISTEN"]) ?? "127.0.0.1:7391",
    metricsListen: values["metrics-listen"] ?? nonEmpty(env["CREDBROKER_METRICS_LISTEN"]) ?? "127.0.0.1:9464",
    uiDir: uiSwitch(setting(values.ui, "--ui", env, "CREDBROKER_UI")) ? packageUiDir : undefined,
    masterKey:
      masterKeyFile !== undefined
        ? decodeMasterKey(await readConfigFile(masterKeyFile, "--master-key-file"), `--master-key-file ${masterKeyFile}`)
        : env["CREDBROKER_MASTER_KEY"] !== undefined
          ? decodeMasterKey(env["CREDBROKER_MASTER_KEY"], "CREDBROKER_MASTER_KEY")
          : undefined,
    adminToken: token(
      adminTokenFile === undefined ? undefined : await readConfigFile(adminTokenFile, "--admin-token-file"),
      adminTokenFile === undefined ? undefined : `--admin-token-file ${adminTokenFile}`,
      env["CREDBROKER_ADMIN_TOKEN"],
      "CREDBROKER_ADMIN_TOKEN",
    ),
    injectToken: await tokenSetting("inject-token-file", values["inject-token-file"], "CREDBROKER_INJECT_TOKEN"),
    injectTokenTest: await tokenSetting("inject-token-test-file", values["inject-token-test-file"], "CREDBROKER_INJECT_TOKEN_TEST"),
    injectTokenLive: await tokenSetting("inject-token-live-file", values["inject-token-live-file"], "CREDBROKER_INJECT_TOKEN_LIVE"),
    tls: await tlsMaterial(
      setting(values["tls-cert-file"], "--tls-cert-file", env, "CREDBROKER_TLS_CERT_FILE"),
      setting(values["tls-key-file"], "--tls-key-file", env, "CREDBROKER_TLS_KEY_FILE"),
      setting(values["tls-client-ca-file"], "--tls-client-ca-file", env, "CREDBROKER_TLS_CLIENT_CA_FILE"),
    ),
    socketGroup: await groupId(setting(values["socket-group"], "--socket-group", env, "CREDBROKER_SOCKET_GROUP")),
    maxConnections: connectionCap(setting(values["max-connections"], "--max-connections", env, "CREDBROKER_MAX_CONNECTIONS")),
    materialCacheSize: count(env["CREDBROKER_MATERIAL_CACHE_SIZE"], "CREDBROKER_MATERIAL_CACHE_SIZE", 10_000),
    oauthTokenCacheSize: count(env["CREDBROKER_OAUTH_TOKEN_CACHE_SIZE"], "CREDBROKER_OAUTH_TOKEN_CACHE_SIZE", 1000),
    oauthDefaultTtlSeconds: count(env["CREDBROKER_OAUTH_DEFAULT_TTL_SECONDS"], "CREDBROKER_OAUTH_DEFAULT_TTL_SECONDS", 300),
    oauthTimeoutMs: count(env["CREDBROKER_OAUTH_TIMEOUT_MS"], "CREDBROKER_OAUTH_TIMEOUT_MS", 10_000),
    logLevel: logLevel(env["LOG_LEVEL"]),
    auditMaxEvents: count(env["CREDBROKER_AUDIT_MAX_EVENTS"], "CREDBROKER_AUDIT_MAX_EVENTS", 1_000_000),
    auditMaxRefusedEvents:
      nonEmpty(env["CREDBROKER_AUDIT_MAX_REFUSED_EVENTS"]) === undefined
        ? undefined
        : count(env["CREDBROKER_AUDIT_MAX_REFUSED_EVENTS"], "CREDBROKER_AUDIT_MAX_REFUSED_EVENTS", 0),
    auditMaxAgeDays: count(env["CREDBROKER_AUDIT_MAX_AGE_DAYS"], "CREDBROKER_AUDIT_MAX_AGE_DAYS", 90),
  };
}

/** A setting's value and the flag or variable it came from. */
type Setting = { value: string; source: string } | undefined;

function setting(flagValue: string | undefined, flag: string, env: NodeJS.ProcessEnv, envName: string): Setting {
  if (flagValue !== undefined) {
    return { value: flagValue, source: flag };
  }
  const fromEnv = nonEmpty(env[envName]);
  return fromEnv === undefined ? undefined : { value: fromEnv, source: envName };
}

/** Reads the listeners' certificate, key and client CA, checked by building a TLS context from them. */
async function tlsMaterial(certFile: Setting, keyFile: Setting, clientCaFile: Setting): Promise<TlsMaterial | undefined> {
  if (certFile === undefined && keyFile === undefined) {
    if (clientCaFile !== undefined) {
      throw new ConfigError(`${clientCaFile.source} needs CREDBROKER_TLS_CERT_FILE and CREDBROKER_TLS_KEY_FILE as well`);
    }
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) {
    throw new ConfigError("CREDBROKER_TLS_CERT_FILE (--tls-cert-file) and CREDBROKER_TLS_KEY_FILE (--tls-key-file) go together: set both");
  }
  const read = async (file: Setting) => (file === undefined ? undefined : Buffer.from(await readConfigFile(file.value, file.source)));
  const material: TlsMaterial = { cert: (await read(certFile))!, key: (await read(keyFile))!, clientCa: await read(clientCaFile) };
  try {
    createSecureContext({ cert: material.cert, key: material.key, ...(material.clientCa === undefined ? {} : { ca: material.clientCa }) });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ConfigError(`${certFile.source}, ${keyFile.source}${clientCaFile === undefined ? "" : `, ${clientCaFile.source}`}: not a usable PEM certificate, key and CA (${reason})`);
  }
  return material;
}

/** A listener's connection cap: a whole number of at least 1. */
function connectionCap(cap: Setting): number | undefined {
  if (cap === undefined) {
    return undefined;
  }
  const value = count(cap.value, cap.source, 0);
  if (value < 1) {
    throw new ConfigError(`${cap.source} must be at least 1`);
  }
  return value;
}

/** A group name or gid, as a gid; a name is looked up in /etc/group. */
async function groupId(group: Setting): Promise<number | undefined> {
  if (group === undefined) {
    return undefined;
  }
  if (/^\d{1,10}$/.test(group.value)) {
    return Number(group.value);
  }
  const lines = (await readFile("/etc/group", "utf8").catch(() => "")).split("\n");
  const entry = lines.map((line) => line.split(":")).find((fields) => fields[0] === group.value);
  if (entry === undefined || !/^\d+$/.test(entry[2] ?? "")) {
    throw new ConfigError(`${group.source}: no group named "${group.value}" in /etc/group; give a gid instead`);
  }
  return Number(entry[2]);
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

function token(
  fromFile: string | undefined,
  fileSource: string | undefined,
  fromEnv: string | undefined,
  envName: string,
): ConfiguredSecret<string> | undefined {
  const [value, source] = fromFile !== undefined ? [fromFile.trim(), fileSource!] : [fromEnv, envName];
  if (value === undefined) {
    return undefined;
  }
  if (value === "" || /\s/.test(value)) {
    throw new ConfigError(`${source} must be a non-empty token without whitespace`);
  }
  return { value, source };
}

/** The shortest token the broker is configured with: 24 random bytes in base64url are 32 characters. */
export const minTokenLength = 32;

/**
 * Refuses tokens short enough to guess and a token shared between roles
 * (admin, inject, test-only, live-only): a test-only token equal to the
 * live-only one would read live. Messages name the settings, never a value.
 */
export function checkTokens(tokens: readonly (ConfiguredSecret<string> | undefined)[]): void {
  const configured = tokens.filter((token) => token !== undefined);
  for (const [index, token] of configured.entries()) {
    if (token.value.length < minTokenLength) {
      throw new ConfigError(`${token.source} must be at least ${minTokenLength} characters long (e.g. 24 random bytes in base64url)`);
    }
    const twin = configured.slice(0, index).find((other) => other.value === token.value);
    if (twin !== undefined) {
      throw new ConfigError(
        `${twin.source} and ${token.source} hold the same token; the admin, inject, test-only and live-only tokens must all differ`,
      );
    }
  }
}

/** Reads a file a setting names; a failure is a ConfigError naming the setting, the path and the errno code, never the content. */
export async function readConfigFile(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError(`${flag}: cannot read ${path} (${code})`);
  }
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === "") {
    return fallback;
  }
  if (!/^\d{1,9}$/.test(value)) {
    throw new ConfigError(`${name} must be a whole number`);
  }
  return Number(value);
}

/** CREDBROKER_UI (--ui): "on", the default, or "off". */
function uiSwitch(ui: Setting): boolean {
  if (ui === undefined || ui.value === "on") {
    return true;
  }
  if (ui.value === "off") {
    return false;
  }
  throw new ConfigError(`${ui.source} must be "on" or "off"`);
}

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** LOG_LEVEL, checked here so that a typo is a configuration error (exit 2), not an exception from pino. */
function logLevel(value: string | undefined): string {
  const level = nonEmpty(value)?.toLowerCase() ?? "info";
  if (!logLevels.includes(level)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${logLevels.join(", ")}`);
  }
  return level;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
