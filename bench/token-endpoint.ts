import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** A loopback OAuth2 token endpoint that counts requests; tokens last an hour, DPoP-typed when the request carries a proof (its proof is not checked). */
export async function startTokenEndpoint(): Promise<{ url: string; requests(): number; close(): Promise<void> }> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      const tokenType = req.headers["dpop"] === undefined ? "Bearer" : "DPoP";
      res.end(JSON.stringify({ access_token: `bench-token-${requests}`, token_type: tokenType, expires_in: 3600 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
    requests: () => requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
