import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CustomFetch } from "openid-client";

/** A private CA and a server certificate it signed for 127.0.0.1 and localhost, all PEM. */
export interface TestPki {
  ca: string;
  key: string;
  cert: string;
}

/** Generates a throwaway CA and server certificate with openssl (the machine has no other X.509 issuer). */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "credbroker-pki-"));
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { stdio: "pipe" });
  };
  try {
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", file("ca.key"), "-out", file("ca.crt"), "-days", "2", "-subj", "/CN=credbroker test CA",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=127.0.0.1");
    writeFileSync(file("ext.cnf"), [
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
    ].join("\n"));
    openssl("x509", "-req", "-in", file("server.csr"), "-CA", file("ca.crt"), "-CAkey", file("ca.key"),
      "-CAcreateserial", "-out", file("server.crt"), "-days", "2", "-extfile", file("ext.cnf"));
    return {
      ca: readFileSync(file("ca.crt"), "utf8"),
      key: readFileSync(file("server.key"), "utf8"),
      cert: readFileSync(file("server.crt"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
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
