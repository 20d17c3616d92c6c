import type { Registry } from "prom-client";
import type { MetricsSources } from "./metrics-registry.ts";

/**
 * The broker's metrics registry, built on first use: prom-client (and the
 * @opentelemetry/api it loads) cost a start ~55 ms of CPU that listening
 * need not wait for. The broker asks for it once its listeners are up; a
 * scrape before that waits for it.
 */
export function deferredMetricsRegistry(sources: MetricsSources): () => Promise<Registry> {
  let registry: Promise<Registry> | undefined;
  return () => (registry ??= import("./metrics-registry.ts").then(({ createMetricsRegistry }) => createMetricsRegistry(sources)));
}
