import type { DescService } from "@bufbuild/protobuf";
import { createServiceImplSpec, type Interceptor, type ServiceImpl, type ServiceImplSpec } from "@connectrpc/connect";
import { createConnectionGate, type ConnectionGate } from "./connection-gate.ts";
import { defaultConnectionLimits, defaultMaxConnections, firstCallTimeoutMs, type ConnectionLimits } from "./connection-limits.ts";
import type { TlsMaterial } from "../config/tls-material.ts";
import type { SocketAccess } from "./unix-socket.ts";

/** Options of a listener serving the broker's services (the gRPC and the HTTP listener alike). */
export interface ServiceListenerOptions {
  /** `host:port` (port 0 picks a free one) or `unix:/path`. */
  address: string;
  /** The services to serve. */
  services: readonly ServiceImplSpec[];
  /** Interceptors, outermost first. */
  interceptors: readonly Interceptor[];
  /** The largest request accepted, in bytes. */
  maxRequestBytes: number;
  /** Services for probes and tools (health, reflection): served without the interceptors, streaming methods included. */
  systemServices?: readonly ServiceImplSpec[];
  /** TLS (and client certificates when a client CA is set); undefined serves cleartext. */
  tls?: TlsMaterial | undefined;
  /** Who may connect to a unix socket; undefined: the broker's user only (0600). */
  socketAccess?: SocketAccess | undefined;
  /** Streams per HTTP/2 connection, idle timeout and connection cap; the broker's defaults unless set. */
  limits?: ConnectionLimits;
  /** Told, at most once a minute, when the connection cap closes or refuses connections. */
  logger?: { warn(obj: Record<string, unknown>, msg: string): void } | undefined;
}

/** A running listener. */
export interface Listener {
  /** The bound address, as a client dials it. */
  readonly address: string;
  /** Stops accepting, lets in-flight calls finish for up to graceMs, then closes. */
  close(graceMs: number): Promise<void>;
}

/** A service with its implementation, checked against each other, as both listeners serve it. */
export function serviceSpec<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceImplSpec {
  return createServiceImplSpec<S>(service, impl);
}

/** The connection gate of a listener, with its limits, reporting to its logger. */
export function listenerGate(listener: string, options: ServiceListenerOptions): ConnectionGate {
  const limits = options.limits ?? defaultConnectionLimits;
  const maxConnections = limits.maxConnections ?? defaultMaxConnections();
  return createConnectionGate({
    maxConnections,
    firstCallTimeoutMs: limits.firstCallTimeoutMs ?? firstCallTimeoutMs,
    onShed: (shed) => options.logger?.warn({ listener, maxConnections, ...shed }, "listener at its connection cap (CREDBROKER_MAX_CONNECTIONS)"),
  });
}
