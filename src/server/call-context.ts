import { createContextKey } from "@connectrpc/connect";
import { CallerKind } from "../gen/credbroker/v1/audit_service_pb.ts";

/** Who is at the other end of a call, as the listener saw the connection. */
export interface Peer {
  /** `host:port`, or the socket path of a unix-socket listener. */
  readonly address: string;
  /** The subject of the client's TLS certificate; "" without one. */
  readonly tlsSubject: string;
}

/** The call's request id, set by the log interceptor. */
export const requestIdKey = createContextKey<string>("", { description: "request id" });

/** Which token the caller presented, set by the auth interceptor once it admits the call. */
export const callerKindKey = createContextKey<CallerKind>(CallerKind.NONE, { description: "caller kind" });

/** The call's peer, set by the listener; read lazily, since only the audit needs it. */
export const peerKey = createContextKey<() => Peer>(() => unknownPeer, { description: "peer" });

const unknownPeer: Peer = { address: "", tlsSubject: "" };

/**
 * The call's deadline in epoch milliseconds (Infinity: none), set by a
 * listener whose abort signal is made only when asked for (grpc-js);
 * undefined on the HTTP listener, whose request signal says it.
 */
export const deadlineKey = createContextKey<number | undefined>(undefined, { description: "deadline" });

/** The subject of a peer certificate as `CN=a,O=b`; "" when there is none. */
export function formatSubject(subject: Record<string, string | string[]> | undefined): string {
  if (subject === undefined) {
    return "";
  }
  return Object.entries(subject)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join("+") : value}`)
    .join(",");
}

/** The peer of a grpc-js call: its address and, over TLS, the client certificate's subject. */
export function grpcPeer(call: { getPeer(): string; getAuthContext(): { sslPeerCertificate?: { subject?: object } } }): Peer {
  const subject = call.getAuthContext().sslPeerCertificate?.subject as Record<string, string | string[]> | undefined;
  return { address: call.getPeer(), tlsSubject: formatSubject(subject) };
}

/** The peer of a Node.js HTTP request: its socket's address and, over TLS, the client certificate's subject. */
export function nodePeer(socket: {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  getPeerCertificate?: () => { subject?: object } | null;
}): Peer {
  const address =
    socket.remoteAddress === undefined
      ? ""
      : socket.remoteAddress.includes(":")
        ? `[${socket.remoteAddress}]:${socket.remotePort ?? 0}`
        : `${socket.remoteAddress}:${socket.remotePort ?? 0}`;
  const subject = socket.getPeerCertificate?.()?.subject as Record<string, string | string[]> | undefined;
  return { address, tlsSubject: formatSubject(subject) };
}
