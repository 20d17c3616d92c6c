import * as net from "node:net";
import type { AddressInfo } from "node:net";
import type { Interceptor, ServiceImplSpec } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { formatListenAddress, parseListenAddress } from "../../config/listen-address.ts";
import type { ConnectionGate } from "../connection-gate.ts";
import { defaultConnectionLimits } from "../connection-limits.ts";
import { clampHttp2GrpcTimeouts } from "../deadline-headers.ts";
import { rejectExpiredDeadline } from "../expired-deadline.ts";
import { listenerGate, type Listener, type ServiceListenerOptions } from "../service-listener.ts";
import { listenOn, removeSocketFile } from "../unix-socket.ts";
import { bytesMethodDefinition } from "./method-definition.ts";
import { createSystemHandler } from "./system-handler.ts";
import { createUnaryHandler } from "./unary-handler.ts";

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
    "grpc.max_receive_message_length": options.maxRequestBytes,
    // answers are not capped: a full ListSecrets page can pass 1 MiB
    "grpc.max_send_message_length": -1,
    "grpc.max_concurrent_streams": limits.maxConcurrentStreams,
    "grpc.max_connection_idle_ms": limits.idleTimeoutMs,
    // channelz (counters and a Date.now() per message, per call and per session) is served by nothing here
    "grpc.enable_channelz": 0,
  });
  // innermost, as on the HTTP listener: a refused expired call is authenticated, logged and audited
  const interceptors = [...options.interceptors, rejectExpiredDeadline];
  const tls = options.tls;
  for (const spec of options.services) {
    addApiService(server, spec, interceptors, gate, tls !== undefined);
  }
  for (const spec of options.systemServices ?? []) {
    addSystemService(server, spec, gate, tls !== undefined);
  }
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

/** An API service: unary methods only, each through the interceptors. */
function addApiService(
  server: grpc.Server,
  { service, methods }: ServiceImplSpec,
  interceptors: readonly Interceptor[],
  gate: ConnectionGate,
  tls: boolean,
): void {
  const definition: Record<string, grpc.MethodDefinition<Buffer, Uint8Array>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const spec of Object.values(methods)) {
    if (spec.kind !== "unary") {
      throw new Error(`${service.typeName}/${spec.method.name}: only unary methods are served through the interceptors`);
    }
    definition[spec.method.name] = bytesMethodDefinition(spec.method);
    handlers[spec.method.name] = createUnaryHandler(spec, interceptors, gate, tls);
  }
  server.addService(definition, handlers);
}

/** A service for probes and tools, every kind of method, without the interceptors. */
function addSystemService(server: grpc.Server, { methods }: ServiceImplSpec, gate: ConnectionGate, tls: boolean): void {
  const definition: Record<string, grpc.MethodDefinition<Buffer, Uint8Array>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const spec of Object.values(methods)) {
    definition[spec.method.name] = bytesMethodDefinition(spec.method);
    handlers[spec.method.name] = createSystemHandler(spec, gate, tls);
  }
  server.addService(definition, handlers);
}
