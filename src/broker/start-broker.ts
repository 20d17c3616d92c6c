import type { ServiceImplSpec } from "@connectrpc/connect";
import type { Logger } from "pino";
import { createAuditService } from "../api/audit-service.ts";
import { createInjectService } from "../api/inject-service.ts";
import { createLastUseTracker } from "../api/last-use.ts";
import { createAuditInterceptor } from "../server/audit-interceptor.ts";
import { openAuditLog } from "../audit/audit-log.ts";
import { startAuditRetention } from "../audit/audit-retention.ts";
import { createRefusalCounts } from "../audit/refusal-counts.ts";
import { fleetAuditEvents } from "../audit/fleet-audit-events.ts";
import { createKeyService } from "../api/key-service.ts";
import { createSecretService } from "../api/secret-service.ts";
import type { Config } from "../config/config.ts";
import { checkTokens } from "../config/config-rules.ts";
import { createMaterialCache } from "../material/material-cache.ts";
import { AuditService } from "../gen/credbroker/v1/audit_service_pb.ts";
import { InjectService } from "../gen/credbroker/v1/inject_service_pb.ts";
import { KeyService } from "../gen/credbroker/v1/key_service_pb.ts";
import { SecretService } from "../gen/credbroker/v1/secret_service_pb.ts";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/health/v1/health_pb.ts";
import { createTokenCache } from "../oauth/token-cache.ts";
import { createTokenFetcher, preloadTokenFetch } from "../oauth/token-fetch.ts";
import { createRewrapper } from "../keys/rewrapper.ts";
import { hasStoredKeyring, loadStoredKeyring, type StoredKeyring } from "../keys/stored-keyring.ts";
import { createSealer } from "../seal/sealer.ts";
import { openLmdbStore } from "../store/lmdb-store.ts";
import type { SecretStore } from "../store/secret-store.ts";
import { createClosers } from "./closers.ts";
import { dataDirFiles, prepareDataDir } from "./data-dir.ts";
import { holdDataDir } from "./data-dir-holders.ts";
import { generatedAdminToken, generatedMasterKey } from "./data-dir-secret.ts";
import { createAuthInterceptor } from "../server/auth-interceptor.ts";
import { createCallMetrics } from "../server/call-metrics.ts";
import { defaultConnectionLimits } from "../server/connection-limits.ts";
import { startGrpcListener } from "../server/grpc-js/grpc-listener.ts";
import { serviceSpec, type Listener } from "../server/service-listener.ts";
import { createHealthService } from "../server/health-service.ts";
import { createStatusService } from "../server/status-service.ts";
import { StatusService } from "../gen/credbroker/v1/status_service_pb.ts";
import { createHealthState } from "../server/health-state.ts";
import { startHttpListener } from "../server/http-listener.ts";
import { createUiHandler } from "../server/ui-handler.ts";
import { createInjectCounts } from "../server/inject-counts.ts";
import { createLogInterceptor } from "../server/log-interceptor.ts";
import { deferredMetricsRegistry } from "../server/deferred-metrics.ts";
import { startMetricsListener } from "../server/metrics-listener.ts";
import { createReflectionServices } from "../server/reflection-service.ts";

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
  /** How often audit retention runs, in milliseconds (default 5 s standalone, a minute in fleet mode; tests shorten it). */
  auditRetentionIntervalMs?: number | undefined;
  /** The size of an audit segment file (default 1 MiB; tests shrink it to see segments rotate). */
  auditSegmentBytes?: number | undefined;
  /** How often last-use times are written to the store, in milliseconds (default one minute). */
  lastUseFlushIntervalMs?: number | undefined;
}

