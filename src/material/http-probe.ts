import { create } from "@bufbuild/protobuf";
import type { HttpHeader } from "../gen/credbroker/v1/inject_service_pb.ts";
import { HttpTestResultSchema, type HttpTestResult } from "../gen/credbroker/v1/secret_service_pb.ts";
import { networkFailure, type ProbeOutcome } from "./probe-outcome.ts";

/**
 * Sends one GET to `url` with a static secret's headers and reports the
 * status code alone. Redirects are not followed: fetch would carry a
 * custom API key header to wherever the redirect points. The body is
 * never read, so nothing the server answers reaches the caller.
 */
export async function probeHttp(headers: readonly HttpHeader[], url: string, timeoutMs: number): Promise<ProbeOutcome<HttpTestResult>> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "GET",
      headers: headers.map((header): [string, string] => [header.name, header.value]),
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return { ok: false, summary: `no response: ${networkFailure(error, timeoutMs)}`, result: create(HttpTestResultSchema, { sent: true }) };
  }
  await response.body?.cancel().catch(() => undefined);
  const status = response.status;
  const ok = status >= 200 && status < 300;
  const note = status >= 300 && status < 400 ? " (a redirect, not followed)" : status === 401 ? " (credentials not accepted)" : "";
  return { ok, summary: `HTTP ${status}${note}`, result: create(HttpTestResultSchema, { sent: true, status }) };
}
