import { rm } from "node:fs/promises";
import { request } from "node:https";
import type { CustomFetch } from "openid-client";
import { makePki } from "./pki.ts";

/** A private CA and a server certificate it signed for 127.0.0.1 and localhost, all PEM. */
export interface TestPki {
  ca: string;
  key: string;
  cert: string;
}

/** The server side of a throwaway PKI (makePki's), as the token servers take it. */
export async function createTestPki(): Promise<TestPki> {
  const pki = await makePki();
  try {
    return { ca: pki.ca.toString(), key: pki.serverKey.toString(), cert: pki.serverCert.toString() };
  } finally {
    await rm(pki.dir, { recursive: true, force: true });
  }
}

/**
 * A fetch for openid-client that trusts `ca` only, over node:https (the
 * global fetch takes no CA option). Network failures reject the way fetch
 * does: a TypeError("fetch failed") with the socket error as its cause.
 */
export function fetchTrusting(ca: string): CustomFetch {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const req = request(url, { method: init.method, headers: init.headers, ca, signal: init.signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", (error) => reject(error));
        res.on("end", () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
              headers.append(name, v);
            }
          }
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers }));
        });
      });
      req.on("error", (error) => {
        reject(error.name === "AbortError" && init.signal?.reason instanceof Error
          ? init.signal.reason
          : new TypeError("fetch failed", { cause: error }));
      });
      req.end(init.body === undefined || init.body === null ? undefined : String(init.body));
    });
}
