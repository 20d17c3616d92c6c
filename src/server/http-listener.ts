import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { createContextValues } from "@connectrpc/connect";
import { createBrowserGuard } from "./browser-guard.ts";
import { nodePeer, peerKey } from "./call-context.ts";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { listenerGate, type Listener, type ServiceListenerOptions } from "./service-listener.ts";
import { defaultConnectionLimits, firstCallTimeoutMs } from "./connection-limits.ts";
import { connectionKey } from "./connection-gate.ts";
import { answerProtocolErrorsWithDetails } from "./protocol-errors.ts";
import { clampRequestDeadlines } from "./deadline-headers.ts";
import { rejectExpiredDeadline } from "./expired-deadline.ts";
import { answerNoStore } from "./no-store.ts";
import { serveGrpcWebText } from "./grpc-web-text.ts";
import { formatListenAddress, parseListenAddress } from "../config/listen-address.ts";
import { listenOn, removeSocketFile } from "./unix-socket.ts";
import { isUiPath, type UiHandler } from "./ui-handler.ts";
import { guardRequests, type RequestGuardLogger } from "./request-guard.ts";

const http2Preface = Buffer.from("PRI * HTTP/2.0");

/** Options of the HTTP listener: the service listener's, and the admin page. */
export interface HttpListenerOptions extends ServiceListenerOptions {
  /**
   * Answers `/ui` and everything under `/ui/` (the admin page, see
   * createUiHandler); undefined turns the page off, and /ui then answers
   * like any path that is no method: 404.
   */
  ui?: UiHandler | undefined;
  /** Told of malformed requests and of handlers that failed; undefined: nobody is. */
  logger?: RequestGuardLogger | undefined;
}

/**
 * Serves the Connect protocol, gRPC-Web and gRPC through connect-node, over
 * HTTP/1.1 and cleartext HTTP/2 on one port: Node's cleartext HTTP/2 server
 * ignores allowHTTP1, so a net.Server reads the first bytes of each
 * connection and hands it to the HTTP/2 or the HTTP/1.1 server. With TLS,
 * a tls.Server offers both by ALPN and hands each secure socket to the
 * server of the protocol the client chose.
 */
export async function startHttpListener(options: HttpListenerOptions): Promise<Listener> {
  const address = parseListenAddress(options.address, "CREDBROKER_HTTP_LISTEN");
  const connect = connectNodeAdapter({
    routes(router) {
      for (const { methods } of options.services) {
        for (const { method, impl } of Object.values(methods)) {
          router.rpc(method, impl);
        }
      }
      for (const { methods } of options.systemServices ?? []) {
        for (const { method, impl } of Object.values(methods)) {
          // probes and tools carry no token, and a probe every few seconds is no request worth a log line
          router.rpc(method, impl, { interceptors: [] });
        }
      }
      router.handlers.splice(0, router.handlers.length, ...router.handlers.map((handler) => serveGrpcWebText(answerNoStore(clampRequestDeadlines(answerProtocolErrorsWithDetails(handler))))));
    },
    // innermost, so that the refusals are authenticated, logged and audited like any answer
    interceptors: [
      ...options.interceptors,
      createBrowserGuard({ loopbackHostOnly: address.kind === "tcp" && options.tls === undefined }),
      rejectExpiredDeadline,
    ],
    readMaxBytes: options.maxRequestBytes,
    contextValues: (req) => createContextValues().set(peerKey, () => nodePeer(req.socket)),
  });
  const ui = options.ui;
  const handler: typeof connect = guardRequests(
    ui === undefined ? connect : (req, res) => (isUiPath(req.url) ? ui(req, res) : connect(req, res)),
    { listener: "http", logger: options.logger },
  );
  const limits = options.limits ?? defaultConnectionLimits;
  const gate = listenerGate("http", options);
  const h1 = http.createServer(
    {
      // a request's headers take no longer than a first request may: slow senders do not hold a connection for long
      headersTimeout: limits.firstCallTimeoutMs ?? firstCallTimeoutMs,
      requestTimeout: 30_000,
      keepAliveTimeout: limits.idleTimeoutMs,
      // how often Node checks those two; its default, 30 s, would triple them
      connectionsCheckingInterval: 1000,
    },
    handler,
  );
  // every request and stream is a call in flight on its connection, which the gate then never closes
  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const key = connectionKey(req.socket);
    gate.callStarted(key);
    res.once("close", () => gate.callEnded(key));
  });
  let closing = false;
  // a call still running at close (a health Watch) leaves an HTTP/1.1 keep-alive connection: close it once idle
  h1.on("request", (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.once("finish", () => {
      if (closing) {
        setImmediate(() => h1.closeIdleConnections());
      }
    });
  });
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: limits.maxConcurrentStreams } }, handler);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("stream", (stream) => {
    const key = connectionKey(stream.session?.socket ?? {});
    gate.callStarted(key);
    stream.once("close", () => gate.callEnded(key));
  });
  h2.on("session", (session) => {
    sessions.add(session);
    // no frame for idleTimeoutMs: GOAWAY, calls still running finish
    session.setTimeout(limits.idleTimeoutMs, () => session.close());
    session.once("close", () => sessions.delete(session));
  });
  const acceptCleartext = (socket: net.Socket) => {
    if (!gate.admit(socket)) {
      return;
    }
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("error", () => socket.destroy());
    // a connection that never sends its first bytes is idle too
    const onIdle = () => socket.destroy();
    socket.setTimeout(limits.idleTimeoutMs);
    socket.once("timeout", onIdle);
    socket.once("readable", () => {
      socket.setTimeout(0);
      socket.off("timeout", onIdle);
      const head: Buffer | null = socket.read(Math.min(socket.readableLength, http2Preface.length));
      if (head === null) {
        socket.destroy();
        return;
      }
      socket.unshift(head);
      const isHttp2 = head.equals(http2Preface.subarray(0, head.length));
      (isHttp2 ? h2 : h1).emit("connection", socket);
    });
  };
  const tls = options.tls;
  const acceptSecure = (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("error", () => socket.destroy());
    // a client that offered no ALPN (alpnProtocol false) speaks HTTP/1.1
    (socket.alpnProtocol === "h2" ? h2 : h1).emit("connection", socket);
  };
  const server: net.Server =
    tls === undefined
      ? net.createServer(acceptCleartext)
      : createTlsServer(
          {
            cert: tls.cert,
            key: tls.key,
            minVersion: "TLSv1.2",
            ALPNProtocols: ["h2", "http/1.1"],
            ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }),
          },
          acceptSecure,
        );
  if (tls !== undefined) {
    // the TCP connection, before its handshake: one that never completes it is a silent connection too
    server.on("connection", (socket: net.Socket) => gate.admit(socket));
  }
  await listenOn(server, address, options.socketAccess);
  // the HTTP/1.1 server never listens itself; 'listening' starts its connection
  // tracking, which requestTimeout and closeIdleConnections() rely on
  h1.emit("listening");
  const bound =
    address.kind === "unix" ? address : { ...address, port: (server.address() as AddressInfo).port };
  return {
    address: formatListenAddress(bound),
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) {
        session.close();
      }
      closing = true;
      h1.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const socket of sockets) {
          socket.destroy();
        }
      }, graceMs);
      await closed;
      clearTimeout(timer);
      if (address.kind === "unix") {
        await removeSocketFile(address.path);
      }
    },
  };
}
