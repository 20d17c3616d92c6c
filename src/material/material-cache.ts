import type { InjectResponse } from "../gen/credbroker/v1/inject_service_pb.ts";
import { StepKind, type Mode } from "../gen/credbroker/v1/secret_pb.ts";
import type { AccessToken } from "../oauth/token-cache-api.ts";

/** Inject's ready answer for one secret version and requested step. */
export interface CachedMaterial {
  /** The answer, deeply frozen: it is handed out again and again. */
  readonly response: Readonly<InjectResponse>;
  /**
   * The answer's protobuf encoding, made once, which the gRPC listener sends
   * as it is; undefined when every Inject's answer differs from the cached
   * one (a DPoP-bound token's carries a fresh proof each time).
   */
  readonly encoded?: Uint8Array | undefined;
  /** The version it was built from. */
  readonly version: bigint;
  /** For OAuth2 material, the token it carries: the answer is good while the token cache still serves it. */
  readonly token?: AccessToken;
}

/**
 * The one cache of ready material that DESIGN.md allows: bounded (least
 * recently used out first), keyed by mode, name and requested step, each
 * entry bound to the version it was built from (the caller checks that it is
 * still the stored one), and dropped on every change of the secret. It
 * spares Inject the reading, unsealing and encoding of the same record on
 * every call.
 */
export interface MaterialCache {
  /** The cached material for a requested step, of whatever version it was built from. */
  get(mode: Mode, name: string, step: StepKind): CachedMaterial | undefined;
  /** Caches material for a requested step. */
  set(mode: Mode, name: string, step: StepKind, entry: CachedMaterial): void;
  /** Drops every cached step of a secret. */
  drop(mode: Mode, name: string): void;
  /** How many entries are cached. */
  readonly size: number;
}

const steps = [StepKind.UNSPECIFIED, StepKind.HTTP, StepKind.SFTP, StepKind.CODE];

/** A cache holding up to maxEntries entries; 0 turns it off. */
export function createMaterialCache(maxEntries: number): MaterialCache {
  // a Map iterates in insertion order: re-inserting on a hit keeps the least recently used first
  const entries = new Map<string, CachedMaterial>();
  const keyOf = (mode: Mode, name: string, step: StepKind) => `${mode}/${step}/${name}`;
  return {
    get(mode, name, step) {
      const key = keyOf(mode, name, step);
      const entry = entries.get(key);
      if (entry === undefined) {
        return undefined;
      }
      entries.delete(key);
      entries.set(key, entry);
      return entry;
    },
    set(mode, name, step, entry) {
      if (maxEntries <= 0) {
        return;
      }
      const key = keyOf(mode, name, step);
      entries.delete(key);
      entries.set(key, entry);
      if (entries.size > maxEntries) {
        entries.delete(entries.keys().next().value as string);
      }
    },
    drop(mode, name) {
      for (const step of steps) {
        entries.delete(keyOf(mode, name, step));
      }
    },
    get size() {
      return entries.size;
    },
  };
}
