import { connect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { AuditService } from "../gen/credbroker/v1/audit_service_pb.ts";
import { InjectService } from "../gen/credbroker/v1/inject_service_pb.ts";
import { KeyService } from "../gen/credbroker/v1/key_service_pb.ts";
import { Health } from "../gen/health/v1/health_pb.ts";
import { StatusService } from "../gen/credbroker/v1/status_service_pb.ts";
import { SecretService } from "../gen/credbroker/v1/secret_service_pb.ts";

/** Options of createCredbrokerClient. */
export interface CredbrokerClientOptions {
  /** The broker's address: `host:port`, `[v6]:port` or `unix:/path`. */
  addr: string;
  /** The bearer token sent to SecretService (the broker's admin token); sent to InjectService too unless `injectToken` is given. */
  token?: string | undefined;
  /** The bearer token sent to InjectService, when the broker requires one other than `token`. */
  injectToken?: string | undefined;
  /**
   * The protocol: "grpc" (the default) for the gRPC listener, "connect" for
   * the Connect protocol on the HTTP listener. Both run over HTTP/2:
   * cleartext, or TLS when `tls` is set.
   */
  protocol?: "grpc" | "connect" | undefined;
  /** The deadline of every call, in milliseconds, unless a call sets its own (default 30 s). */
  timeoutMs?: number | undefined;
  /**
   * Speak TLS to a broker whose listeners have a certificate
   * (CREDBROKER_TLS_CERT_FILE): the CA to trust (`ca`), and a client
   * certificate (`cert`, `key`) when the broker asks for one (mTLS). Node's
   * TLS options, as http2.connect takes them; unset means cleartext.
   */
  tls?: ClientTlsOptions | undefined;
}

/** TLS options of a client connection: the part of Node's tls.connect options that a broker client needs. */
export interface ClientTlsOptions {
  /** PEM certificates of the CAs to trust, instead of Node's default roots. */
  ca?: string | string[] | undefined;
  /** A PEM client certificate (chain), for a broker that requires one. */
  cert?: string | undefined;
  /** The PEM private key of `cert`. */
  key?: string | undefined;
  /** The name to verify the broker's certificate against, when it is not the host dialled. */
  servername?: string | undefined;
  /** Accept a certificate in `ca` as a trust anchor even when it is not a self-signed root (a pinned leaf). */
  allowPartialTrustChain?: boolean | undefined;
  /** Replaces the check of the certificate's name; returns an Error to refuse the certificate. */
  checkServerIdentity?: ((hostname: string, cert: { fingerprint256: string }) => Error | undefined) | undefined;
}

/** Typed clients of the broker's services over one HTTP/2 connection. */
export interface CredbrokerClient {
  /** The admin service: create, get, list, update, delete and deploy secrets. */
  readonly secrets: Client<typeof SecretService>;
  /** The keyring: rotate keys and see what each still wraps (admin token). */
  readonly keys: Client<typeof KeyService>;
  /** The step runners' service: ready-to-use auth material. */
  readonly inject: Client<typeof InjectService>;
  /** The audit log: one event per admin call and Inject (admin token). */
  readonly audit: Client<typeof AuditService>;
  /** grpc.health.v1.Health, which needs no token. */
  readonly health: Client<typeof Health>;
  /** Standalone or fleet, and the replica's state; no token. */
  readonly status: Client<typeof StatusService>;
  /** Closes the connection; an open HTTP/2 connection otherwise keeps the process alive. */
  close(): void;
}

/** A broker address as a client dials it. */
export type BrokerEndpoint = { kind: "tcp"; baseUrl: string } | { kind: "unix"; path: string };

/** Parses `host:port`, `[v6]:port` or `unix:/path` (also `unix:///path`). */
export function parseBrokerAddress(addr: string): BrokerEndpoint {
  if (addr.startsWith("unix:")) {
    const path = addr.slice("unix:".length).replace(/^\/\/(?=\/)/, "");
    if (!path.startsWith("/")) {
      throw new TypeError(`broker address "${addr}": a unix socket path must be absolute, like unix:/run/credbroker.sock`);
    }
    return { kind: "unix", path };
  }
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]\s]+):(\d{1,5})$/.exec(addr);
  if (match === null || Number(match[2]) > 65535) {
    throw new TypeError(`broker address "${addr}": expected host:port, [v6]:port or unix:/path`);
  }
  return { kind: "tcp", baseUrl: `http://${match[1]}:${match[2]}` };
}

/**
 * Creates typed Connect clients of SecretService, InjectService and Health for a
 * broker at `addr`, sending `authorization: Bearer <token>` on every call.
 */
export function createCredbrokerClient(options: CredbrokerClientOptions): CredbrokerClient {
  const endpoint = parseBrokerAddress(options.addr);
  const tls = options.tls;
  const cleartextUrl = endpoint.kind === "tcp" ? endpoint.baseUrl : "http://localhost";
  const baseUrl = tls === undefined ? cleartextUrl : cleartextUrl.replace(/^http:/, "https:");
  // a unix socket carries the same HTTP/2 connection (and TLS handshake) as TCP would
  const unixConnection =
    endpoint.kind !== "unix"
      ? {}
      : tls === undefined
        ? { createConnection: () => connect(endpoint.path) }
        : { createConnection: () => tlsConnect({ path: endpoint.path, ALPNProtocols: ["h2"], ...tls }) };
  const sessionManager = new Http2SessionManager(baseUrl, { connectTimeoutMs: 10_000 }, { ...tls, ...unixConnection });
  const transportOptions = {
    baseUrl,
    httpVersion: "2" as const,
    sessionManager,
    defaultTimeoutMs: options.timeoutMs ?? 30_000,
    interceptors: [bearerTokens(options.token, options.injectToken ?? options.token)],
  };
  const transport: Transport =
    options.protocol === "connect" ? createConnectTransport(transportOptions) : createGrpcTransport(transportOptions);
  return {
    secrets: createClient(SecretService, transport),
    inject: createClient(InjectService, transport),
    keys: createClient(KeyService, transport),
    audit: createClient(AuditService, transport),
    health: createClient(Health, transport),
    status: createClient(StatusService, transport),
    close: () => sessionManager.abort(),
  };
}

/** Sets the bearer token of the service a call goes to, if it takes one; health takes none. */
function bearerTokens(adminToken: string | undefined, injectToken: string | undefined): Interceptor {
  const tokens = new Map([
    [SecretService.typeName, adminToken],
    [KeyService.typeName, adminToken],
    [AuditService.typeName, adminToken],
    [InjectService.typeName, injectToken],
  ]);
  return (next) => (req) => {
    const token = tokens.get(req.service.typeName);
    if (token !== undefined && token !== "") {
      req.header.set("authorization", `Bearer ${token}`);
    }
    return next(req);
  };
}
