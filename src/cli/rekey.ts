import { access } from "node:fs/promises";
import { dataDirFiles } from "../broker/data-dir.ts";
import { holdDataDir } from "../broker/data-dir-holders.ts";
import { loadRekeyConfig } from "../config/rekey-config.ts";
import { CredbrokerError } from "../errors.ts";
import { rekeyStore } from "../keys/rekey.ts";
import { openLmdbStore } from "../store/lmdb-store.ts";
import { CliError, noPositionals, parseOwnArgs, printHelp, UsageError, type CliContext } from "./command.ts";

export const rekeyUsage = `Usage: credbroker rekey --new-master-key-file FILE [--data-dir DIR] [--master-key-file OLD]

Re-wraps the data dir's keyring under a new master key, in one transaction.
Records are not touched. Afterwards the broker starts only with the new key;
the old one is refused (ERR_MASTER_KEY_MISMATCH, exit 1).

Stop the broker first: a broker that keeps running holds the keyring under
the old key, so while one serves the data dir rekey refuses (exit 2), and a
broker does not start while a rekey runs.

  --new-master-key-file FILE  the new key: base64 of 32 random bytes
  --master-key-file OLD       the current key (default: CREDBROKER_MASTER_KEY,
                              else the data dir's generated master.key)
  --data-dir DIR              CREDBROKER_DATA_DIR (default ./data)
  -h, --help                  this help
`;

const options = {
  "new-master-key-file": { type: "string" },
  "master-key-file": { type: "string" },
  "data-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** `credbroker rekey`: the keyring re-wrapped under a new master key (broker stopped). */
export async function rekey(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseOwnArgs(args, options);
  if (values.help === true) {
    return printHelp(ctx, rekeyUsage, false);
  }
  noPositionals(positionals);
  const newMasterKeyFile = values["new-master-key-file"];
  if (newMasterKeyFile === undefined) {
    throw new UsageError("missing --new-master-key-file FILE");
  }
  const config = await loadRekeyConfig(
    { dataDir: values["data-dir"], masterKeyFile: values["master-key-file"], newMasterKeyFile },
    ctx.env,
    (dataDir) => dataDirFiles(dataDir).masterKey,
  );
  const files = dataDirFiles(config.dataDir);
  const path = files.store;
  // opening would create an empty store; a mistyped --data-dir must fail instead
  await access(path).catch(() => {
    throw new CliError("ERR_NO_DATA_DIR", `${path} does not exist: no data dir to rekey`);
  });
  try {
    const hold = await holdDataDir(files.holders, "rekey");
    const store = openLmdbStore({ path });
    try {
      if (store.replicaPosition() !== undefined) {
        throw new CredbrokerError(
          "ERR_STORE_INCOMPATIBLE",
          "this data dir is a fleet sidecar's replica: the fleet's keyring lives in PostgreSQL, and a rekey of the replica would be overwritten; nothing was changed",
        );
      }
      await rekeyStore(store, config.oldMasterKey.value, config.newMasterKey.value);
    } finally {
      await store.close();
      await hold.release();
    }
  } finally {
    config.oldMasterKey.value.fill(0);
    config.newMasterKey.value.fill(0);
  }
  ctx.stderr.write(
    `rekeyed ${config.dataDir}: start the broker with ${config.newMasterKey.source}; ${config.oldMasterKey.source} is refused from now on\n`,
  );
  return 0;
}
