import * as net from "node:net";
import * as tls from "node:tls";

/** What came back on a raw connection: the bytes, and the status of the first response when there is one. */
export interface RawAnswer {
  text: string;
  /** The status code of the first response line; undefined when the connection closed without one. */
  status: number | undefined;
}

/** Where to dial: `host:port`, and over TLS the CA that signed the listener's certificate. */
export interface RawTarget {
  address: string;
  ca?: Buffer | undefined;
}

/**
 * Writes `request` as it is (no client in the way to fix or refuse it) on a
 * fresh connection and reads until the server closes it or `waitMs`
 * passes; requests should ask for `connection: close`.
 */
export function rawExchange(target: RawTarget, request: string | Buffer, waitMs = 5000): Promise<RawAnswer> {
  const colon = target.address.lastIndexOf(":");
  const host = target.address.slice(0, colon);
  const port = Number(target.address.slice(colon + 1));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket =
      target.ca === undefined
        ? net.connect({ host, port }, () => socket.write(request))
        : tls.connect({ host, port, ca: target.ca, ALPNProtocols: ["http/1.1"] }, () => socket.write(request));
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const status = /^HTTP\/1\.[01] (\d{3}) /.exec(text)?.[1];
      resolve({ text, status: status === undefined ? undefined : Number(status) });
    });
  });
}
