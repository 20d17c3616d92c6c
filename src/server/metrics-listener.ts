import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Listener } from "./service-listener.ts";
import { formatListenAddress, parseListenAddress } from "../config/listen-address.ts";
import { guardRequests, type RequestGuardLogger } from "./request-guard.ts";
import { listenOn, removeSocketFile, type SocketAccess } from "./unix-socket.ts";

/** Options of the metrics listener. */
export interface MetricsListenerOptions {
  /** `host:port` (port 0 picks a free one) or `unix:/path`. */
  address: string;
  /** The metrics to serve, asked for at each scrape (the broker builds them after listening: see deferredMetricsRegistry). */
  registry: () => Promise<Registry>;
  /** Told when a scrape fails, of malformed requests, and of a handler that failed. */
  logger: RequestGuardLogger;
  /** Who may connect to a unix socket; undefined: the broker's user only (0600). */
  socketAccess?: SocketAccess | undefined;
}

/** Connections the metrics listener keeps open at once; more are refused. */
const maxMetricsConnections = 32;

/**
 * Serves `GET /metrics` in the Prometheus text format, and nothing else.
 * A listener of its own, apart from the API listeners, so that a scraper
 * reaches it without reaching the services, and its port can be opened to
 * the scraper alone.
 */
export async function startMetricsListener(options: MetricsListenerOptions): Promise<Listener> {
  const address = parseListenAddress(options.address, "CREDBROKER_METRICS_LISTEN");
  const { registry, logger } = options;
  // a scrape is one quick request: a connection slow to send its headers is closed
  const server = http.createServer({ requestTimeout: 10_000, headersTimeout: 10_000, connectionsCheckingInterval: 1000 }, guardRequests((req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? "").split("?", 1)[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: metrics are at /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("method not allowed\n");
      return;
    }
    // returned, so that a write that throws reaches the guard rather than becoming an unhandled rejection
    return registry().then(async (loaded) => ({ text: await loaded.metrics(), contentType: loaded.contentType })).then(
      ({ text, contentType }) => {
        res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      (error: unknown) => {
        logger.warn({ err: error }, "metrics scrape failed");
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("metrics unavailable\n");
      },
    );
  }, { listener: "metrics", logger }));
  // a few scrapers at most: a flood of connections here cannot take the descriptors the API listeners need
  server.maxConnections = maxMetricsConnections;
  await listenOn(server, address, options.socketAccess);
  const bound = address.kind === "unix" ? address : { ...address, port: (server.address() as AddressInfo).port };
  return {
    address: formatListenAddress(bound),
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // a scraper keeps its connection alive between scrapes: close it once idle, and every connection after the grace
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      if (address.kind === "unix") {
        await removeSocketFile(address.path);
      }
    },
  };
}
