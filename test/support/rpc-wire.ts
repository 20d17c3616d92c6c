import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";

/** One answer read whole: status, headers, body, and the HTTP/2 trailers when there were any. */
export interface WireAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  trailers: Record<string, string>;
}

/** A gRPC / gRPC-Web frame: flags, 4-byte big-endian length, data. */
export function frame(data: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(data.byteLength, 1);
  return Buffer.concat([head, data]);
}

/** The frames of a gRPC-Web body: its messages, and its trailer frame (flag 0x80) as headers. */
export function parseGrpcWebBody(body: Uint8Array): { messages: Buffer[]; trailer: Record<string, string> | undefined } {
  const bytes = Buffer.from(body);
  const messages: Buffer[] = [];
  let trailer: Record<string, string> | undefined;
  let offset = 0;
  while (offset + 5 <= bytes.length) {
    const flags = bytes[offset]!;
    const length = bytes.readUInt32BE(offset + 1);
    const data = bytes.subarray(offset + 5, offset + 5 + length);
    if ((flags & 0x80) === 0) {
      messages.push(data);
    } else {
      trailer = {};
      for (const line of data.toString("latin1").split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon > 0) {
          trailer[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
      }
    }
    offset += 5 + length;
  }
  return { messages, trailer };
}

function plain(headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).flatMap(([name, value]) =>
      value === undefined ? [] : [[name, Array.isArray(value) ? value.join(", ") : String(value)]],
    ),
  );
}

/** A POST over cleartext HTTP/2 (prior knowledge), headers sent as given, read to the end. */
export async function http2Post(address: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<WireAnswer> {
  const session = http2.connect(`http://${address}`);
  session.on("error", () => {});
  try {
    return await new Promise<WireAnswer>((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ":path": path, ...headers });
      const chunks: Buffer[] = [];
      let status = 0;
      let responseHeaders: Record<string, string> = {};
      let trailers: Record<string, string> = {};
      stream.on("response", (received) => {
        status = Number(received[":status"]);
        responseHeaders = plain(received);
      });
      stream.on("trailers", (received) => (trailers = plain(received)));
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("close", () => resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks), trailers }));
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

/** A POST over HTTP/1.1 with node:http, read to the end. */
export function http1Post(address: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<WireAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(`http://${address}${path}`, { method: "POST", headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, headers: plain(response.headers), body: Buffer.concat(chunks), trailers: plain(response.trailers) }),
      );
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end(body);
  });
}

/** A server-streaming call over HTTP/2 left open: the data chunks so far, the answer's headers, and how it ended. */
export interface OpenStream {
  readonly chunks: Buffer[];
  /** Resolves with the response headers. */
  readonly response: Promise<Record<string, string>>;
  /** Resolves with the trailers (empty when none) once the stream closes. */
  readonly ended: Promise<Record<string, string>>;
  /** Resolves once at least one data chunk has come. */
  readonly firstData: Promise<void>;
  /** Whether the stream has closed. */
  isClosed(): boolean;
  /** Cancels the call and closes the connection. */
  cancel(): void;
}

/** Opens a POST over cleartext HTTP/2 and keeps reading. */
export function http2Open(address: string, path: string, headers: Record<string, string>, body: Uint8Array): OpenStream {
  const session = http2.connect(`http://${address}`);
  session.on("error", () => {});
  const stream = session.request({ ":method": "POST", ":path": path, ...headers });
  stream.on("error", () => {});
  const chunks: Buffer[] = [];
  let closed = false;
  const response = new Promise<Record<string, string>>((resolve) => stream.on("response", (received) => resolve(plain(received))));
  const firstData = new Promise<void>((resolve) =>
    stream.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      resolve();
    }),
  );
  let trailers: Record<string, string> = {};
  stream.on("trailers", (received) => (trailers = plain(received)));
  const ended = new Promise<Record<string, string>>((resolve) =>
    stream.on("close", () => {
      closed = true;
      session.close();
      resolve(trailers);
    }),
  );
  stream.end(body);
  return {
    chunks,
    response,
    ended,
    firstData,
    isClosed: () => closed,
    cancel() {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      session.close();
    },
  };
}

/** A POST as an HTTP/1.0 client (or proxy) sends it, on a raw socket: no keep-alive, read until the server closes. */
export function http10Post(address: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<WireAnswer> {
  const colon = address.lastIndexOf(":");
  const head = [`POST ${path} HTTP/1.0`, `host: ${address}`, `content-length: ${body.byteLength}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) }, () =>
      socket.write(Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`, "latin1"), body])),
    );
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const bytes = Buffer.concat(chunks);
      const end = bytes.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = bytes.subarray(0, end).toString("latin1").split("\r\n");
      const responseHeaders: Record<string, string> = {};
      for (const line of lines) {
        const at = line.indexOf(":");
        responseHeaders[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers: responseHeaders, body: bytes.subarray(end + 4), trailers: {} });
    });
  });
}
