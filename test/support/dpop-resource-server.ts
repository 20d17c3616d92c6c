import { createHash, createPublicKey, verify } from "node:crypto";
import type { JsonWebKey } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { stopServer } from "./oidc-server.ts";

/** A resource server that takes DPoP-bound tokens only (RFC 9449 §7), checked as strictly as the RFC asks. */
export interface DpopResourceServer {
  /** Its base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** Why each refused request was refused, in order (reasons, never tokens or proofs). */
  readonly refusals: string[];
  /** Requests accepted. */
  readonly accepted: number;
  stop(): Promise<void>;
}

/** How the server learns what a token is bound to: the authorization server's introspection. */
export interface Introspection {
  url: string;
  clientId: string;
  clientSecret: string;
}

const b64uJson = (part: string | undefined) => JSON.parse(Buffer.from(part ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("base64url");

/** The RFC 7638 thumbprint of a public EC or OKP JWK. */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members = jwk["kty"] === "EC" ? { crv: jwk["crv"], kty: "EC", x: jwk["x"], y: jwk["y"] } : { crv: jwk["crv"], kty: jwk["kty"], x: jwk["x"] };
  return sha256(JSON.stringify(members));
}

/** Starts the server on 127.0.0.1, port 0: 200 for a valid, unreplayed proof of a token bound to its key, else 401. */
export async function startDpopResourceServer(introspection: Introspection): Promise<DpopResourceServer> {
  const seenJti = new Set<string>();
  const refusals: string[] = [];
  const state = { accepted: 0 };
  let base = "";

  async function problemOf(req: IncomingMessage): Promise<string | undefined> {
    const authorization = req.headers.authorization ?? "";
    const proof = req.headers["dpop"];
    if (!authorization.startsWith("DPoP ")) return "authorization scheme is not DPoP";
    if (typeof proof !== "string") return "no single DPoP header";
    const token = authorization.slice(5);
    const [h, p, s] = proof.split(".");
    const header = b64uJson(h);
    const payload = b64uJson(p);
    if (header["typ"] !== "dpop+jwt") return "typ is not dpop+jwt";
    const jwk = header["jwk"] as Record<string, unknown> | undefined;
    if (jwk === undefined || "d" in jwk) return "no public jwk header";
    const key = createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
    const input = Buffer.from(`${h}.${p}`, "utf8");
    const signature = Buffer.from(s ?? "", "base64url");
    const valid = header["alg"] === "ES256"
      ? verify("sha256", input, { key, dsaEncoding: "ieee-p1363" }, signature)
      : header["alg"] === "EdDSA" && verify(null, input, key, signature);
    if (!valid) return "bad proof signature";
    if (payload["htm"] !== req.method) return "htm does not match";
    if (payload["htu"] !== `${base}${new URL(req.url ?? "/", base).pathname}`) return "htu does not match";
    if (Math.abs(Number(payload["iat"]) - Date.now() / 1000) > 60) return "iat out of window";
    if (payload["ath"] !== sha256(token)) return "ath does not match the token";
    const jti = payload["jti"];
    if (typeof jti !== "string" || seenJti.has(jti)) return "jti replayed";
    seenJti.add(jti);
    const answer = await fetch(introspection.url, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${introspection.clientId}:${introspection.clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ token }),
    });
    const info = (await answer.json()) as { active?: boolean; cnf?: { jkt?: string } };
    if (info.active !== true) return "token not active";
    if (info.cnf?.jkt !== jwkThumbprint(jwk)) return "token not bound to the proof's key";
    return undefined;
  }

  const server = createServer((req, res) => {
    req.resume();
    problemOf(req).then(
      (problem) => {
        if (problem === undefined) {
          state.accepted++;
          res.writeHead(200, { "content-type": "text/plain" }).end("ok");
        } else {
          refusals.push(problem);
          res.writeHead(401, { "www-authenticate": `DPoP error="invalid_dpop_proof"` }).end(problem);
        }
      },
      () => {
        refusals.push("malformed request");
        res.writeHead(400).end("malformed request");
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    refusals,
    get accepted() {
      return state.accepted;
    },
    stop: () => stopServer(server),
  };
}
