import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";

/** The refused calls of one method, by code. */
export interface MethodRefusals {
  /** The service's full name, e.g. "credbroker.v1.SecretService". */
  readonly service: string;
  /** The method's name, e.g. "ListSecrets". */
  readonly method: string;
  /** Refusals by Connect code (slots 1-16). */
  readonly byCode: Float64Array;
}

/**
 * Calls whose audit events are of the "refused" class, by method and code,
 * kept as plain numbers and read when metrics are scraped: they keep
 * counting a flood whose events retention has removed. A refusal costs an
 * array increment.
 */
export interface RefusalCounts {
  /** Counts one refused call. */
  count(service: DescService, method: DescMethod, code: Code): void;
  /** Every method's counts, in the order first seen. */
  all(): Iterable<MethodRefusals>;
}

/** Refusal counts with a record for each method of `services` from the start, so that quiet methods show as zeros. */
export function createRefusalCounts(services: readonly DescService[]): RefusalCounts {
  const records = new Map<DescMethod, MethodRefusals>();
  const of = (service: DescService, method: DescMethod): MethodRefusals => {
    let record = records.get(method);
    if (record === undefined) {
      record = { service: service.typeName, method: method.name, byCode: new Float64Array(Code.Unauthenticated + 1) };
      records.set(method, record);
    }
    return record;
  };
  for (const service of services) {
    for (const method of service.methods) {
      of(service, method);
    }
  }
  return {
    count(service, method, code) {
      const byCode = of(service, method).byCode;
      byCode[code > 0 && code < byCode.length ? code : Code.Unknown]! += 1;
    },
    all: () => records.values(),
  };
}
