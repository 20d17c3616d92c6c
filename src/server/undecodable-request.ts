import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { createAsyncIterable, readAllBytes } from "@connectrpc/connect/protocol";

/**
 * connect-node answers a binary Connect request body that does not decode
 * with INTERNAL ("parse binary: ..."), before any interceptor runs; a body
 * that does not decode is bad input, as it is on the gRPC listener
 * (INVALID_ARGUMENT). Only error responses (HTTP 500) are looked at.
 */
export function answerUndecodableAsInvalidArgument(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (req: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> => {
    const res = await handler(req);
    if (res.status !== 500 || res.body === undefined || !(Symbol.asyncIterator in res.body)) {
      return res;
    }
    const bytes = await readAllBytes(res.body, Number.MAX_SAFE_INTEGER);
    let error: { code?: unknown; message?: unknown } | undefined;
    try {
      error = JSON.parse(new TextDecoder().decode(bytes)) as typeof error;
    } catch {
      error = undefined;
    }
    if (error?.code !== "internal" || typeof error.message !== "string" || !error.message.startsWith("parse binary:")) {
      return { ...res, body: createAsyncIterable([bytes]) };
    }
    const body = new TextEncoder().encode(
      JSON.stringify({ code: "invalid_argument", message: `cannot decode ${handler.method.input.typeName}` }),
    );
    const header = new Headers(res.header);
    header.set("content-length", String(body.byteLength));
    return { ...res, status: 400, header, body: createAsyncIterable([body]) };
  };
  return Object.assign(wrapped, handler);
}
