import { instanceId, postgresSchema, postgresUrlSetting } from "./fleet-settings.ts";
import { masterKeySetting, tokenSetting } from "./secret-settings.ts";
import { defaulted, optional } from "./setting.ts";
import {
  connectionCap,
  count,
  directory,
  filePath,
  groupId,
  listenAddress,
  listenAddressOrOff,
  logLevel,
  optionalCount,
  uiDir,
} from "./setting-parsers.ts";

/**
 * Every setting of `credbroker serve`, once: variable, flag, default,
 * parser and help. loadConfig, `serve --help`, the client and rekey
 * loaders and the README's Configuration table (checked by a test) all
 * read it; the order is the order of the help and of the README.
 */
export const serveSettings = {
  /** The LMDB environment and the generated development key and token files. */
  dataDir: defaulted({
    env: "CREDBROKER_DATA_DIR",
    flag: "data-dir",
    arg: "DIR",
    default: "./data",
    help: "the LMDB environment and the generated key and token files",
    parse: directory,
  }),
  /** The gRPC listener: `host:port` or `unix:/path`. */
  listen: defaulted({
    env: "CREDBROKER_LISTEN",
    flag: "listen",
    arg: "ADDR",
    default: "127.0.0.1:7390",
    help: "the gRPC listener: host:port or unix:/path",
    parse: listenAddress,
  }),
  /** The Connect/HTTP listener: `host:port`, `unix:/path`, or "off". */
  httpListen: defaulted({
    env: "CREDBROKER_HTTP_LISTEN",
    flag: "http-listen",
    arg: "ADDR|off",
    default: "127.0.0.1:7391",
    help: "the Connect/HTTP listener, or off",
    parse: listenAddressOrOff,
  }),
  /** The built admin page that the HTTP listener serves under /ui/ (the package's `dist/ui/`); undefined when off. */
  uiDir: defaulted({
    env: "CREDBROKER_UI",
    flag: "ui",
    arg: "on|off",
    default: "on",
    help: "the admin page at /ui/ on the HTTP listener",
    parse: uiDir,
  }),
  /**
   * The Prometheus metrics listener (`GET /metrics`): `host:port`,
   * `unix:/path`, or "off". It serves counts and latencies, never a secret
   * name or value, so it may listen beyond loopback for a scraper.
   */
  metricsListen: defaulted({
    env: "CREDBROKER_METRICS_LISTEN",
    flag: "metrics-listen",
    arg: "ADDR|off",
    default: "127.0.0.1:9464",
    help: "the Prometheus metrics listener, or off",
    parse: listenAddressOrOff,
  }),
  /** The master key, when configured; undefined means the data dir's generated `master.key`. */
  masterKey: optional({
    env: "CREDBROKER_MASTER_KEY",
    flag: "master-key-file",
    arg: "FILE",
    secret: true,
    unset: "generated `master.key` in the data dir, mode 0600, with a warning",
    help: "the master key: base64 of 32 random bytes",
    parse: masterKeySetting,
  }),
  /** The admin token, when configured; undefined means the data dir's generated `admin.token`. */
  adminToken: optional({
    env: "CREDBROKER_ADMIN_TOKEN",
    flag: "admin-token-file",
    arg: "FILE",
    secret: true,
    unset: "generated `admin.token` in the data dir, mode 0600",
    help: "the bearer token that SecretService, KeyService and AuditService require",
    parse: tokenSetting,
  }),
  /**
   * The inject token that admits both modes. When none of the three inject
   * tokens is set, Inject is open to local callers; when any is, Inject
   * requires one of them (never the admin token).
   */
  injectToken: optional({
    env: "CREDBROKER_INJECT_TOKEN",
    flag: "inject-token-file",
    arg: "FILE",
    secret: true,
    unset: "none: Inject is open to local callers",
    help: "the bearer token that Inject requires, either mode",
    parse: tokenSetting,
  }),
  /** The inject token that admits test-mode Injects only. */
  injectTokenTest: optional({
    env: "CREDBROKER_INJECT_TOKEN_TEST",
    flag: "inject-token-test-file",
    arg: "FILE",
    secret: true,
    unset: "none",
    help: "an inject token for test mode only",
    parse: tokenSetting,
  }),
  /** The inject token that admits live-mode Injects only. */
  injectTokenLive: optional({
    env: "CREDBROKER_INJECT_TOKEN_LIVE",
    flag: "inject-token-live-file",
    arg: "FILE",
    secret: true,
    unset: "none",
    help: "an inject token for live mode only",
    parse: tokenSetting,
  }),
  /** Fleet mode: the PostgreSQL that is the fleet's source of truth; undefined: standalone, the data dir's LMDB is the store. */
  postgresUrl: optional({
    env: "CREDBROKER_POSTGRES_URL",
    flag: "postgres-url-file",
    arg: "FILE",
    secret: true,
    unset: "none: standalone",
    help: "fleet mode: a PostgreSQL URL (it holds a password: prefer the file)",
    parse: postgresUrlSetting,
  }),
  /** The schema that holds the fleet's tables (created if missing), so that they can share the engine's database. */
  postgresSchema: defaulted({
    env: "CREDBROKER_POSTGRES_SCHEMA",
    flag: "postgres-schema",
    arg: "NAME",
    default: "credbroker",
    help: "the PostgreSQL schema of the fleet's tables",
    parse: postgresSchema,
  }),
  /** Names this sidecar in audit events and fleet status. */
  instanceId: optional({
    env: "CREDBROKER_INSTANCE_ID",
    flag: "instance-id",
    arg: "ID",
    unset: "the host name",
    help: "names this sidecar in audit events and fleet status",
    parse: instanceId,
  }),
  /** The PEM certificate chain of the gRPC and HTTP listeners; read with the key into `tls`. */
  tlsCertFile: optional({
    env: "CREDBROKER_TLS_CERT_FILE",
    flag: "tls-cert-file",
    arg: "FILE",
    unset: "none: cleartext, loopback and unix sockets only",
    help: "TLS on the gRPC and HTTP listeners, with --tls-key-file",
    parse: filePath,
  }),
  /** That certificate's PEM private key. */
  tlsKeyFile: optional({
    env: "CREDBROKER_TLS_KEY_FILE",
    flag: "tls-key-file",
    arg: "FILE",
    unset: "none",
    help: "the private key of that certificate",
    parse: filePath,
  }),
  /** PEM CA certificates that client certificates must chain to (mTLS). */
  tlsClientCaFile: optional({
    env: "CREDBROKER_TLS_CLIENT_CA_FILE",
    flag: "tls-client-ca-file",
    arg: "FILE",
    unset: "none: no client certificates asked",
    help: "require client certificates from this CA",
    parse: filePath,
  }),
  /** The group (gid) of unix socket files, which are then 0660 instead of 0600. */
  socketGroup: optional({
    env: "CREDBROKER_SOCKET_GROUP",
    flag: "socket-group",
    arg: "GROUP",
    unset: "none: unix sockets 0600",
    help: "a group name or gid: unix sockets 0660 for this group",
    parse: groupId,
  }),
  /** Connections each of the gRPC and HTTP listeners keeps open at once; undefined: derived from the file-descriptor limit. */
  maxConnections: optional({
    env: "CREDBROKER_MAX_CONNECTIONS",
    flag: "max-connections",
    arg: "N",
    unset: "half the open-files limit less 128, between 16 and 4096 (64 under `ulimit -n 256`, 448 under 1024)",
    help: "connections each of the gRPC and HTTP listeners keeps open",
    parse: connectionCap,
  }),
  /** How many ready materials Inject keeps (least recently used out first); 0 turns the cache off. */
  materialCacheSize: defaulted({
    env: "CREDBROKER_MATERIAL_CACHE_SIZE",
    default: "10000",
    help: "ready static material kept for Inject; 0 turns it off",
    parse: count,
  }),
  /** How many OAuth2 access tokens the broker keeps (least recently used out first). */
  oauthTokenCacheSize: defaulted({
    env: "CREDBROKER_OAUTH_TOKEN_CACHE_SIZE",
    default: "1000",
    help: "OAuth2 access tokens kept",
    parse: count,
  }),
  /** How long a token whose response had no `expires_in` is kept, in seconds. */
  oauthDefaultTtlSeconds: defaulted({
    env: "CREDBROKER_OAUTH_DEFAULT_TTL_SECONDS",
    default: "300",
    help: "seconds a token without expires_in is kept",
    parse: count,
  }),
  /** The most one token fetch may take, retries included, in milliseconds. */
  oauthTimeoutMs: defaulted({
    env: "CREDBROKER_OAUTH_TIMEOUT_MS",
    default: "10000",
    help: "the most one token fetch may take, retries included, in ms",
    parse: count,
  }),
  /** The most audit events kept (oldest removed first), refusals of unknown callers not counted. */
  auditMaxEvents: defaulted({
    env: "CREDBROKER_AUDIT_MAX_EVENTS",
    default: "1000000",
    help: "audit events kept, oldest removed first",
    parse: count,
  }),
  /** The most events kept of calls refused before presenting a known token, apart from the others; undefined: a tenth of auditMaxEvents. */
  auditMaxRefusedEvents: optional({
    env: "CREDBROKER_AUDIT_MAX_REFUSED_EVENTS",
    unset: "a tenth of `CREDBROKER_AUDIT_MAX_EVENTS`",
    help: "audit events kept of calls refused before presenting a known token",
    parse: optionalCount,
  }),
  /** The oldest an audit event may get, in days. */
  auditMaxAgeDays: defaulted({
    env: "CREDBROKER_AUDIT_MAX_AGE_DAYS",
    default: "90",
    help: "the oldest an audit event may get, in days",
    parse: count,
  }),
  /** The pino log level: fatal, error, warn, info, debug, trace or silent. */
  logLevel: defaulted({
    env: "LOG_LEVEL",
    default: "info",
    help: "fatal, error, warn, info, debug, trace or silent",
    parse: logLevel,
  }),
};
