import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** AuditEvent's `secrets` (AuditSecret) and AuditSecret's `name` field numbers (audit_service.proto). */
const secretsField = 5;
const nameField = 1;

/**
 * The secret names an encoded AuditEvent names, read by walking its fields
 * and skipping the rest undecoded: the fleet keeps them in a column of their
 * own, so that ListAuditEvents can filter by name without decoding events.
 */
export function eventNames(bytes: Uint8Array): string[] {
  const names: string[] = [];
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === secretsField && wireType === WireType.LengthDelimited) {
      const secret = new BinaryReader(reader.bytes());
      while (secret.pos < secret.len) {
        const [inner, innerType] = secret.tag();
        if (inner === nameField && innerType === WireType.LengthDelimited) {
          names.push(secret.string());
        } else {
          secret.skip(innerType, inner);
        }
      }
    } else {
      reader.skip(wireType, field);
    }
  }
  return names;
}
