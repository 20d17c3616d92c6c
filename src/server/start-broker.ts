import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { createAuditService } from "../api/audit-service.ts";
import { createInjectService } from "../api/inject-service.ts";
import { createLastUseTracker, type LastUseTracker } from "../api/last-use.ts";
import { createAuditInterceptor } from "../audit/audit-interceptor.ts";
import { openAuditLog, type AuditLog } from "../audit/audit-log.ts";
import { startAuditRetention, type AuditRetention } from "../audit/audit-retention.ts";
import { createRefusalCounts } from "../audit/refusal-counts.ts";
import { createKeyService } from "../api/key-service.ts";
import { createSecretService } from "../api/secret-service.ts";
import type { Config } from "../config/config.ts";
import { checkTokens } from "../config/config-rules.ts";
import { decodeMasterKey, type ConfiguredSecret } from "../config/secret-settings.ts";
import { generateMasterKey, generateToken, readOrCreateSecretFile } from "../config/data-dir-secret.ts";
import { CredbrokerError } from "../errors.ts";
import { createMaterialCache } from "../material/material-cache.ts";
import { AuditService } from "../gen/credbroker/v1/audit_service_pb.ts";
import { InjectService } from "../gen/credbroker/v1/inject_service_pb.ts";
import { KeyService } from "../gen/credbroker/v1/key_service_pb.ts";
import { SecretService } from "../gen/credbroker/v1/secret_service_pb.ts";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/health/v1/health_pb.ts";
import { createTokenCache, type TokenCache } from "../oauth/token-cache.ts";
import { createTokenFetcher } from "../oauth/token-fetch.ts";
import { createRewrapper, type Rewrapper } from "../keys/rewrapper.ts";
import { hasStoredKeyring, loadStoredKeyring } from "../keys/stored-keyring.ts";
import { createSealer } from "../seal/sealer.ts";
import { openLmdbStore } from "../store/lmdb-store.ts";
import type { SecretStore } from "../store/secret-store.ts";
import { createAuthInterceptor } from "./auth-interceptor.ts";
import { createCallMetrics } from "./call-metrics.ts";
import { registration, type ServiceRegistration } from "./grpc-adapter.ts";
import { defaultConnectionLimits } from "./connection-limits.ts";
import { startGrpcListener, type Listener } from "./grpc-listener.ts";
import { createHealthService } from "./health-service.ts";
import { createHealthState } from "./health-state.ts";
import { startHttpListener } from "./http-listener.ts";
import { createUiHandler } from "./ui-handler.ts";
import { createInjectCounts } from "./inject-counts.ts";
import { createLogInterceptor } from "./log-interceptor.ts";
import { createMetricsRegistry } from "./metrics-registry.ts";
import { startMetricsListener } from "./metrics-listener.ts";
import { createReflectionServices } from "./reflection-service.ts";

/** The largest request either listener accepts (1 MiB). */
const maxRequestBytes = 1024 * 1024;

/** A running broker. */
export interface Broker {
  /** The gRPC listener's address, as a client dials it. */
  readonly grpcAddress: string;
  /** The HTTP listener's address, or undefined when it is off. */
  readonly httpAddress: string | undefined;
  /** The metrics listener's address (`GET /metrics`), or undefined when it is off. */
  readonly metricsAddress: string | undefined;
  /** Stops accepting, drains in-flight calls for up to graceMs, closes the store. */
  close(graceMs?: number): Promise<void>;
}

/** Tuning that is not configuration: for tests and tools. */
export interface BrokerOptions {
  /** Records per transaction of the background rewrap after a key rotation (default 500). */
  rewrapBatchSize?: number | undefined;
  /** Wraps the opened store (a test double that refuses audit writes, built on the real store). */
  wrapStore?: ((store: SecretStore) => SecretStore) | undefined;
  /** How often audit retention runs, in milliseconds (default one minute; tests shorten it). */
  auditRetentionIntervalMs?: number | undefined;
  /** The size of an audit segment file (default 1 MiB; tests shrink it to see segments rotate). */
  auditSegmentBytes?: number | undefined;
  /** How often last-use times are written to the store, in milliseconds (default one minute). */
  lastUseFlushIntervalMs?: number | undefined;
}

