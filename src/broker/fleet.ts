import type { Logger } from "pino";
import { startAuditShipper, type AuditShipper } from "../audit/audit-shipper.ts";
import type { Config } from "../config/config.ts";
import { CredbrokerError } from "../errors.ts";
import { keyringMetaKey } from "../keys/stored-keyring.ts";
import { openCentralStore, type CentralStore } from "../store/central-store.ts";
import { createFleetStore } from "../store/fleet-store.ts";
import type { LmdbStore } from "../store/lmdb-store.ts";
import { createReplica, type Replica } from "../store/replica.ts";
import type { SecretStore } from "../store/secret-store.ts";
import type { Closers } from "./closers.ts";

/** A sidecar of a fleet: the store seam over PostgreSQL and the local replica. */
export interface Fleet {
  readonly store: SecretStore;
  readonly central: CentralStore;
  readonly replica: Replica;
  /** Starts shipping the local audit outbox (once the audit log has moved what an earlier process left). */
  shipAudit(): AuditShipper;
}

/** What joining the fleet needs. */
export interface JoinFleetOptions {
  config: Config & { postgresUrl: NonNullable<Config["postgresUrl"]> };
  local: LmdbStore;
  logger: Logger;
  closers: Closers;
  /** Told of each sealed keyring the replica is about to apply, before any record sealed under its new key. */
  onKeyring(sealed: Uint8Array): void;
}

/**
 * Connects to the central store (migrating its schema), brings the replica
 * up to date and follows it. With the central store unreachable at start-up,
 * a replica that holds the fleet's data starts serving it (writes refused
 * until the store is back); an empty one cannot, and the start fails.
 */
export async function joinFleet(options: JoinFleetOptions): Promise<Fleet> {
  const { config, local, logger, closers } = options;
  if (local.replicaPosition() === undefined && local.getMeta(keyringMetaKey) !== undefined) {
    // a replica starts by dropping what its data dir holds: standalone data would be lost
    throw new CredbrokerError(
      "ERR_STORE_INCOMPATIBLE",
      `${config.dataDir} holds a standalone broker's data; move it into the central store with \`credbroker fleet import\`, or give this sidecar an empty data dir`,
    );
  }
  const central = openCentralStore({ url: config.postgresUrl.value, schema: config.postgresSchema, instanceId: config.instanceId });
  closers.add(() => central.close());
  const replica = createReplica({
    central,
    local,
    logger,
    beforeApply(changes) {
      for (const change of changes) {
        if (change.kind === "meta" && change.key === keyringMetaKey) {
          options.onKeyring(change.value);
        }
      }
    },
  });
  closers.add(() => replica.close());
  await replica.start();
  const status = replica.status();
  logger.info({ instanceId: config.instanceId, schema: config.postgresSchema, epoch: status.epoch, revision: String(status.appliedRevision) }, "fleet: replica up to date");
  const store = createFleetStore({ local, central, replica, instanceId: config.instanceId, logger });
  return {
    store,
    central,
    replica,
    shipAudit() {
      const shipper = startAuditShipper({ outbox: local, central, instanceId: config.instanceId, logger });
      closers.add(() => shipper.close());
      return shipper;
    },
  };
}
