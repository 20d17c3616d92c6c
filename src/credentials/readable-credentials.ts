import { create, type DescMessage } from "@bufbuild/protobuf";
import { CredentialsSchema, type Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import { credentialTypeOfCase } from "./credential-registry.ts";

/**
 * The credentials with only the fields the registry does not mark
 * sensitive (`debug_redact`): what an admin answer may show. Fields are
 * copied by the registry's list, never by omission, so a field added to
 * the proto shows only once the registry knows it is not a credential.
 */
export function readableCredentials(credentials: Credentials): Credentials {
  const kind = credentials.kind;
  if (kind.case === undefined) {
    return create(CredentialsSchema);
  }
  const type = credentialTypeOfCase(kind.case);
  // a message's fields are its properties by their local names
  const values = kind.value as unknown as Readonly<Record<string, unknown>>;
  const plain: Record<string, unknown> = {};
  for (const field of type.fields) {
    if (!field.sensitive) {
      const value = values[field.name];
      plain[field.name] = Array.isArray(value) ? [...(value as string[])] : value;
    }
  }
  const value = create(type.message as DescMessage, plain);
  return create(CredentialsSchema, { kind: { case: kind.case, value } as never });
}
