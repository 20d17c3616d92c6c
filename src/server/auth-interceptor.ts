import { createHash, timingSafeEqual } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import type { Interceptor, StreamRequest, UnaryRequest } from "@connectrpc/connect";
import { CredbrokerError } from "../errors.ts";
import { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import { CallerKind } from "../gen/credbroker/v1/audit_service_pb.ts";
import { callerKindKey } from "./call-context.ts";

/** Which token each service requires. */
export interface AuthOptions {
  /** The token of the admin services; a guarded inject service refuses it (an open one checks no token at all). */
  adminToken: string;
  /** The inject token that admits both modes; undefined when not configured. */
  injectToken: string | undefined;
  /** The inject token that admits test-mode calls only. */
  injectTokenTest?: string | undefined;
  /** The inject token that admits live-mode calls only. */
  injectTokenLive?: string | undefined;
  /** The services that require the admin token. */
  adminServices: readonly DescService[];
  /** The services that require an inject token when any is set; their requests carry a `mode`. */
  injectServices: readonly DescService[];
}

/** Bit flags of the modes a token admits. */
const admitsTest = 1;
const admitsLive = 2;

interface KnownToken {
  readonly digest: Uint8Array;
  readonly admits: number;
  /** Who presents it, for the audit log: also recorded when the token is refused by a service of another role. */
  readonly kind: CallerKind;
}

/**
 * Checks `authorization: Bearer <token>` before a call reaches its service.
 * Tokens are compared as SHA-256 digests in constant time, so neither their
 * content nor their length shows in the timing; the presented digest is
 * compared with every configured token, without stopping at a match.
 * An inject token scoped to one mode answers PERMISSION_DENIED for the other.
 * A refused caller that presented a known token (of another role or mode)
 * is recorded as that token's caller kind; an unknown token stays NONE.
 */
export function createAuthInterceptor(options: AuthOptions): Interceptor {
  const admin: KnownToken[] = [{ digest: digest(options.adminToken), admits: admitsTest | admitsLive, kind: CallerKind.ADMIN }];
  const inject: KnownToken[] = [];
  for (const [token, admits] of [
    [options.injectToken, admitsTest | admitsLive],
    [options.injectTokenTest, admitsTest],
    [options.injectTokenLive, admitsLive],
  ] as const) {
    if (token !== undefined) {
      inject.push({ digest: digest(token), admits, kind: injectKinds[admits]! });
    }
  }
  const known = [...admin, ...inject];
  const required = new Map<string, { tokens: KnownToken[]; scoped: boolean }>();
  for (const service of options.adminServices) {
    required.set(service.typeName, { tokens: admin, scoped: false });
  }
  if (inject.length > 0) {
    for (const service of options.injectServices) {
      required.set(service.typeName, { tokens: inject, scoped: true });
    }
  }
  // not async where no token is checked: an open Inject service costs no promise of its own here
  return (next) => (req) => {
    const rule = required.get(req.service.typeName);
    return rule === undefined ? next(req) : checked(next, req, rule);
  };

  async function checked(
    next: Parameters<Interceptor>[0],
    req: UnaryRequest | StreamRequest,
    rule: { tokens: KnownToken[]; scoped: boolean },
  ) {
    const presented = bearerToken(req.header.get("authorization"));
    const matched = presented === undefined ? [] : matchAll(digest(presented), known);
    const admits = matched.reduce((bits, token) => bits | (rule.tokens.includes(token) ? token.admits : 0), 0);
    if (admits === 0) {
      // for the audit log: a token of another role names who was refused; an unknown one is nobody
      req.contextValues.set(callerKindKey, matched[0]?.kind ?? CallerKind.NONE);
      throw new CredbrokerError(
        "ERR_UNAUTHENTICATED",
        presented === undefined
          ? `${req.service.name} requires "authorization: Bearer <token>"`
          : `${req.service.name}: the bearer token is not valid`,
      );
    }
    // for the audit log: which kind of token, never the token; set before the mode check, so a refusal names it too
    req.contextValues.set(callerKindKey, !rule.scoped ? CallerKind.ADMIN : (injectKinds[admits] ?? CallerKind.INJECT));
    if (rule.scoped) {
      const mode = req.stream ? undefined : (req.message as { mode?: unknown }).mode;
      const needed = mode === Mode.TEST ? admitsTest : mode === Mode.LIVE ? admitsLive : 0;
      if ((admits & needed) === 0) {
        throw new CredbrokerError(
          "ERR_PERMISSION_DENIED",
          `${req.service.name}: the bearer token does not admit ${mode === Mode.TEST ? "test" : mode === Mode.LIVE ? "live" : "this"} mode`,
        );
      }
    }
    return next(req);
  }
}

/** The caller kind of an inject token by the modes it admits. */
const injectKinds: Record<number, CallerKind> = {
  [admitsTest]: CallerKind.INJECT_TEST,
  [admitsLive]: CallerKind.INJECT_LIVE,
  [admitsTest | admitsLive]: CallerKind.INJECT,
};

/** Every token whose digest equals the presented one, each compared in constant time, without stopping at a match. */
function matchAll(presented: Uint8Array, tokens: readonly KnownToken[]): KnownToken[] {
  const matched: KnownToken[] = [];
  for (const token of tokens) {
    if (timingSafeEqual(presented, token.digest)) {
      matched.push(token);
    }
  }
  return matched;
}

function bearerToken(header: string | null): string | undefined {
  const match = header === null ? null : /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

function digest(token: string): Uint8Array {
  return createHash("sha256").update(token, "utf8").digest();
}
