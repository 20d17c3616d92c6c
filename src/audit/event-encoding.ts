import type { CallerKind } from "../gen/credbroker/v1/audit_service_pb.ts";
import type { Mode } from "../gen/credbroker/v1/secret_pb.ts";

/** The fields of an audit event as the interceptor knows them: plain values, no message objects. */
export interface AuditEventFields {
  readonly time: { readonly seconds: bigint; readonly nanos: number };
  readonly method: string;
  readonly mode: Mode;
  readonly secrets: readonly { readonly name: string; readonly version: bigint }[];
  readonly code: string;
  readonly caller: { readonly kind: CallerKind; readonly peerAddress: string; readonly tlsSubject: string };
  readonly requestId: string;
  /** A dry run (DeploySecrets validate_only) that wrote nothing. */
  readonly validateOnly?: boolean | undefined;
}

/** The fields every event of this process carries: the sidecar that served it. */
export interface AuditEventOrigin {
  readonly instanceId: string;
}

/**
 * The protobuf bytes of `credbroker.v1.AuditEvent` for these fields and this
 * sequence, byte for byte what `toBinary` writes (test/audit/event-encoding
 * checks it, and checks the schema's fields against the ones written here),
 * after `reserve` leading bytes left for the caller's header. Written by hand
 * because the reflective encoder costs ~18 µs an event, more than all the
 * rest of an Inject's audit.
 */
export function encodeAuditEvent(fields: AuditEventFields, sequence: number, reserve: number, origin: AuditEventOrigin = noOrigin): Buffer {
  const { time, caller } = fields;
  const timeSize = varintFieldSize(time.seconds) + varintFieldSize(time.nanos);
  const secretSizes = fields.secrets.map(({ name, version }) => stringFieldSize(name) + varintFieldSize(version));
  const callerSize = varintFieldSize(caller.kind) + stringFieldSize(caller.peerAddress) + stringFieldSize(caller.tlsSubject);
  let size = varintFieldSize(sequence) + messageFieldSize(timeSize) + stringFieldSize(fields.method) + varintFieldSize(fields.mode);
  for (const secretSize of secretSizes) {
    size += messageFieldSize(secretSize);
  }
  const validateOnly = fields.validateOnly === true ? 1 : 0;
  size += stringFieldSize(fields.code) + messageFieldSize(callerSize) + stringFieldSize(fields.requestId) + varintFieldSize(validateOnly);
  size += stringFieldSize(origin.instanceId);

  const out = { buffer: Buffer.allocUnsafe(reserve + size), at: reserve };
  varintField(out, 1, sequence);
  messageHeader(out, 2, timeSize);
  varintField(out, 1, time.seconds);
  varintField(out, 2, time.nanos);
  stringField(out, 3, fields.method);
  varintField(out, 4, fields.mode);
  for (let i = 0; i < fields.secrets.length; i++) {
    const { name, version } = fields.secrets[i]!;
    messageHeader(out, 5, secretSizes[i]!);
    stringField(out, 1, name);
    varintField(out, 2, version);
  }
  stringField(out, 6, fields.code);
  messageHeader(out, 7, callerSize);
  varintField(out, 1, caller.kind);
  stringField(out, 2, caller.peerAddress);
  stringField(out, 3, caller.tlsSubject);
  stringField(out, 8, fields.requestId);
  varintField(out, 9, validateOnly);
  stringField(out, 10, origin.instanceId);
  return out.buffer;
}

const noOrigin: AuditEventOrigin = { instanceId: "" };

interface Output {
  readonly buffer: Buffer;
  at: number;
}

const wireVarint = 0;
const wireLengthDelimited = 2;
const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);

/** A varint's value as a number when exact, else as the unsigned 64-bit bigint protobuf writes (negatives take 10 bytes). */
function unsigned(value: number | bigint): number | bigint {
  if (typeof value === "number") {
    return value >= 0 ? value : BigInt.asUintN(64, BigInt(value));
  }
  return value >= 0n && value <= maxSafe ? Number(value) : BigInt.asUintN(64, value);
}

function varintSize(value: number | bigint): number {
  let size = 1;
  if (typeof value === "number") {
    for (let rest = value; rest >= 128; rest = Math.floor(rest / 128)) {
      size++;
    }
  } else {
    for (let rest = value; rest >= 128n; rest >>= 7n) {
      size++;
    }
  }
  return size;
}

/** Proto3 leaves zero scalars and empty strings out. */
function varintFieldSize(value: number | bigint): number {
  return value === 0 || value === 0n ? 0 : 1 + varintSize(unsigned(value));
}

/** UTF-8 length; a plain loop for ASCII, which every name, method, code and request id is (Buffer's calls cost more). */
function utf8Length(value: string): number {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) >= 0x80) {
      return Buffer.byteLength(value, "utf8");
    }
  }
  return value.length;
}

function stringFieldSize(value: string): number {
  const length = utf8Length(value);
  return length === 0 ? 0 : 1 + varintSize(length) + length;
}

/** A set message field is written even when empty. */
function messageFieldSize(contentSize: number): number {
  return 1 + varintSize(contentSize) + contentSize;
}

function writeVarint(out: Output, value: number | bigint): void {
  if (typeof value === "number") {
    let rest = value;
    while (rest >= 128) {
      out.buffer[out.at++] = (rest % 128) | 128;
      rest = Math.floor(rest / 128);
    }
    out.buffer[out.at++] = rest;
  } else {
    let rest = value;
    while (rest >= 128n) {
      out.buffer[out.at++] = Number(rest & 127n) | 128;
      rest >>= 7n;
    }
    out.buffer[out.at++] = Number(rest);
  }
}

function varintField(out: Output, field: number, value: number | bigint): void {
  if (value !== 0 && value !== 0n) {
    out.buffer[out.at++] = (field << 3) | wireVarint;
    writeVarint(out, unsigned(value));
  }
}

function stringField(out: Output, field: number, value: string): void {
  if (value === "") {
    return;
  }
  out.buffer[out.at++] = (field << 3) | wireLengthDelimited;
  const length = utf8Length(value);
  writeVarint(out, length);
  if (length !== value.length) {
    out.at += out.buffer.write(value, out.at, "utf8");
    return;
  }
  const { buffer, at } = out;
  for (let i = 0; i < length; i++) {
    buffer[at + i] = value.charCodeAt(i);
  }
  out.at = at + length;
}

function messageHeader(out: Output, field: number, contentSize: number): void {
  out.buffer[out.at++] = (field << 3) | wireLengthDelimited;
  writeVarint(out, contentSize);
}