/** Opens the store and keyring, then starts the listeners: gRPC, HTTP and metrics. */
export async function startBroker(config: Config, logger: Logger, options: BrokerOptions = {}): Promise<Broker> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await warnIfDataDirOpen(config.dataDir, logger);
  const opened = openLmdbStore({ path: join(config.dataDir, "credbroker.mdb") });
  const store = options.wrapStore?.(opened) ?? opened;
  let retention: AuditRetention | undefined;
  let auditLog: AuditLog | undefined;
  const listeners: Listener[] = [];
  let tokenCache: TokenCache | undefined;
  let rewrapper: Rewrapper | undefined;
  let lastUse: LastUseTracker | undefined;
  try {
    // first of all: what an earlier process left in its audit segments moves into the store, and
    // its sequences are reserved, before anything writes an event
    auditLog = await openAuditLog({ directory: join(config.dataDir, "audit"), store, logger, segmentBytes: options.auditSegmentBytes });
    const audit = auditLog;
    const keys = await loadStoredKeyring(store, await masterKeyOf(config, store, logger), new Date());
    const { keyring } = keys;
    const adminToken = config.adminToken ?? (await generatedAdminToken(config.dataDir, logger));
    // loadConfig checked the configured tokens; a generated admin.token is checked once read
    checkTokens([adminToken, config.injectToken, config.injectTokenTest, config.injectTokenLive]);
    const sealer = createSealer(keyring);
    const rewrap = createRewrapper({ store, sealer, keyring, logger, batchSize: options.rewrapBatchSize });
    rewrapper = rewrap;
    const materialCache = createMaterialCache(config.materialCacheSize);
    tokenCache = createTokenCache({
      fetchToken: createTokenFetcher({ timeoutMs: config.oauthTimeoutMs }),
      maxEntries: config.oauthTokenCacheSize,
      defaultTtlMs: config.oauthDefaultTtlSeconds * 1000,
      logger,
    });
    const tokens = tokenCache;
    const used = createLastUseTracker({ store, flushIntervalMs: options.lastUseFlushIntervalMs, logger });
    lastUse = used;
    store.onChange((change) => {
      if (change.sealOnly === true) {
        // a rewrap: same contents, same version; cached material and tokens stay valid
        return;
      }
      materialCache.drop(change.mode, change.name);
      tokens.invalidate(change.mode, change.name);
    });
    // the per-call counts exist only when something will read them
    const metricsOn = config.metricsListen !== "off";
    const calls = metricsOn ? createCallMetrics([SecretService, InjectService]) : undefined;
    const injects = metricsOn ? createInjectCounts() : undefined;
    const refusals = metricsOn ? createRefusalCounts([SecretService, KeyService, AuditService, InjectService]) : undefined;
    const services: ServiceRegistration[] = [
      registration(SecretService, createSecretService({ store, sealer, oauthTimeoutMs: config.oauthTimeoutMs, lastUse: used })),
      registration(KeyService, createKeyService({ store, keys, rewrapper: rewrap })),
      registration(AuditService, createAuditService({ log: audit })),
      registration(InjectService, createInjectService({ store, sealer, materialCache, tokenCache, onInject: injects?.count, lastUse: used })),
    ];
    const interceptors = [
      createLogInterceptor(logger, { calls }),
      createAuditInterceptor({ log: audit, logger, refusals }),
      createAuthInterceptor({
        adminToken: adminToken.value,
        injectToken: config.injectToken?.value,
        injectTokenTest: config.injectTokenTest?.value,
        injectTokenLive: config.injectTokenLive?.value,
        adminServices: [SecretService, KeyService, AuditService],
        injectServices: [InjectService],
      }),
    ];
    // every served service, so a probe may name any of them
    const health = createHealthState(services.map((served) => served.service));
    const systemServices = [
      registration(Health, createHealthService(health)),
      ...createReflectionServices([SecretService, InjectService, KeyService, AuditService, Health]),
    ];
    const serving = {
      services,
      interceptors,
      maxRequestBytes,
      systemServices,
      tls: config.tls,
      socketAccess: { group: config.socketGroup },
      limits: { ...defaultConnectionLimits, maxConnections: config.maxConnections },
      logger,
    };
    const grpcListener = await startGrpcListener({ ...serving, address: config.listen });
    listeners.push(grpcListener);
    const httpListener =
      config.httpListen === "off"
        ? undefined
        : await startHttpListener({
            ...serving,
            address: config.httpListen,
            ui: config.uiDir === undefined ? undefined : await createUiHandler({ directory: config.uiDir, logger }),
          });
    if (httpListener !== undefined) {
      listeners.push(httpListener);
    }
    const metricsListener =
      calls === undefined || injects === undefined || refusals === undefined
        ? undefined
        : await startMetricsListener({
            address: config.metricsListen,
            socketAccess: { group: config.socketGroup },
            registry: createMetricsRegistry({ calls, injects, refusals, tokenCache: tokens, store, materialCache }),
            logger,
          });
    if (metricsListener !== undefined) {
      listeners.push(metricsListener);
    }
    retention = startAuditRetention({
      store,
      maxEvents: config.auditMaxEvents,
      // refusals anyone can make get a cap of their own, a tenth of the main one unless set
      maxRefusedEvents: config.auditMaxRefusedEvents ?? Math.ceil(config.auditMaxEvents / 10),
      maxAgeMs: config.auditMaxAgeDays * 24 * 3600 * 1000,
      intervalMs: options.auditRetentionIntervalMs ?? 60_000,
      logger,
    });
    void retention.runOnce().catch((err: unknown) => logger.error({ err }, "audit retention pass failed"));
    health.set(ServingStatus.SERVING);
    // records still wrapped by an older key (a rotation interrupted by a stop): resume moving them
    rewrap.kick();
    logger.info(
      {
        grpc: grpcListener.address,
        http: httpListener?.address ?? "off",
        // the admin page's path on the HTTP listener
        ui: httpListener === undefined || config.uiDir === undefined ? "off" : "/ui/",
        metrics: metricsListener?.address ?? "off",
        dataDir: config.dataDir,
      },
      "credbroker serving",
    );
    return {
      grpcAddress: grpcListener.address,
      httpAddress: httpListener?.address,
      metricsAddress: metricsListener?.address,
      async close(graceMs = 10_000) {
        // probes see NOT_SERVING before the listeners stop accepting; Watch streams end after sending it
        health.shutdown();
        await Promise.all(listeners.map((listener) => listener.close(graceMs)));
        // no Inject runs any more: what was noted since the last flush is kept for the next start
        await used.close();
        await rewrap.close();
        await retention?.stop();
        tokenCache?.close();
        await audit.close();
        await store.close();
      },
    };
  } catch (error) {
    await Promise.all(listeners.map((listener) => listener.close(0)));
    await lastUse?.close();
    await rewrapper?.close();
    await retention?.stop();
    tokenCache?.close();
    await auditLog?.close();
    await store.close();
    throw error;
  }
}

