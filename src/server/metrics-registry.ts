import { Code } from "@connectrpc/connect";
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from "prom-client";
import { ModeSchema, SecretTypeSchema, type Mode, type SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import type { RefusalCounts } from "../audit/refusal-counts.ts";
import type { MaterialCache } from "../material/material-cache.ts";
import type { TokenCache } from "../oauth/token-cache-api.ts";
import type { ReplicaStatus } from "../store/replica.ts";
import type { SecretStore } from "../store/secret-store.ts";
import { latencyBounds, type CallMetrics, type MethodCalls } from "./call-metrics.ts";
import type { InjectCounts } from "./inject-counts.ts";

/** What the metrics are read from, at scrape time. */
export interface MetricsSources {
  /** Calls by method, code and latency, from the outermost interceptor. */
  calls: CallMetrics;
  /** Injects by secret type and mode, from the inject service. */
  injects: InjectCounts;
  /** Calls refused before presenting a known token, from the audit interceptor. */
  refusals: RefusalCounts;
  /** The token cache's running counters. */
  tokenCache: Pick<TokenCache, "counters">;
  /** The store, for the number of secrets per mode. */
  store: Pick<SecretStore, "count">;
  /** The material cache, for its size. */
  materialCache: Pick<MaterialCache, "size">;
  /** The replica's state, in fleet mode. */
  replica?: (() => ReplicaStatus) | undefined;
}

const prefix = "credbroker_";

/** Label values of the enums: "test", "live"; "basic_auth", ..., "json_credentials" (unspecified left out). */
const modes = ModeSchema.values.filter((v) => v.number !== 0).map((v) => ({ mode: v.number as Mode, label: v.localName.toLowerCase() }));
const types = SecretTypeSchema.values
  .filter((v) => v.number !== 0)
  .map((v) => ({ type: v.number as SecretType, label: v.localName.toLowerCase() }));

/**
 * A registry of the broker's own (not prom-client's global one) holding
 * every metric the broker exposes. Nothing here runs per call: each metric
 * is computed from its source when scraped. Process and Node.js metrics keep
 * their standard unprefixed names (`process_*`, `nodejs_*`) so that stock
 * dashboards and alerts work.
 */
export function createMetricsRegistry(sources: MetricsSources): Registry {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  new Counter({
    name: `${prefix}requests_total`,
    help: "Calls of SecretService and InjectService (health and reflection excluded), by method and final status code.",
    labelNames: ["service", "method", "code"],
    registers,
    collect() {
      this.reset();
      for (const calls of sources.calls.all()) {
        for (let code = 0; code < calls.byCode.length; code++) {
          const count = calls.byCode[code]!;
          // OK from the start, so that rates and ratios of an idle method are 0 rather than absent
          if (count > 0 || code === 0) {
            this.inc({ service: calls.service, method: calls.method, code: code === 0 ? "OK" : (Code[code] ?? String(code)) }, count);
          }
        }
      }
    },
  });
  registry.registerMetric(latencyHistogram(`${prefix}request_duration_seconds`, sources.calls));

  new Counter({
    name: `${prefix}refused_calls_total`,
    help: "Calls refused before presenting a token the broker knows (no or an unknown token, a foreign web page), by method and status code; they count on after retention removes their audit events.",
    labelNames: ["service", "method", "code"],
    registers,
    collect() {
      this.reset();
      for (const refusals of sources.refusals.all()) {
        for (let code = 1; code < refusals.byCode.length; code++) {
          const count = refusals.byCode[code]!;
          // Unauthenticated from the start, so that the rate of a quiet method is 0 rather than absent
          if (count > 0 || code === Code.Unauthenticated) {
            this.inc({ service: refusals.service, method: refusals.method, code: Code[code] ?? String(code) }, count);
          }
        }
      }
    },
  });

  new Counter({
    name: `${prefix}injects_total`,
    help: "Successful Injects by secret type and mode.",
    labelNames: ["type", "mode"],
    registers,
    collect() {
      this.reset();
      for (const { type, label: typeLabel } of types) {
        for (const { mode, label: modeLabel } of modes) {
          this.inc({ type: typeLabel, mode: modeLabel }, sources.injects.get(type, mode));
        }
      }
    },
  });

  const tokenCounter = (name: string, help: string, read: () => number) =>
    new Counter({
      name: `${prefix}${name}`,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const counters = sources.tokenCache.counters;
  tokenCounter("oauth2_token_fetches_total", "OAuth2 token fetches started, cold and background refreshes.", () => counters.fetches);
  tokenCounter("oauth2_token_cache_hits_total", "OAuth2 token lookups answered from the token cache.", () => counters.hits);
  tokenCounter("oauth2_token_cache_misses_total", "OAuth2 token lookups that waited for a fetch.", () => counters.misses);
  tokenCounter("oauth2_token_refresh_failures_total", "Background OAuth2 token refreshes that failed.", () => counters.refreshFailures);

  new Gauge({
    name: `${prefix}secrets`,
    help: "Secrets stored, by mode.",
    labelNames: ["mode"],
    registers,
    collect() {
      for (const { mode, label } of modes) {
        this.set({ mode: label }, sources.store.count(mode));
      }
    },
  });
  new Gauge({
    name: `${prefix}material_cache_entries`,
    help: "Ready Inject answers held in the material cache.",
    registers,
    collect() {
      this.set(sources.materialCache.size);
    },
  });
  if (sources.replica !== undefined) {
    replicaGauges(sources.replica, registers);
  }
  return registry;
}

/** Fleet mode: where this sidecar's replica stands (what StatusService and `credbroker health` show). */
function replicaGauges(replica: () => ReplicaStatus, registers: Registry[]): void {
  const gauge = (name: string, help: string, value: (status: ReplicaStatus) => number) =>
    new Gauge({
      name: `${prefix}${name}`,
      help,
      registers,
      collect() {
        this.set(value(replica()));
      },
    });
  gauge("replica_connected", "1 while the last contact with the central store (PostgreSQL) succeeded, else 0.", (s) => (s.connected ? 1 : 0));
  gauge("replica_applied_revision", "The last central store revision applied to this sidecar's replica.", (s) => Number(s.appliedRevision));
  gauge("replica_lag_revisions", "The central store's head revision, as last seen, less the applied one.", (s) =>
    Math.max(0, Number(s.headRevision - s.appliedRevision)),
  );
  gauge("replica_age_seconds", "Seconds since the replica was last known to be current; -1 when it never was.", (s) =>
    s.currentAt === undefined ? -1 : (Date.now() - s.currentAt.getTime()) / 1000,
  );
}

/**
 * The latency histogram, rendered from the call records. prom-client's
 * Histogram can only be fed one observation at a time (~1 µs each with
 * labels), so this is a metric object of the shape the registry reads:
 * `get()` returning the `_bucket`, `_sum` and `_count` series.
 */
function latencyHistogram(name: string, calls: CallMetrics): Metric {
  const help = "Latency of SecretService and InjectService calls, in seconds, by method.";
  const histogram = {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    collect() {},
    reset() {},
    async get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const record of calls.all()) {
        values.push(...series(name, record));
      }
      return { name, help, type: "histogram", aggregator: "sum", values };
    },
  };
  // the registry reads metrics through get(); its TypeScript signature lists prom-client's own classes only
  return histogram as unknown as Metric;
}

function series(name: string, record: MethodCalls) {
  const labels = { service: record.service, method: record.method };
  const out: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
  let cumulative = 0;
  for (const [i, bound] of latencyBounds.entries()) {
    cumulative += record.byLatency[i]!;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
  }
  const count = cumulative + record.byLatency[latencyBounds.length]!;
  out.push(
    { metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: count },
    { metricName: `${name}_sum`, labels, value: record.latencySum },
    { metricName: `${name}_count`, labels, value: count },
  );
  return out;
}