/** Opens the store and keyring, then starts the listeners: gRPC, HTTP and metrics. */
export async function startBroker(config: Config, logger: Logger, options: BrokerOptions = {}): Promise<Broker> {
  await prepareDataDir(config.dataDir, logger);
  const files = dataDirFiles(config.dataDir);
  const closers = createClosers();
  try {
    // before the keyring is read: a rekey running now refuses this start, or this start makes it refuse
    const hold = await holdDataDir(files.holders, "broker");
    closers.add(() => hold.release());
    const local = openLmdbStore({ path: files.store });
    closers.add(() => local.close());
    // fleet mode: the local LMDB becomes a replica of the central store, brought up to date before anything reads it
    let keys: StoredKeyring | undefined;
    // the PostgreSQL client and the fleet's modules load only in fleet mode: a standalone start does not pay for them
    const fleet =
      config.postgresUrl === undefined
        ? undefined
        : await (await import("./fleet.ts")).joinFleet({
            config: { ...config, postgresUrl: config.postgresUrl },
            local,
            logger,
            closers,
            onKeyring: (sealed) => keys?.adopt(sealed),
          });
    const opened = fleet?.store ?? local;
    const store = options.wrapStore?.(opened) ?? opened;
    // shipping starts first, so that it closes last: what the audit log moves at shutdown is shipped too
    fleet?.shipAudit();
    // first of all: what an earlier process left in its audit segments moves into the store, and
    // its sequences are reserved, before anything writes an event
    const audit = await openAuditLog({
      directory: files.audit,
      store,
      logger,
      segmentBytes: options.auditSegmentBytes,
      origin: fleet === undefined ? undefined : { instanceId: config.instanceId },
    });
    closers.add(() => audit.close());
    keys = await loadStoredKeyring(
      store,
      config.masterKey?.value ?? (await generatedMasterKey(files.masterKey, hasStoredKeyring(store), logger)),
      new Date(),
    );
    const { keyring } = keys;
    const adminToken = config.adminToken ?? (await generatedAdminToken(files.adminToken, logger));
    // loadConfig checked the configured tokens; a generated admin.token is checked once read
    checkTokens([adminToken, config.injectToken, config.injectTokenTest, config.injectTokenLive]);
    const sealer = createSealer(keyring);
    const rewrap = createRewrapper({ store, sealer, keyring, logger, batchSize: options.rewrapBatchSize });
    closers.add(() => rewrap.close());
    const materialCache = createMaterialCache(config.materialCacheSize);
    const tokenCache = createTokenCache({
      fetchToken: createTokenFetcher({ timeoutMs: config.oauthTimeoutMs }),
      maxEntries: config.oauthTokenCacheSize,
      defaultTtlMs: config.oauthDefaultTtlSeconds * 1000,
      logger,
    });
    closers.add(() => tokenCache.close());
    const used = createLastUseTracker({ store, flushIntervalMs: options.lastUseFlushIntervalMs, logger });
    closers.add(() => used.close());
    store.onChange((change) => {
      if (change.sealOnly === true) {
        // a rewrap: same contents, same version; cached material and tokens stay valid
        return;
      }
      materialCache.drop(change.mode, change.name);
      tokenCache.invalidate(change.mode, change.name);
    });
    // the per-call counts exist only when something will read them
    const metricsOn = config.metricsListen !== "off";
    const calls = metricsOn ? createCallMetrics([SecretService, InjectService]) : undefined;
    const injects = metricsOn ? createInjectCounts() : undefined;
    const refusals = metricsOn ? createRefusalCounts([SecretService, KeyService, AuditService, InjectService]) : undefined;
    const services: ServiceImplSpec[] = [
      serviceSpec(SecretService, createSecretService({ store, sealer, oauthTimeoutMs: config.oauthTimeoutMs, lastUse: used })),
      serviceSpec(KeyService, createKeyService({ store, keys, rewrapper: rewrap })),
      serviceSpec(AuditService, createAuditService({ log: fleet === undefined ? audit : fleetAuditEvents(fleet.central, audit) })),
      serviceSpec(InjectService, createInjectService({ store, sealer, materialCache, tokenCache, onInject: injects?.count, lastUse: used })),
    ];
    const interceptors = [
      // every Inject is in the audit log: its successes need no info line
      createLogInterceptor(logger, { calls, quietMethods: [InjectService.method.inject] }),
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
      serviceSpec(Health, createHealthService(health)),
      serviceSpec(StatusService, createStatusService({ instanceId: config.instanceId, replica: fleet?.replica.status })),
      ...createReflectionServices([SecretService, InjectService, KeyService, AuditService, Health, StatusService]),
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
    const listeners: Listener[] = [];
    closers.add((graceMs) => Promise.all(listeners.map((listener) => listener.close(graceMs))));
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
    const registry =
      calls === undefined || injects === undefined || refusals === undefined
        ? undefined
        : deferredMetricsRegistry({ calls, injects, refusals, tokenCache, store, materialCache, replica: fleet?.replica.status });
    const metricsListener =
      registry === undefined
        ? undefined
        : await startMetricsListener({ address: config.metricsListen, socketAccess: { group: config.socketGroup }, registry, logger });
    if (metricsListener !== undefined) {
      listeners.push(metricsListener);
    }
    const retention = startAuditRetention({
      store,
      maxEvents: config.auditMaxEvents,
      // refusals anyone can make get a cap of their own, a tenth of the main one unless set
      maxRefusedEvents: config.auditMaxRefusedEvents ?? Math.ceil(config.auditMaxEvents / 10),
      maxAgeMs: config.auditMaxAgeDays * 24 * 3600 * 1000,
      // standalone, every 5 s: at 10,000 Injects a second a minute's events went 600,000 past the cap
      // in the LMDB file (and its map) before a pass; a fleet's pass counts the central table, so once a minute
      intervalMs: options.auditRetentionIntervalMs ?? (fleet === undefined ? 5_000 : 60_000),
      logger,
    });
    closers.add(() => retention.stop());
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
    // what was kept off the way to listening loads now, in the background: the first OAuth2 Inject and the first scrape need not wait for it
    void preloadTokenFetch().catch((err: unknown) => logger.error({ err }, "the OAuth2 client failed to load: OAuth2 token requests will fail"));
    void registry?.().catch((err: unknown) => logger.error({ err }, "the metrics registry failed to load: scrapes will fail"));
    return {
      grpcAddress: grpcListener.address,
      httpAddress: httpListener?.address,
      metricsAddress: metricsListener?.address,
      async close(graceMs = 10_000) {
        // probes see NOT_SERVING before the listeners stop accepting; Watch streams end after sending it
        health.shutdown();
        // newest first: the listeners drain before last-use times are flushed, the store closes last
        await closers.close(graceMs);
      },
    };
  } catch (error) {
    await closers.close(0).catch((closing: unknown) => logger.error({ err: closing }, "closing after a failed start-up failed"));
    throw error;
  }
}
