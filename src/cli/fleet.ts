import { access } from "node:fs/promises";
import { toBinary } from "@bufbuild/protobuf";
import { dataDirFiles } from "../broker/data-dir.ts";
import { holdDataDir } from "../broker/data-dir-holders.ts";
import { decodeMasterKey } from "../config/secret-settings.ts";
import { readConfigFile, readSetting } from "../config/setting.ts";
import { serveSettings } from "../config/settings.ts";
import { CredbrokerError } from "../errors.ts";
import { SecretRecordSchema } from "../gen/credbroker/storage/v1/record_pb.ts";
import { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import { openKeyring } from "../keys/keyring.ts";
import { keyringMetaKey } from "../keys/stored-keyring.ts";
import { openCentralStore } from "../store/central-store.ts";
import { everyRecord } from "../store/every-record.ts";
import { openLmdbStore, type LmdbStore } from "../store/lmdb-store.ts";
import { CliError, noPositionals, parseOwnArgs, printHelp, UsageError, type CliContext } from "./command.ts";

/** The most an import's transaction may take. */
const importTimeoutMs = 120_000;

export const fleetUsage = `Usage: credbroker fleet import [--data-dir DIR] [--postgres-url-file FILE] [--postgres-schema NAME] [--master-key-file FILE]

Moves a standalone data dir into an empty central store (fleet mode): its
sealed records and its keyring are copied as they are, in one transaction,
never opened (no plaintext leaves the data dir). The import refuses a
central store that already holds records or a keyring (exit 1) and a data
dir that a broker serves (exit 2); the master key must open the data dir's
keyring, and every sidecar of the fleet then runs with that same key.
Audit events stay in the data dir.

  --data-dir DIR            CREDBROKER_DATA_DIR (default ./data)
  --postgres-url-file FILE  CREDBROKER_POSTGRES_URL: the central store
  --postgres-schema NAME    CREDBROKER_POSTGRES_SCHEMA (default credbroker)
  --master-key-file FILE    CREDBROKER_MASTER_KEY (default: the data dir's
                            generated master.key)
  -h, --help                this help
`;

const options = {
  "data-dir": { type: "string" },
  "postgres-url-file": { type: "string" },
  "postgres-schema": { type: "string" },
  "master-key-file": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** `credbroker fleet import`: a standalone data dir into an empty central store. */
export async function fleet(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseOwnArgs(args, options);
  const [command, ...rest] = positionals;
  if (values.help === true || command === "help") {
    return printHelp(ctx, fleetUsage, false);
  }
  if (command !== "import") {
    throw new UsageError(command === undefined ? "missing the fleet command (import)" : `unknown fleet command "${command}"`);
  }
  noPositionals(rest);
  const dataDir = await readSetting(serveSettings.dataDir, values, ctx.env);
  const postgresUrl = await readSetting(serveSettings.postgresUrl, values, ctx.env);
  const schema = await readSetting(serveSettings.postgresSchema, values, ctx.env);
  const instanceId = await readSetting(serveSettings.instanceId, values, ctx.env);
  if (postgresUrl === undefined) {
    throw new UsageError("set CREDBROKER_POSTGRES_URL or --postgres-url-file: the central store to import into");
  }
  const files = dataDirFiles(dataDir);
  const masterKey =
    (await readSetting(serveSettings.masterKey, values, ctx.env)) ??
    decodeMasterKey(await readConfigFile(files.masterKey, "the data dir's master.key"), files.masterKey);
  // opening would create an empty store; a mistyped --data-dir must fail instead
  await access(files.store).catch(() => {
    throw new CliError("ERR_NO_DATA_DIR", `${files.store} does not exist: no data dir to import`);
  });
  let imported: { records: number; revision: bigint };
  try {
    const hold = await holdDataDir(files.holders, "import");
    const local = openLmdbStore({ path: files.store });
    // one transaction of every record, run once by an operator: the sidecars' write budget (a refused
    // write answers within DESIGN's 5 s) is for calls that wait on it, not for this
    const central = openCentralStore({ url: postgresUrl.value, schema, instanceId, writeTimeoutMs: importTimeoutMs });
    try {
      imported = await importDataDir(local, masterKey.value, (records, meta) => central.importAll(records, meta));
    } finally {
      await central.close();
      await local.close();
      await hold.release();
    }
  } finally {
    masterKey.value.fill(0);
  }
  ctx.stderr.write(
    `imported ${imported.records} records and the keyring of ${dataDir} into schema ${schema} (revision ${imported.revision}); ` +
      `start every sidecar with CREDBROKER_POSTGRES_URL and ${masterKey.source}\n`,
  );
  return 0;
}

/** Collects the data dir's sealed records and keyring, checks the master key opens the keyring, and hands them to `write`. */
async function importDataDir(
  local: LmdbStore,
  masterKey: Uint8Array,
  write: (records: ImportedRecord[], meta: { key: string; value: Uint8Array }[]) => Promise<bigint>,
): Promise<{ records: number; revision: bigint }> {
  if (local.replicaPosition() !== undefined) {
    throw new CredbrokerError("ERR_STORE_INCOMPATIBLE", "this data dir is a fleet sidecar's replica, not a standalone data dir: nothing to import");
  }
  const sealed = local.getMeta(keyringMetaKey);
  if (sealed === undefined) {
    throw new CredbrokerError("ERR_NO_KEYRING", "the data dir has no keyring yet: nothing to import");
  }
  // ERR_MASTER_KEY_MISMATCH when the key is not the data dir's: the fleet could not open what it imported
  openKeyring(masterKey, sealed);
  const records: ImportedRecord[] = [];
  for (const record of everyRecord(local)) {
    const secret = record.secret!;
    records.push({ mode: secret.mode, name: secret.name, version: secret.version, wrappedKey: record.payload?.wrappedKey, bytes: toBinary(SecretRecordSchema, record) });
  }
  const revision = await write(records, [{ key: keyringMetaKey, value: sealed }]);
  return { records: records.length, revision };
}

interface ImportedRecord {
  mode: Mode;
  name: string;
  version: bigint;
  wrappedKey: Uint8Array | undefined;
  bytes: Uint8Array;
}
