import type { grpcPeer } from "../call-context.ts";
import type { ConnectionGate } from "../connection-gate.ts";

/** What a grpc-js call says of its peer. */
export type PeerSurface = Parameters<typeof grpcPeer>[0];

const noAuthContext: ReturnType<PeerSurface["getAuthContext"]> = Object.freeze({});

/**
 * One call counted on its connection for the gate, from the handler: a
 * grpc-js server interceptor would wrap every call in a ServerInterceptingCall
 * and two closures to learn the same. `peer` is grpc-js's `getPeer()`, read
 * once per call and shared with the audit's peer; a unix socket's is
 * "unknown", which no connection has. On a listener without TLS the auth
 * context is known to be empty, and grpc-js is not asked for it (a socket
 * type check per call). release() is idempotent.
 */
export class CountedCall {
  readonly peer: string;
  private readonly call: PeerSurface;
  private readonly tls: boolean;
  private gate: ConnectionGate | undefined;

  constructor(gate: ConnectionGate, call: PeerSurface, tls: boolean) {
    this.peer = call.getPeer();
    this.call = call;
    this.tls = tls;
    this.gate = gate;
    gate.callStarted(this.peer);
  }

  /** The peer as read at the call's start (grpcPeer reads it through this). */
  getPeer(): string {
    return this.peer;
  }

  getAuthContext(): ReturnType<PeerSurface["getAuthContext"]> {
    return this.tls ? this.call.getAuthContext() : noAuthContext;
  }

  /** The call ended (answered, failed or cancelled). */
  release(): void {
    this.gate?.callEnded(this.peer);
    this.gate = undefined;
  }
}
