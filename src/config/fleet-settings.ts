import { hostname } from "node:os";
import { ConfigError } from "./config-error.ts";
import type { ConfiguredSecret } from "./secret-settings.ts";
import type { RawSetting } from "./setting.ts";

/**
 * CREDBROKER_POSTGRES_URL (--postgres-url-file): a `postgres://` or
 * `postgresql://` URL. It holds a password, so messages name the setting and
 * never a part of the URL.
 */
export function postgresUrlSetting(raw: RawSetting | undefined): ConfiguredSecret<string> | undefined {
  if (raw === undefined) {
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(raw.value);
  } catch {
    throw new ConfigError(`${raw.source} must be a PostgreSQL URL: postgres://user:password@host:port/database`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError(`${raw.source} must be a PostgreSQL URL starting postgres:// or postgresql://`);
  }
  if (url.searchParams.has("target_session_attrs")) {
    // postgres.js 3.4.9 checks it with a query whose promise nobody holds: a connection lost during it would end the process
    throw new ConfigError(`${raw.source}: target_session_attrs is not supported; give the primary's address`);
  }
  return { value: raw.value, source: raw.source };
}

/**
 * postgres.js also reads PGTARGETSESSIONATTRS from the environment, and no
 * option overrides it: in fleet mode it is refused as the URL's
 * target_session_attrs is.
 */
export function checkPostgresEnvironment(postgresUrl: ConfiguredSecret<string> | undefined, env: NodeJS.ProcessEnv): void {
  if (postgresUrl !== undefined && env["PGTARGETSESSIONATTRS"] !== undefined) {
    throw new ConfigError("PGTARGETSESSIONATTRS: target_session_attrs is not supported; unset it and give the primary's address");
  }
}

/** CREDBROKER_POSTGRES_SCHEMA: an unquoted SQL identifier, so that it goes into statements as it is. */
export function postgresSchema(raw: RawSetting): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw.value)) {
    throw new ConfigError(`${raw.source} must be a lower-case SQL identifier (letters, digits, _; at most 63)`);
  }
  return raw.value;
}

/** CREDBROKER_INSTANCE_ID: the host name unless set; printable, at most 128 characters. */
export function instanceId(raw: RawSetting | undefined): string {
  const value = raw?.value ?? hostname();
  if (!/^[\x21-\x7e]{1,128}$/.test(value)) {
    throw new ConfigError(`${raw?.source ?? "the host name"} must be 1 to 128 printable characters without spaces (CREDBROKER_INSTANCE_ID)`);
  }
  return value;
}
