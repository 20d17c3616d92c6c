import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";

/** The text mode of gRPC-Web, the official grpc-web JavaScript client's default; connect-node answers it 415. */
const textContentType = /^application\/grpc-web-text(?:\+proto)?$/i;

/** One base64 quantum: four symbols, or two or three and their padding. */
const quanta = /^(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)*$/;

/**
 * A method handler of connect-node that also serves
 * `application/grpc-web-text`: the request body is base64 of gRPC-Web
 * frames, and the answer is base64 of the frames the binary handler writes,
 * trailer frame included, each write encoded on its own (padded chunks, as
 * the protocol allows, so a stream's messages are not held back). Any other
 * request passes through as it is.
 */
export function serveGrpcWebText(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    if (!textContentType.test(req.header.get("content-type") ?? "") || !isByteStream(req.body)) {
      return handler(req);
    }
    const header = new Headers(req.header);
    header.set("content-type", "application/grpc-web+proto");
    const res = await handler({ ...req, header, body: decodeBase64Chunks(req.body) });
    const resHeader = new Headers(res.header);
    if (res.body === undefined || !(resHeader.get("content-type") ?? "").startsWith("application/grpc-web")) {
      return res;
    }
    resHeader.set("content-type", "application/grpc-web-text+proto");
    resHeader.delete("content-length");
    return { ...res, header: resHeader, body: encodeBase64Chunks(res.body) };
  };
  return Object.assign(wrapped, handler);
}

function isByteStream(body: UniversalServerRequest["body"]): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

/**
 * Decodes a base64 body as it arrives: a concatenation of padded base64
 * chunks (the client may flush at any point), cut at quantum boundaries, so
 * no more than three symbols wait for the next read. The decoded bytes go
 * on to connect-node, whose request cap (readMaxBytes) counts them.
 */
async function* decodeBase64Chunks(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let pending = "";
  for await (const chunk of body) {
    pending += Buffer.from(chunk).toString("latin1");
    const whole = pending.length - (pending.length % 4);
    if (whole > 0) {
      yield decodeQuanta(pending.slice(0, whole));
      pending = pending.slice(whole);
    }
  }
  if (pending.length > 0) {
    throw invalidBase64();
  }
}

function decodeQuanta(text: string): Uint8Array {
  if (!quanta.test(text)) {
    throw invalidBase64();
  }
  // Buffer stops at the first padding, so each padded chunk is decoded on its own
  const chunks = text.match(/[^=]+=*|=+/g) ?? [];
  return Buffer.concat(chunks.map((chunk) => Buffer.from(chunk, "base64")));
}

function invalidBase64(): ConnectError {
  return new ConnectError("request body is not valid base64 (application/grpc-web-text)", Code.InvalidArgument);
}

async function* encodeBase64Chunks(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    yield Buffer.from(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("base64"), "latin1");
  }
}
