import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createClient, createHandlerContext, createRouterTransport, type Client, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { createInjectService } from "../../src/api/inject-service.ts";
import { createSecretService } from "../../src/api/secret-service.ts";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { createMaterialCache } from "../../src/material/material-cache.ts";
import { createTokenCache } from "../../src/oauth/token-cache.ts";
import { createTokenFetcher } from "../../src/oauth/token-fetch.ts";
import { createKeyring } from "../../src/keys/keyring.ts";
import { createSealer, type Sealer } from "../../src/seal/sealer.ts";
import { createLogInterceptor } from "../../src/server/log-interceptor.ts";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import type { SecretStore } from "../../src/store/secret-store.ts";

/** The services over a real LMDB store in a temp dir: the ServiceImpls to call directly, and clients through a router transport. */
export interface TestServices {
  readonly dataDir: string;
  readonly store: SecretStore;
  readonly sealer: Sealer;
  readonly secrets: ReturnType<typeof createSecretService>;
  readonly inject: ReturnType<typeof createInjectService>;
  /** A client of `secrets` through createRouterTransport (see routerClient). */
  readonly secretsClient: Client<typeof SecretService>;
  /** The same for `inject`. */
  readonly injectClient: Client<typeof InjectService>;
  close(): Promise<void>;
}

export async function createTestServices({ materialCacheSize = 100 } = {}): Promise<TestServices> {
  const dataDir = await mkdtemp(join(tmpdir(), "credbroker-svc-"));
  const store = openLmdbStore({ path: join(dataDir, "credbroker.mdb") });
  const sealer = createSealer(createKeyring(new Uint8Array(randomBytes(32)), new Date()).keyring);
  const secrets = createSecretService({ store, sealer, oauthTimeoutMs: 2000 });
  const materialCache = createMaterialCache(materialCacheSize);
  store.onChange((change) => materialCache.drop(change.mode, change.name));
  const tokenCache = createTokenCache({ fetchToken: createTokenFetcher({ timeoutMs: 2000 }), maxEntries: 100, defaultTtlMs: 300_000 });
  store.onChange((change) => tokenCache.invalidate(change.mode, change.name));
  const inject = createInjectService({ store, sealer, materialCache, tokenCache });
  return {
    dataDir,
    store,
    sealer,
    secrets,
    inject,
    secretsClient: routerClient(SecretService, secrets),
    injectClient: routerClient(InjectService, inject),
    async close() {
      tokenCache.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A HandlerContext for calling a ServiceImpl method directly. */
export function handlerContext(service: DescService = SecretService, method?: DescMethod): HandlerContext {
  const m = method ?? service.methods[0]!;
  return createHandlerContext({
    service,
    method: m,
    protocolName: "test",
    requestMethod: "POST",
    url: `/${service.typeName}/${m.name}`,
  });
}

export { InjectService, SecretService };

/**
 * A client of `impl` through createRouterTransport: requests and answers are
 * encoded as on the wire, and the broker's log interceptor (silent) maps
 * errors as a listener does, so a domain error arrives as a ConnectError
 * whose ErrorInfo reason is its code.
 */
export function routerClient<S extends DescService>(service: S, impl: ServiceImpl<S>): Client<S> {
  const interceptors = [createLogInterceptor(pino({ level: "silent" }))];
  return createClient(service, createRouterTransport((router) => router.service(service, impl), { router: { interceptors } }));
}
