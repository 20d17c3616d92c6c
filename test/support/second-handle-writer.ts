/**
 * Run by second-handle.ts as `node second-handle-writer.ts JOB`: writes to a
 * running broker's store through a second LMDB handle of its own, as another
 * process with access to the data file would. Prints nothing; fails with a
 * message and exit 1.
 */
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createSecretService } from "../../src/api/secret-service.ts";
import { SecretRecordSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { openKeyring } from "../../src/keys/keyring.ts";
import { createSealer } from "../../src/seal/sealer.ts";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import type { SecondHandleJob } from "./second-handle.ts";
import { routerClient } from "./services.ts";

const job = JSON.parse(process.argv[2] ?? "") as SecondHandleJob;
const store = openLmdbStore({ path: join(job.dataDir, "credbroker.mdb") });
try {
  if (job.kind === "update") {
    const sealer = createSealer(openKeyring(Buffer.from(job.masterKey, "base64"), store.getMeta("keyring")!));
    const { kind: _kind, dataDir: _dataDir, masterKey: _masterKey, ...request } = job;
    await routerClient(SecretService, createSecretService({ store, sealer, oauthTimeoutMs: 2000 })).updateSecret(request);
  } else {
    const record = store.get(job.mode, job.name);
    if (record?.payload === undefined || record.secret === undefined) {
      throw new Error(`no sealed record ${job.mode}/${job.name}`);
    }
    const bytes = new Uint8Array(record.payload[job.field]);
    bytes[job.at < 0 ? bytes.length + job.at : job.at]! ^= job.mask;
    const tampered = create(SecretRecordSchema, { ...record, payload: { ...record.payload, [job.field]: bytes } });
    const conflict = await store.commit([{ kind: "put", record: tampered, expectVersion: record.secret.version }]);
    if (conflict !== undefined) {
      throw new Error(`the record changed meanwhile: ${JSON.stringify(conflict, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
    }
  }
} finally {
  await store.close();
}
