import * as grpc from "@grpc/grpc-js";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import type { Interceptor } from "@connectrpc/connect";
import { addConnectService, type ServiceRegistration } from "./grpc-adapter.ts";
import { addPlainService } from "./grpc-plain-service.ts";
import { clampHttp2GrpcTimeouts } from "./deadline-headers.ts";
import { createConnectionGate, type ConnectionGate } from "./connection-gate.ts";
import { defaultConnectionLimits, defaultMaxConnections, firstCallTimeoutMs, type ConnectionLimits } from "./connection-limits.ts";
import { formatListenAddress, parseListenAddress } from "../config/listen-address.ts";
import type { TlsMaterial } from "../config/tls-material.ts";
import { listenOn, removeSocketFile, type SocketAccess } from "./unix-socket.ts";

/** Options of a listener serving the broker's services (the gRPC and the HTTP listener alike). */
export interface ServiceListenerOptions {
  /** `host:port` (port 0 picks a free one) or `unix:/path`. */
  address: string;
  /** The services to serve. */
  services: readonly ServiceRegistration[];
  /** Interceptors, outermost first. */
  interceptors: readonly Interceptor[];
  /** The largest request accepted, in bytes. */
  maxRequestBytes: number;
  /** Services for probes and tools (health, reflection): served without the interceptors, streaming methods included. */
  systemServices?: readonly ServiceRegistration[];
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

/** Counts each call (of every service) on its connection for the gate; a unix socket's peer is "unknown", which no connection has. */
function countCalls(gate: ConnectionGate): grpc.ServerInterceptor {
  return (_method, call) => {
    const key = call.getPeer();
    let ended = false;
    const end = () => {
      if (!ended) {
        ended = true;
        gate.callEnded(key);
      }
    };
    gate.callStarted(key);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: end }),
      sendStatus: (status, next) => {
        end();
        next(status);
      },
    });
  };
}

/**
 * Serves the services over classic gRPC with @grpc/grpc-js: the step
 * runners' hot path. The listening socket is the broker's own: each
 * connection passes the connection gate before grpc-js takes it (through
 * its connection injector, TLS included), so that connections are capped
 * and a silent one is closed.
 */
export async function startGrpcListener(options: ServiceListenerOptions): Promise<Listener> {
  const address = parseListenAddress(options.address, "CREDBROKER_LISTEN");
  const limits = options.limits ?? defaultConnectionLimits;
  const gate = listenerGate("grpc", options);
  const server = new grpc.Server({
    interceptors: [countCalls(gate)],
    "grpc.max_receive_message_length": options.maxRequestBytes,
    // answers are not capped: a full ListSecrets page can pass 1 MiB
    "grpc.max_send_message_length": -1,
    "grpc.max_concurrent_streams": limits.maxConcurrentStreams,
    "grpc.max_connection_idle_ms": limits.idleTimeoutMs,
  });
  for (const registration of options.services) {
    addConnectService(server, registration, options.interceptors);
  }
  for (const registration of options.systemServices ?? []) {
    addPlainService(server, registration);
  }
  const tls = options.tls;
  // Node's default minimum, TLS 1.2, applies: grpc-js builds its context with tls.createSecureContext
  const credentials =
    tls === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(tls.clientCa ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.clientCa !== undefined);
  const injector = server.createConnectionInjector(credentials);
  const listening = net.createServer((socket) => {
    socket.once("error", () => socket.destroy());
    if (gate.admit(socket)) {
      injector.injectConnection(socket);
    }
  });
  try {
    await listenOn(listening, address, options.socketAccess);
  } catch (error) {
    server.forceShutdown();
    throw error;
  }
  const stopClampingTimeouts = clampHttp2GrpcTimeouts();
  const bound = address.kind === "unix" ? address : { ...address, port: (listening.address() as AddressInfo).port };
  return {
    address: formatListenAddress(bound),
    close: async (graceMs) => {
      listening.close();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      stopClampingTimeouts();
      if (address.kind === "unix") {
        await removeSocketFile(address.path);
      }
    },
  };
}
