import { clone, create, createFileRegistry, type DescMessage } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  file_google_protobuf_timestamp,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { file_credbroker_v1_secret } from "../../src/gen/credbroker/v1/secret_pb.ts";

/**
 * Credentials of a copy of secret.proto that grew what the tables do not
 * know yet: a field `otp` in BasicAuth and a case `kerberos` (of BasicAuth
 * values), as a proto change missed in some table would look.
 */
export function extendedCredentials(): DescMessage {
  const proto = clone(FileDescriptorProtoSchema, file_credbroker_v1_secret.proto);
  const message = (name: string) => proto.messageType.find((m) => m.name === name)!;
  message("BasicAuth").field.push(
    create(FieldDescriptorProtoSchema, {
      name: "otp",
      number: 3,
      jsonName: "otp",
      type: FieldDescriptorProto_Type.STRING,
      label: FieldDescriptorProto_Label.OPTIONAL,
    }),
  );
  const kerberos = clone(FieldDescriptorProtoSchema, message("Credentials").field[0]!);
  Object.assign(kerberos, { name: "kerberos", jsonName: "kerberos", number: 8 });
  message("Credentials").field.push(kerberos);
  const registry = createFileRegistry(proto, (name) => (name === "google/protobuf/timestamp.proto" ? file_google_protobuf_timestamp : undefined));
  return registry.getMessage("credbroker.v1.Credentials")!;
}
