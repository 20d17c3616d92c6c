/** RFC 4251 wire encoding, as OpenSSH's `openssh-key-v1` private keys (PROTOCOL.key) use it. */

/** The magic that opens an `openssh-key-v1` key's body. */
export const OPENSSH_MAGIC = "openssh-key-v1\0";

/** Reads a uint32-length-prefixed string at the cursor and moves past it; undefined when it overruns the buffer. */
export function readSshString(buffer: Buffer, cursor: { pos: number }): Buffer | undefined {
  if (cursor.pos + 4 > buffer.length) return undefined;
  const length = buffer.readUInt32BE(cursor.pos);
  const start = cursor.pos + 4;
  if (length > buffer.length - start) return undefined;
  cursor.pos = start + length;
  return buffer.subarray(start, start + length);
}

/** A string as SSH writes it: its length as a uint32, then its bytes. */
export function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value, "latin1") : value;
  return Buffer.concat([uint32(bytes.length), bytes]);
}

/** A big-endian uint32. */
export function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}
