import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { stopServer } from "./oidc-server.ts";

/**
 * A plain HTTP server standing in for a misbehaving token endpoint (5xx,
 * 429, malformed bodies, no expires_in, a hang), which oidc-provider
 * rightly never produces.
 */
export interface FakeEndpoint {
  url: string;
  /** Requests received so far. */
  readonly requests: number;
  stop(): Promise<void>;
}

/** Answers request number `n` (1-based), whose body was `body`; leave `res` alone to hang. */
export type FakeHandler = (n: number, req: IncomingMessage, res: ServerResponse, body: string) => void;

/** Starts a fake endpoint on 127.0.0.1, port 0. */
export async function startFakeEndpoint(handle: FakeHandler): Promise<FakeEndpoint> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const n = requests;
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handle(n, req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/token`,
    get requests() {
      return requests;
    },
    stop: () => stopServer(server),
  };
}

/** Sends `body` as JSON with `status`. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** A loopback URL whose port was just free and is now closed: connections are refused. */
export async function closedPortUrl(): Promise<string> {
  const endpoint = await startFakeEndpoint(() => {});
  await endpoint.stop();
  return endpoint.url;
}
