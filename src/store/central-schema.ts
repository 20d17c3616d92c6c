import type { Sql } from "postgres";
import { CredbrokerError } from "../errors.ts";
import { beginGuarded } from "./guarded-transaction.ts";

/**
 * The fleet's tables, one migration per schema version, forward only. Each
 * migration only expands (adds tables, columns with defaults, indexes), so a
 * broker one version behind keeps working on a migrated schema during a
 * rollout; a change that needs the old shape gone (a contract step) raises
 * `min_broker_schema` in its own later version, once no older broker runs.
 * A broker refuses a store whose `min_broker_schema` is above what it knows.
 */
const migrations: readonly ((schema: string) => string)[] = [
  (s) => `
    CREATE TABLE ${s}.state (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      -- the identity of this store: a restore into another database, or a new one, has another
      epoch uuid NOT NULL DEFAULT gen_random_uuid(),
      -- the store-wide revision: every commit takes the next one under this row's lock
      revision bigint NOT NULL DEFAULT 0,
      min_broker_schema integer NOT NULL DEFAULT 1
    );
    INSERT INTO ${s}.state DEFAULT VALUES;
    -- sealed records; a delete leaves a tombstone (deleted, no record) carrying its revision
    CREATE TABLE ${s}.records (
      mode smallint NOT NULL,
      name text NOT NULL,
      revision bigint NOT NULL,
      version bigint NOT NULL,
      deleted boolean NOT NULL DEFAULT false,
      seal_only boolean NOT NULL DEFAULT false,
      wrapped_key bytea,
      record bytea,
      PRIMARY KEY (mode, name)
    );
    CREATE INDEX records_revision ON ${s}.records (revision);
    -- the sealed keyring and other store-wide values
    CREATE TABLE ${s}.meta (
      key text PRIMARY KEY,
      revision bigint NOT NULL,
      value bytea NOT NULL
    );
    CREATE INDEX meta_revision ON ${s}.meta (revision);
    -- every sidecar's audit events, keyed by the sidecar and its sequence (so a batch shipped twice is stored once)
    CREATE TABLE ${s}.audit_events (
      sequence bigint NOT NULL,
      instance_id text NOT NULL,
      audit_class text NOT NULL,
      names text[] NOT NULL,
      event bytea NOT NULL,
      PRIMARY KEY (sequence, instance_id)
    );
    CREATE INDEX audit_events_class ON ${s}.audit_events (audit_class, sequence);
  `,
];

/** The schema version this build writes and reads. */
export const schemaVersion = migrations.length;

/**
 * Creates the schema and applies the migrations it lacks, in one
 * transaction under an advisory lock on the schema's name, so that twenty
 * sidecars starting at once migrate once and the others wait and see it
 * done. Refuses a store migrated for brokers newer than this one.
 */
export async function migrate(sql: Sql, schema: string): Promise<void> {
  await beginGuarded(sql, async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`credbroker schema ${schema}`}))`;
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${schema}.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const [row] = await tx.unsafe<{ version: number | null }[]>(`SELECT max(version) AS version FROM ${schema}.migrations`);
    const applied = row?.version ?? 0;
    for (let version = applied + 1; version <= schemaVersion; version++) {
      await tx.unsafe(migrations[version - 1]!(schema));
      await tx.unsafe(`INSERT INTO ${schema}.migrations (version) VALUES (${version})`);
    }
    const [state] = await tx.unsafe<{ min: number }[]>(`SELECT min_broker_schema AS min FROM ${schema}.state`);
    if (state !== undefined && state.min > schemaVersion) {
      throw new CredbrokerError(
        "ERR_STORE_INCOMPATIBLE",
        `the central store's schema ${schema} needs a broker of schema version ${state.min} or later; this broker knows ${schemaVersion}`,
      );
    }
  });
}
