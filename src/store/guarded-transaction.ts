import type { Sql, TransactionSql } from "postgres";

const connectionCodes = ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND", "CONNECT_TIMEOUT", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED"];

/** Whether an error says the connection is gone or going (closed, reset, the server terminating it): no statement may follow on it. */
export function connectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (connectionCodes.includes(code) || /^(57P0[123]|08...)$/.test(code));
}

/**
 * sql.begin, for every transaction of ours. postgres.js 3.4.9 answers a
 * rejected callback with a ROLLBACK on the transaction's connection; once
 * that connection has closed, the write dereferences its null socket from a
 * setImmediate, an uncaught TypeError that ends the process
 * (porsager/postgres#1208). So a callback that fails because the connection
 * is lost never settles instead: that sends nothing, and begin() rejects
 * through its own onclose, or the caller's timeout (or pool reset) answers.
 */
export function beginGuarded<Types extends Record<string, unknown>, T>(sql: Sql<Types>, work: (tx: TransactionSql<Types>) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    try {
      // in a tuple: begin() would take an array result for a list of queries
      return [await work(tx)];
    } catch (error) {
      if (connectionLost(error)) {
        return new Promise<never>(() => undefined);
      }
      throw error;
    }
  }).then((result) => (result as unknown as [T])[0]);
}
