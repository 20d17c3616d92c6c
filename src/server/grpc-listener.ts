import * as grpc from "@grpc/grpc-js";
import type { Interceptor } from "@connectrpc/connect";
import { addConnectService, type ServiceRegistration } from "./grpc-adapter.ts";
import { addPlainService } from "./grpc-plain-service.ts";
import { clampHttp2GrpcTimeouts } from "./deadline-headers.ts";
import { defaultConnectionLimits, type ConnectionLimits } from "./connection-limits.ts";
import { formatListenAddress, parseListenAddress } from "./listen-address.ts";
import type { TlsMaterial } from "./transport-security.ts";
import { bindUnixSocket, removeSocketFile, type SocketAccess } from "./unix-socket.ts";

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
  /** Streams per HTTP/2 connection and idle timeout; the broker's defaults unless a test shortens them. */
  limits?: ConnectionLimits;
}

/** A running listener. */
export interface Listener {
  /** The bound address, as a client dials it. */
  readonly address: string;
  /** Stops accepting, lets in-flight calls finish for up to graceMs, then closes. */
  close(graceMs: number): Promise<void>;
}

/** Serves the services over classic gRPC with @grpc/grpc-js: the step runners' hot path. */
export async function startGrpcListener(options: ServiceListenerOptions): Promise<Listener> {
  const address = parseListenAddress(options.address, "CREDBROKER_LISTEN");
  const limits = options.limits ?? defaultConnectionLimits;
  const server = new grpc.Server({
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
  const bind = (target: string) =>
    new Promise<number>((resolve, reject) => {
      server.bindAsync(target, credentials, (error, port) => (error === null ? resolve(port) : reject(error)));
    });
  let port = 0;
  try {
    if (address.kind === "unix") {
      await bindUnixSocket(address.path, options.socketAccess ?? { group: undefined }, async (path) => {
        await bind(`unix:${path}`);
      });
    } else {
      port = await bind(formatListenAddress(address));
    }
  } catch (error) {
    server.forceShutdown();
    throw error;
  }
  const stopClampingTimeouts = clampHttp2GrpcTimeouts();
  const bound = address.kind === "unix" ? address : { ...address, port };
  return {
    address: formatListenAddress(bound),
    close: async (graceMs) => {
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