/**
 * The configured master key, or the data dir's generated `master.key`. A key
 * is generated only for a store that has no keyring yet, so sealed data is
 * never paired with a fresh key.
 */
async function masterKeyOf(config: Config, store: SecretStore, logger: Logger): Promise<Uint8Array> {
  if (config.masterKey !== undefined) {
    return config.masterKey.value;
  }
  const path = join(config.dataDir, "master.key");
  if (hasStoredKeyring(store)) {
    const existing = await readOrCreateSecretFile(path, () => {
      throw new CredbrokerError(
        "ERR_MASTER_KEY_MISMATCH",
        `the data dir holds sealed data but no master key: set CREDBROKER_MASTER_KEY or --master-key-file, or restore ${path}`,
      );
    });
    return decodeMasterKey(existing.value, path).value;
  }
  const file = await readOrCreateSecretFile(path, generateMasterKey);
  if (file.created) {
    logger.warn({ path }, "generated a development master key in the data dir; set CREDBROKER_MASTER_KEY or --master-key-file in production");
  }
  return decodeMasterKey(file.value, path).value;
}

/**
 * Says once, at start-up, that the data dir lets its group or others in: the
 * broker's files are 0600 whatever the dir's mode, but others could still list
 * secret-free file names, or, given write access, replace the files.
 */
async function warnIfDataDirOpen(dataDir: string, logger: Logger): Promise<void> {
  const mode = (await stat(dataDir)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    logger.warn({ path: dataDir, mode: mode.toString(8) }, "the data dir is open to its group or others; chmod 700 it");
  }
}

async function generatedAdminToken(dataDir: string, logger: Logger): Promise<ConfiguredSecret<string>> {
  const path = join(dataDir, "admin.token");
  const file = await readOrCreateSecretFile(path, generateToken);
  if (file.created) {
    logger.warn({ path }, "generated an admin token in the data dir; SecretService callers send it as a bearer token");
  }
  return { value: file.value, source: path };
}
