import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { createAsyncIterable, readAllBytes } from "@connectrpc/connect/protocol";

/**
 * connect-node answers a binary request body that does not decode with
 * INTERNAL ("parse binary: ..."), before any interceptor runs, in all three
 * protocols; a body that does not decode is bad input, as it is on the gRPC
 * listener (INVALID_ARGUMENT). Connect: only error responses (HTTP 500) are
 * looked at; gRPC: the trailer; gRPC-Web: the trailer frame, the frames
 * before it passing on as they come (a health Watch streams).
 */
export function answerUndecodableAsInvalidArgument(handler: UniversalHandler): UniversalHandler {
  const message = `cannot decode ${handler.method.input.typeName}`;
  const wrapped = async (req: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> => {
    const res = await handler(req);
    const body = res.body;
    if (body === undefined || !(Symbol.asyncIterator in body)) {
      return res;
    }
    const contentType = new Headers(res.header).get("content-type") ?? "";
    if (contentType.startsWith("application/grpc-web")) {
      return { ...res, body: rewriteGrpcWebTrailer(body, message) };
    }
    if (contentType.startsWith("application/grpc")) {
      const trailer = res.trailer;
      if (!(trailer instanceof Headers)) {
        return res;
      }
      async function* thenFixTrailer() {
        yield* body as AsyncIterable<Uint8Array>;
        if (isParseFailure(trailer as Headers)) {
          (trailer as Headers).set("grpc-status", "3");
          (trailer as Headers).set("grpc-message", encodeURIComponent(message));
        }
      }
      return { ...res, body: thenFixTrailer() };
    }
    if (res.status !== 500) {
      return res;
    }
    const bytes = await readAllBytes(body, Number.MAX_SAFE_INTEGER);
    let error: { code?: unknown; message?: unknown } | undefined;
    try {
      error = JSON.parse(new TextDecoder().decode(bytes)) as typeof error;
    } catch {
      error = undefined;
    }
    if (error?.code !== "internal" || typeof error.message !== "string" || !error.message.startsWith("parse binary:")) {
      return { ...res, body: createAsyncIterable([bytes]) };
    }
    const replaced = new TextEncoder().encode(JSON.stringify({ code: "invalid_argument", message }));
    const header = new Headers(res.header);
    header.set("content-length", String(replaced.byteLength));
    return { ...res, status: 400, header, body: createAsyncIterable([replaced]) };
  };
  return Object.assign(wrapped, handler);
}

function isParseFailure(trailer: Headers): boolean {
  return trailer.get("grpc-status") === "13" && decodeURIComponent(trailer.get("grpc-message") ?? "").startsWith("parse binary:");
}

/**
 * The gRPC-Web body with its trailer frame (flag 0x80) rewritten when it
 * reports a parse failure; each write's complete frames go on at once, and
 * only a frame cut across writes waits for its rest.
 */
async function* rewriteGrpcWebTrailer(body: AsyncIterable<Uint8Array>, message: string): AsyncIterable<Uint8Array> {
  let pending: Uint8Array = new Uint8Array(0);
  for await (const chunk of body) {
    pending = pending.length === 0 ? chunk : Uint8Array.from(Buffer.concat([pending, chunk]));
    const { frames, rest } = rewriteCompleteFrames(pending, message);
    if (frames.byteLength > 0) {
      yield frames;
    }
    pending = rest;
  }
  if (pending.length > 0) {
    yield pending;
  }
}

function rewriteCompleteFrames(bytes: Uint8Array, message: string): { frames: Uint8Array; rest: Uint8Array } {
  const frames: Uint8Array[] = [];
  let offset = 0;
  while (offset + 5 <= bytes.length) {
    const flags = bytes[offset]!;
    const length = new DataView(bytes.buffer, bytes.byteOffset + offset + 1, 4).getUint32(0);
    if (offset + 5 + length > bytes.length) {
      break;
    }
    const data = bytes.subarray(offset + 5, offset + 5 + length);
    if ((flags & 0x80) !== 0) {
      const trailer = new Headers();
      for (const line of new TextDecoder().decode(data).split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon > 0) {
          trailer.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
        }
      }
      if (isParseFailure(trailer)) {
        const text = new TextEncoder().encode(`grpc-status: 3\r\ngrpc-message: ${encodeURIComponent(message)}\r\n`);
        const head = new Uint8Array(5);
        head[0] = flags;
        new DataView(head.buffer).setUint32(1, text.byteLength);
        frames.push(head, text);
        offset += 5 + length;
        continue;
      }
    }
    frames.push(bytes.subarray(offset, offset + 5 + length));
    offset += 5 + length;
  }
  return { frames: Uint8Array.from(Buffer.concat(frames)), rest: bytes.subarray(offset) };
}
