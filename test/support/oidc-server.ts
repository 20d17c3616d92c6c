import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import Provider, { errors } from "oidc-provider";
import type { ClientAuthMethod, ClientMetadata, JWK } from "oidc-provider";

/** What the token endpoint received and answered, without any secret or token. */
export interface TokenRequestRecord {
  /** Milliseconds since the epoch when the request arrived. */
  arrivedAt: number;
  /** The client that authenticated (from the Authorization header or the body). */
  clientId: string | undefined;
  /** How the client authenticated: Authorization header, secret in the body, or a client assertion (private_key_jwt). */
  clientAuth: "basic" | "post" | "assertion" | "none";
  /** Request parameters except client_secret. */
  params: Record<string, string>;
  status: number;
  /** The granted scope as the response stated it. */
  grantedScope: string | undefined;
  error: string | undefined;
  /** The access token issued, so a test can tell whose token a caller got. */
  accessToken: string | undefined;
  /** The token type issued (`Bearer`, `DPoP`). */
  tokenType: string | undefined;
  /** Whether the request carried a DPoP proof. */
  dpopProof: boolean;
}

/** How to start a token server. */
export interface TokenServerOptions {
  clients: ClientMetadata[];
  /** Scopes the provider knows (undeclared ones are silently dropped). */
  scopes?: string[];
  /** ttl.ClientCredentials, the `expires_in` of issued tokens, in seconds (default 300). */
  ttlSeconds?: number;
  /** Resource indicators the provider accepts, with the scopes each allows; their tokens are JWTs with `aud` = the indicator. */
  resources?: Record<string, string>;
  /**
   * The client auth methods the server accepts at all. oidc-provider lets
   * any secret-based client use either client_secret_basic or _post, its
   * registered `token_endpoint_auth_method` notwithstanding; only this global
   * list makes a server refuse one of them.
   */
  clientAuthMethods?: ClientAuthMethod[];
  /** Serve https with this key and certificate. */
  tls?: { key: string; cert: string };
  /** DPoP (RFC 9449): off (tokens stay bearer whatever the client sends), on (the default), or on with server nonces required. */
  dpop?: "off" | "on" | "nonce";
}

/** A running oidc-provider with a client-credentials token endpoint. */
export interface TokenServer {
  /** The token endpoint URL. */
  tokenUrl: string;
  /** The introspection endpoint URL (RFC 7662); any client with a secret may call it. */
  introspectionUrl: string;
  /** Requests that reached the token endpoint (counted on arrival). */
  readonly arrivals: number;
  /** Completed token requests, in order. */
  readonly requests: TokenRequestRecord[];
  /** TLS handshakes that failed (https only). */
  readonly tlsFailures: number;
  /** Holds the next token request that arrives until the returned release is called: a fetch the test keeps in flight. */
  holdNext(): () => void;
  /** Closes the listener and every open connection; later requests are refused. */
  stop(): Promise<void>;
}

const signingKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }) as JWK;

/** Starts oidc-provider on 127.0.0.1, port 0, over http (or https with `tls`). */
export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server: Server = options.tls === undefined
    ? createHttpServer((req, res) => handler(req, res))
    : createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => handler(req, res));
  let tlsFailures = 0;
  server.on("tlsClientError", () => {
    tlsFailures++;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${port}`;
  const resources = options.resources ?? {};

  const provider = new Provider(issuer, {
    clients: options.clients,
    scopes: options.scopes ?? [],
    jwks: { keys: [signingKey] },
    ...(options.clientAuthMethods === undefined ? {} : { clientAuthMethods: options.clientAuthMethods }),
    cookies: { keys: ["credbroker-test-cookie-key"] },
    ttl: { ClientCredentials: options.ttlSeconds ?? 300 },
    features: {
      devInteractions: { enabled: false },
      dPoP: options.dpop === "nonce"
        ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true }
        : { enabled: options.dpop !== "off" },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, indicator) => {
          const scope = resources[indicator];
          if (scope === undefined) {
            throw new errors.InvalidTarget();
          }
          return { scope, audience: indicator, accessTokenFormat: "jwt", jwt: { sign: { alg: "RS256" } } };
        },
      },
    },
  });

  const state: { arrivals: number; holdNext: Promise<void> | undefined } = { arrivals: 0, holdNext: undefined };
  const requests: TokenRequestRecord[] = [];
  provider.use(async (ctx, next) => {
    if (ctx.path !== "/token") {
      return next();
    }
    state.arrivals++;
    const arrivedAt = Date.now();
    const held = state.holdNext;
    state.holdNext = undefined;
    await held;
    await next();
    const oidc = (ctx as { oidc?: { body?: Record<string, unknown> } }).oidc;
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(oidc?.body ?? {})) {
      if (name !== "client_secret" && typeof value === "string") {
        params[name] = value;
      }
    }
    const body = (typeof ctx.body === "object" && ctx.body !== null ? ctx.body : {}) as Record<string, unknown>;
    const authorization = ctx.get("authorization");
    const basic = authorization.toLowerCase().startsWith("basic ");
    // Only the part before ":" is kept: the client id, never the secret.
    const basicId = basic ? Buffer.from(authorization.slice(6), "base64").toString("utf8").split(":")[0] : undefined;
    requests.push({
      arrivedAt,
      // form-decoded, as RFC 6749 §2.3.1 encodes it ("+" is a space)
      clientId: basicId === undefined ? params["client_id"] : decodeURIComponent(basicId.replaceAll("+", "%20")),
      clientAuth: basic
        ? "basic"
        : oidc?.body?.["client_secret"] !== undefined ? "post" : params["client_assertion"] !== undefined ? "assertion" : "none",
      params,
      status: ctx.status,
      grantedScope: typeof body["scope"] === "string" ? body["scope"] : undefined,
      error: typeof body["error"] === "string" ? body["error"] : undefined,
      accessToken: typeof body["access_token"] === "string" ? body["access_token"] : undefined,
      tokenType: typeof body["token_type"] === "string" ? body["token_type"] : undefined,
      dpopProof: ctx.get("dpop") !== "",
    });
  });
  handler = provider.callback();

  return {
    tokenUrl: `${issuer}/token`,
    introspectionUrl: `${issuer}/token/introspection`,
    get arrivals() {
      return state.arrivals;
    },
    requests,
    get tlsFailures() {
      return tlsFailures;
    },
    holdNext() {
      const { promise, resolve } = Promise.withResolvers<void>();
      state.holdNext = promise;
      return () => resolve();
    },
    stop: () => stopServer(server),
  };
}

/** Closes a server and destroys its open (keep-alive) connections, so clients see refusals, not stale sockets. */
export function stopServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
