import type { Mode, Secret, SecretType } from "../gen/credbroker/v1/secret_pb.ts";

/** A time as a record keeps it: a protobuf Timestamp's seconds and nanos. */
export interface BoundTime {
  readonly seconds: bigint;
  readonly nanos: number;
}

/** What a sealed payload is bound to: its record's metadata; moving it to another record breaks it. */
export interface RecordBinding {
  readonly mode: Mode;
  readonly name: string;
  readonly type: SecretType;
  readonly version: bigint;
  /** 0 for a record stored before generations. */
  readonly generation: bigint;
  readonly description: string;
  /** 0 seconds and 0 nanos for a record without one. */
  readonly createTime: BoundTime;
  readonly updateTime: BoundTime;
}

/**
 * The binding of a record's payload: its metadata as stored. Every seal,
 * open and rewrap takes its binding from here, so that no caller binds less
 * than the others.
 */
export function bindingOf(secret: Secret): RecordBinding {
  return {
    mode: secret.mode,
    name: secret.name,
    type: secret.type,
    version: secret.version,
    generation: secret.generation,
    description: secret.description,
    createTime: timeOf(secret.createTime),
    updateTime: timeOf(secret.updateTime),
  };
}

function timeOf(time: BoundTime | undefined): BoundTime {
  return { seconds: time?.seconds ?? 0n, nanos: time?.nanos ?? 0 };
}
