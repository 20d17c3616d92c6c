import type { InjectResponse } from "../gen/credbroker/v1/inject_service_pb.ts";
import { StepKind, type Mode } from "../gen/credbroker/v1/secret_pb.ts";

/**
 * Inject's answer for one secret version and step, deeply frozen: it is
 * handed out again and again, and a frozen message may be encoded once
 * (see the gRPC adapter).
 */
export type CachedMaterial = Readonly<InjectResponse>;

/**
 * The one cache of ready material that DESIGN.md allows: bounded (least
 * recently used out first), keyed by mode, name, step and version, and
 * dropped on every change of the secret. It spares Inject the unsealing of
 * the same record on every call.
 */
export interface MaterialCache {
  /** The material of that exact version for a resolved step, if cached. */
  get(mode: Mode, name: string, step: StepKind, version: bigint): CachedMaterial | undefined;
  /** Caches the material of a version for a resolved step. */
  set(mode: Mode, name: string, step: StepKind, entry: CachedMaterial): void;
  /** Drops every cached step of a secret. */
  drop(mode: Mode, name: string): void;
  /** How many entries are cached. */
  readonly size: number;
}

const resolvedSteps = [StepKind.HTTP, StepKind.SFTP, StepKind.CODE];

/** A cache holding up to maxEntries entries; 0 turns it off. */
export function createMaterialCache(maxEntries: number): MaterialCache {
  // a Map iterates in insertion order: re-inserting on a hit keeps the least recently used first
  const entries = new Map<string, CachedMaterial>();
  const keyOf = (mode: Mode, name: string, step: StepKind) => `${mode}/${step}/${name}`;
  return {
    get(mode, name, step, version) {
      const key = keyOf(mode, name, step);
      const entry = entries.get(key);
      if (entry === undefined || entry.secret?.version !== version) {
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
      for (const step of resolvedSteps) {
        entries.delete(keyOf(mode, name, step));
      }
    },
    get size() {
      return entries.size;
    },
  };
}
