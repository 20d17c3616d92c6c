import { createHash, timingSafeEqual } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { CredbrokerError } from "../errors.ts";

/** Which token each service requires. */
export interface AuthOptions {
  /** The token of the admin services. */
  adminToken: string;
  /** The token Inject requires; undefined leaves Inject open to local callers. */
  injectToken: string | undefined;
  /** The services that require the admin token. */
  adminServices: readonly DescService[];
  /** The services that require the inject token, when one is set. */
  injectServices: readonly DescService[];
}

/**
 * Checks `authorization: Bearer <token>` before a call reaches its service.
 * Tokens are compared as SHA-256 digests in constant time, so neither their
 * content nor their length shows in the timing.
 */
export function createAuthInterceptor(options: AuthOptions): Interceptor {
  const required = new Map<string, Uint8Array | undefined>();
  for (const service of options.adminServices) {
    required.set(service.typeName, digest(options.adminToken));
  }
  for (const service of options.injectServices) {
    required.set(service.typeName, options.injectToken === undefined ? undefined : digest(options.injectToken));
  }
  return (next) => async (req) => {
    const expected = required.get(req.service.typeName);
    if (expected !== undefined) {
      const presented = bearerToken(req.header.get("authorization"));
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
        throw new CredbrokerError(
          "ERR_UNAUTHENTICATED",
          presented === undefined
            ? `${req.service.name} requires "authorization: Bearer <token>"`
            : `${req.service.name}: the bearer token is not valid`,
        );
      }
    }
    return next(req);
  };
}

function bearerToken(header: string | null): string | undefined {
  const match = header === null ? null : /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

function digest(token: string): Uint8Array {
  return createHash("sha256").update(token, "utf8").digest();
}
