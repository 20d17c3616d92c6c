import postgres, { type Sql, type TransactionSql } from "postgres";
import { CredbrokerError } from "../errors.ts";
import type { StoreConflict } from "./secret-store.ts";
import { migrate } from "./central-schema.ts";
import { beginGuarded, connectionLost } from "./guarded-transaction.ts";
import type { CentralStoreOptions } from "./central-store.ts";

/** A pool whose int8 columns read as bigint. */
export type Db = Sql<{ bigint: bigint }>;
export type Tx = TransactionSql<{ bigint: bigint }>;

/** The connections to the central store, and the one way each kind of statement runs on them. */
export interface CentralConnection {
  /** The NOTIFY channel of the schema. */
  readonly channel: string;
  /** A table of the schema, as an identifier of the current pool. */
  table(name: string): postgres.Helper<string, []>;
  /** Runs reads on the current pool once the schema is ready; a lost connection is ERR_CENTRAL_UNAVAILABLE. */
  read<T>(query: (sql: Db) => Promise<T>): Promise<T>;
  /**
   * Runs a transaction that must end within the write timeout: past it, the
   * transaction is abandoned (rolled back if it has not committed) and the
   * pool reset. `check` throws once it is abandoned; call it between statements.
   */
  write<T>(work: (tx: Tx, check: () => void) => Promise<T>): Promise<T>;
  /** See CentralStore.listen. */
  listen(onNotify: (revision: bigint | undefined) => void, onListen: () => void): () => void;
  /** See CentralStore.reset. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * A pool of connections to the central store (at most 4, plus one for
 * LISTEN). The schema is created or migrated (under an advisory lock) by the
 * first statement that reaches PostgreSQL, and again by a later one if that
 * failed: a sidecar whose replica holds the fleet's data can start while
 * PostgreSQL is down.
 */
export function openCentralConnection(options: CentralStoreOptions): CentralConnection {
  const { schema } = options;
  const writeTimeoutMs = options.writeTimeoutMs ?? 3000;
  const channel = `credbroker_${schema}`;
  const connect = (): Db =>
    postgres(options.url, {
      max: 4,
      // a transaction-mode pooler in front cannot keep prepared statements; LISTEN needs a direct session anyway
      prepare: false,
      // no array-type query on each new connection: postgres.js 3.4.9 runs it from a promise nobody holds, so
      // its failure (the pool reset while it waits, a statement timeout, the connection lost) is an unhandled
      // rejection that ends the process (porsager/postgres#1192). No statement of ours reads or sends an array.
      fetch_types: false,
      connect_timeout: 3,
      idle_timeout: 60,
      max_lifetime: 30 * 60,
      keep_alive: 5,
      // reconnects during an outage at most a second apart (the default grows to 20 s), so a sidecar is
      // back within about a second of PostgreSQL
      backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
      types: { bigint: postgres.BigInt },
      onnotice: () => undefined,
      connection: {
        application_name: `credbroker ${options.instanceId}`.slice(0, 63),
        statement_timeout: writeTimeoutMs,
        idle_in_transaction_session_timeout: 10_000,
      },
    });
  let sql: Db = connect();
  const table = (name: string) => sql(`${schema}.${name}`);
  const listening = new Set<{ onNotify: (revision: bigint | undefined) => void; onListen: () => void; stop?: () => void }>();
  let migrated: Promise<void> | undefined;
  let schemaReady = false;
  const ready = () =>
    schemaReady
      ? Promise.resolve()
      : (migrated ??= migrate(sql, schema).then(
          () => {
            schemaReady = true;
          },
          (error: unknown) => {
            migrated = undefined;
            throw centralError(error);
          },
        ));

  function subscribe(entry: { onNotify: (revision: bigint | undefined) => void; onListen: () => void; stop?: () => void }): void {
    const pool = sql;
    pool.listen(channel, (payload) => entry.onNotify(/^\d{1,19}$/.test(payload) ? BigInt(payload) : undefined), () => entry.onListen()).then(
      (listener) => {
        entry.stop = () => void listener.unlisten().catch(() => undefined);
      },
      // the pool was reset or ended meanwhile; the periodic head check notices an outage
      () => undefined,
    );
  }

  /** Runs a transaction that must end within the write timeout: past it, the transaction is abandoned (rolled back if it has not committed) and the pool reset. */
  async function write<T>(work: (tx: Tx, check: () => void) => Promise<T>): Promise<T> {
    let abandoned = false;
    const check = () => {
      if (abandoned) {
        throw unreachable();
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abandoned = true;
        reject(unreachable());
      }, writeTimeoutMs);
    });
    const run = ready().then(() =>
      beginGuarded(sql, async (tx) => {
        check();
        const result = await work(tx, check);
        // last chance before COMMIT: a write answered UNAVAILABLE must not commit afterwards
        check();
        return result;
      }),
    );
    try {
      return await Promise.race([run, timedOut]);
    } catch (error) {
      if (abandoned) {
        run.catch(() => undefined);
        reset();
      }
      throw centralError(error);
    } finally {
      clearTimeout(timer);
    }
  }

  async function read<T>(query: (sql: Db) => Promise<T>): Promise<T> {
    try {
      await ready();
      return await query(sql);
    } catch (error) {
      throw centralError(error);
    }
  }

  function reset(): void {
    const old = sql;
    sql = connect();
    if (!schemaReady) {
      // a migration stuck on the old connections would hold every later operation
      migrated = undefined;
    }
    // timeout 0: the old connections are destroyed now, not drained (they may hang on a stopped server)
    void old.end({ timeout: 0 }).catch(() => undefined);
    for (const entry of listening) {
      subscribe(entry);
    }
  }

  return {
    channel,
    table,
    read,
    write,
    reset,
    listen(onNotify, onListen) {
      const entry: { onNotify: (revision: bigint | undefined) => void; onListen: () => void; stop?: () => void } = { onNotify, onListen };
      listening.add(entry);
      subscribe(entry);
      return () => {
        listening.delete(entry);
        entry.stop?.();
      };
    },
    async close() {
      listening.clear();
      await sql.end({ timeout: 1 }).catch(() => undefined);
    },
  };
}

/** Thrown inside a transaction to roll it back on a failed expectation. */
export class ConflictAbort extends Error {
  readonly conflict: StoreConflict;
  constructor(conflict: StoreConflict) {
    super("version conflict");
    this.conflict = conflict;
  }
}

export function unreachable(cause?: unknown): CredbrokerError {
  return new CredbrokerError(
    "ERR_CENTRAL_UNAVAILABLE",
    "the central store (PostgreSQL) is unreachable; writes are refused, reads and Inject keep serving from this sidecar's replica",
    cause === undefined ? {} : { cause },
  );
}

/**
 * A failure of the connection (refused, reset, timed out, a server shutting
 * down) is ERR_CENTRAL_UNAVAILABLE; the domain's own errors pass; anything
 * else (a statement PostgreSQL refused) stays as it is, an internal error.
 * Messages never carry the URL.
 */
export function centralError(error: unknown): unknown {
  if (error instanceof CredbrokerError || error instanceof ConflictAbort) {
    return error;
  }
  // 57P01-57P03: admin shutdown, crash shutdown, cannot connect now; 57014: statement timeout; 08xxx: connection exceptions
  const unavailable = connectionLost(error) || (error as { code?: unknown } | null)?.code === "57014" || error instanceof AggregateError;
  return unavailable ? unreachable(error) : error;
}
