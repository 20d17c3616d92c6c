import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { createAsyncIterable, readAllBytes } from "@connectrpc/connect/protocol";
import { codeFromString, codeToHttpStatus, errorToJson } from "@connectrpc/connect/protocol-connect";
import { CredbrokerError } from "../errors.ts";
import { ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.ts";
import { toConnectError } from "./connect-error.ts";
import { statusDetailsBytes, statusDetailsKey } from "./status-details.ts";

/**
 * The error answers that connect-node makes itself, before any interceptor
 * runs (a body that does not decode, one over the size cap, a bad content
 * type) and those of the services that run without interceptors (health,
 * reflection), given what every error of the broker carries: the details
 * of toConnectError, google.rpc.ErrorInfo at least. A binary body that does
 * not decode, which connect-node answers INTERNAL ("parse binary: ..."), is
 * bad input, as on the gRPC listener: INVALID_ARGUMENT, ERR_UNDECODABLE.
 * Connect: the unary error body; gRPC: the trailer; gRPC-Web: the trailer
 * frame, the frames before it passing on as they come (a health Watch
 * streams). An answer whose error has details already passes as it is.
 */
export function answerProtocolErrorsWithDetails(handler: UniversalHandler): UniversalHandler {
  const undecodable = `cannot decode ${handler.method.input.typeName}`;
  const complete = (code: Code, message: string): ConnectError =>
    code === Code.Internal && message.startsWith("parse binary:")
      ? toConnectError(new CredbrokerError("ERR_UNDECODABLE", undecodable))
      : toConnectError(new ConnectError(withoutInput(message), code));
  const wrapped = async (req: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> => {
    const res = await handler(req);
    const body = res.body;
    if (body === undefined || !(Symbol.asyncIterator in body)) {
      return res;
    }
    const contentType = (res.header instanceof Headers ? res.header : new Headers(res.header)).get("content-type") ?? "";
    if (contentType.startsWith("application/grpc-web")) {
      return { ...res, body: rewriteGrpcWebTrailer(body, complete) };
    }
    if (contentType.startsWith("application/grpc")) {
      const trailer = res.trailer;
      if (!(trailer instanceof Headers)) {
        return res;
      }
      async function* thenCompleteTrailer() {
        yield* body as AsyncIterable<Uint8Array>;
        completeTrailer(trailer as Headers, complete);
      }
      return { ...res, body: thenCompleteTrailer() };
    }
    if (res.status === 200 || !contentType.startsWith("application/json")) {
      return res;
    }
    const bytes = await readAllBytes(body, Number.MAX_SAFE_INTEGER);
    const fixed = completeConnectError(bytes, complete);
    if (fixed === undefined) {
      return { ...res, body: createAsyncIterable([bytes]) };
    }
    const replaced = new TextEncoder().encode(JSON.stringify(errorToJson(fixed, undefined)));
    const header = new Headers(res.header);
    header.set("content-length", String(replaced.byteLength));
    return { ...res, status: codeToHttpStatus(fixed.code), header, body: createAsyncIterable([replaced]) };
  };
  return Object.assign(wrapped, handler);
}

type Complete = (code: Code, message: string) => ConnectError;

/**
 * protobuf-es's JSON decode errors quote the input that failed (`expected
 * string, got 987654321`, `"sekrit"`, `key "..." is unknown`, and V8's
 * `Unexpected token ... "{"token": sekrit-can"...`), which may be a
 * credential sent with the wrong JSON type or quoting: the answer keeps what
 * failed to decode and drops the quote.
 */
function withoutInput(message: string): string {
  const decode = /^cannot decode (?:field|enum|message) [\w.]+ from JSON/.exec(message);
  return decode === null ? message : `${decode[0]}: the value is not valid here (not quoted: it may be a credential)`;
}

/** The Connect error JSON with its details completed, or undefined when it needs nothing (or is no error JSON). */
function completeConnectError(bytes: Uint8Array, complete: Complete): ConnectError | undefined {
  let error: { code?: unknown; message?: unknown; details?: unknown } | undefined;
  try {
    error = JSON.parse(new TextDecoder().decode(bytes)) as typeof error;
  } catch {
    return undefined;
  }
  const code = typeof error?.code === "string" ? codeFromString(error.code) : undefined;
  if (code === undefined || hasErrorInfo(error?.details)) {
    return undefined;
  }
  return complete(code, typeof error?.message === "string" ? error.message : "");
}

function hasErrorInfo(details: unknown): boolean {
  return Array.isArray(details) && details.some((detail) => (detail as { type?: unknown } | null)?.type === ErrorInfoSchema.typeName);
}

/** A gRPC error trailer without grpc-status-details-bin, completed in place; whether it was. */
function completeTrailer(trailer: Headers, complete: Complete): boolean {
  const status = trailer.get("grpc-status");
  if (status === null || status === "0" || trailer.has(statusDetailsKey)) {
    return false;
  }
  const code = Number(status);
  if (!(code in Code)) {
    return false;
  }
  const error = complete(code as Code, decodeURIComponent(trailer.get("grpc-message") ?? ""));
  trailer.set("grpc-status", String(error.code));
  trailer.set("grpc-message", encodeURIComponent(error.rawMessage));
  // unpadded base64, as connect-node writes its own binary headers
  trailer.set(statusDetailsKey, Buffer.from(statusDetailsBytes(error)).toString("base64").replace(/=+$/, ""));
  return true;
}

/**
 * The gRPC-Web body with its trailer frame (flag 0x80) completed; each
 * write's complete frames go on at once, and only a frame cut across
 * writes waits for its rest.
 */
async function* rewriteGrpcWebTrailer(body: AsyncIterable<Uint8Array>, complete: Complete): AsyncIterable<Uint8Array> {
  let pending: Uint8Array = new Uint8Array(0);
  for await (const chunk of body) {
    pending = pending.length === 0 ? chunk : Uint8Array.from(Buffer.concat([pending, chunk]));
    const { frames, rest } = rewriteCompleteFrames(pending, complete);
    if (frames.byteLength > 0) {
      yield frames;
    }
    pending = rest;
  }
  if (pending.length > 0) {
    yield pending;
  }
}

function rewriteCompleteFrames(bytes: Uint8Array, complete: Complete): { frames: Uint8Array; rest: Uint8Array } {
  const frames: Uint8Array[] = [];
  let offset = 0;
  while (offset + 5 <= bytes.length) {
    const flags = bytes[offset]!;
    const length = new DataView(bytes.buffer, bytes.byteOffset + offset + 1, 4).getUint32(0);
    if (offset + 5 + length > bytes.length) {
      break;
    }
    const frame = bytes.subarray(offset, offset + 5 + length);
    offset += 5 + length;
    if ((flags & 0x80) === 0) {
      frames.push(frame);
      continue;
    }
    const trailer = new Headers();
    for (const line of new TextDecoder().decode(frame.subarray(5)).split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        trailer.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
    }
    if (!completeTrailer(trailer, complete)) {
      frames.push(frame);
      continue;
    }
    let text = "";
    trailer.forEach((value, key) => (text += `${key}: ${value}\r\n`));
    const encoded = new TextEncoder().encode(text);
    const head = new Uint8Array(5);
    head[0] = flags;
    new DataView(head.buffer).setUint32(1, encoded.byteLength);
    frames.push(head, encoded);
  }
  return { frames: Uint8Array.from(Buffer.concat(frames)), rest: bytes.subarray(offset) };
}
