import type { Logger } from "pino";
import type { CentralEvent, CentralStore } from "./central-store.ts";
import type { LmdbStore } from "./lmdb-store.ts";
import type { Replica } from "./replica.ts";
import type { SecretStore } from "./secret-store.ts";

/** What the fleet store is built of. */
export interface FleetStoreOptions {
  /** This sidecar's LMDB: the replica every read is served from, and the local audit outbox. */
  local: LmdbStore;
  /** The fleet's source of truth, which every write goes to. */
  central: CentralStore;
  /** Keeps `local` in step with `central`. */
  replica: Replica;
  /** Names this sidecar in the events it commits. */
  instanceId: string;
  logger: Logger;
}

/** How long a write waits for this sidecar's replica to have it before answering anyway. */
const readYourWritesMs = 5_000;

/**
 * The store seam in fleet mode. Reads (get, list, isCurrent, last use, meta)
 * are the local replica's, so Inject never touches PostgreSQL and keeps
 * serving through an outage. Writes (commits, the keyring's compare-and-swap)
 * go to PostgreSQL, each in one transaction, and return once this sidecar's
 * replica has applied them: a caller reads its own writes on this sidecar.
 * Audit events of calls that change nothing go to the local outbox and are
 * shipped (src/audit/audit-shipper.ts); a change's events commit with it.
 * Retention prunes the fleet's events centrally.
 */
export function createFleetStore(options: FleetStoreOptions): SecretStore {
  const { local, central, replica, instanceId, logger } = options;

  async function applied(revision: bigint): Promise<void> {
    if (!(await replica.caughtUp(revision, readYourWritesMs))) {
      logger.warn({ revision: String(revision) }, "fleet: a committed write is not in this sidecar's replica yet; answering anyway");
    }
  }

  /** The central compare-and-swap of a meta value (`expected` undefined: only if absent), then this sidecar's replica has what won. */
  async function putMeta(key: string, value: Uint8Array, expected: Uint8Array | undefined): Promise<boolean> {
    const revision = await central.putMeta(key, value, expected);
    if (revision === undefined) {
      // another sidecar wrote first: the caller reads what won
      await replica.catchUp();
      return false;
    }
    await applied(revision);
    return true;
  }

  return {
    get: (mode, name) => local.get(mode, name),
    getMetadata: (mode, names) => local.getMetadata(mode, names),
    isCurrent: (mode, name, version) => local.isCurrent(mode, name, version),
    list: (mode, afterName, limit) => local.list(mode, afterName, limit),
    listSecrets: (mode, afterName, limit, match) => local.listSecrets(mode, afterName, limit, match),
    listSeals: (mode, afterName, limit) => local.listSeals(mode, afterName, limit),
    count: (mode) => local.count(mode),

    async commit(writes, events = []) {
      for (const event of events) {
        event.instanceId = instanceId;
      }
      const sequenced: CentralEvent[] = local.sequenceEvents(events).map((encoded, i) => ({
        ...encoded,
        instanceId,
        names: events[i]!.secrets.map((secret) => secret.name),
      }));
      const result = await central.commit(writes, sequenced);
      if ("conflict" in result) {
        return result.conflict;
      }
      if (writes.length > 0) {
        await applied(result.revision);
      }
      return undefined;
    },

    nextEventSequence: (micros) => local.nextEventSequence(micros),
    putEvents: (events) => local.putEvents(events),
    listEvents: (from, limit, name) => local.listEvents(from, limit, name),
    eventCount: (auditClass) => local.eventCount(auditClass),
    pruneEvents: (before, keep, limit, auditClass = "main") => central.pruneEvents(before, keep, limit, auditClass),

    getLastUses: (mode, names) => local.getLastUses(mode, names),
    // last use is this sidecar's own: kept in its replica, never shipped
    putLastUses: (uses) => local.putLastUses(uses),

    getMeta: (key) => local.getMeta(key),

    putMetaIfAbsent: (key, value) => putMeta(key, value, undefined),
    replaceMeta: (key, expected, value) => putMeta(key, value, expected),

    onChange: (listener) => local.onChange(listener),

    async close() {
      await replica.close();
      await central.close();
      await local.close();
    },
  };
}
