import { toBinary, type DescEnum, type DescFile, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/**
 * The proto files behind a set of served services, as server reflection
 * shows them: the services' own files and their imports, nothing else, so
 * the internal storage schema stays out of sight.
 */
export interface DescriptorIndex {
  /** The fully-qualified names of the served services. */
  readonly serviceNames: readonly string[];
  /** The file of that name (e.g. "credbroker/v1/secret.proto"). */
  fileByName(name: string): DescFile | undefined;
  /** The file that defines a service, method, message, field, enum or extension of that fully-qualified name. */
  fileContainingSymbol(symbol: string): DescFile | undefined;
  /** Whether a message of that fully-qualified name is known. */
  hasMessage(typeName: string): boolean;
  /** The file followed by every file it imports, directly or not, each once. */
  withDependencies(file: DescFile): DescFile[];
  /** The serialized FileDescriptorProto of a file. */
  encode(file: DescFile): Uint8Array;
}

/** Indexes the files of the given services and everything they import. */
export function createDescriptorIndex(services: readonly DescService[]): DescriptorIndex {
  const files = new Map<string, DescFile>();
  const symbols = new Map<string, DescFile>();
  const messages = new Set<string>();
  const encodings = new Map<DescFile, Uint8Array>();

  const addEnum = (described: DescEnum) => {
    symbols.set(described.typeName, described.file);
    // enum values are scoped beside their enum, as in C++: credbroker.v1.MODE_TEST
    const scope = described.typeName.slice(0, described.typeName.lastIndexOf(".") + 1);
    for (const value of described.values) {
      symbols.set(`${scope}${value.name}`, described.file);
    }
  };
  const addMessage = (message: DescMessage) => {
    symbols.set(message.typeName, message.file);
    messages.add(message.typeName);
    for (const field of message.fields) {
      symbols.set(`${message.typeName}.${field.name}`, message.file);
    }
    for (const oneof of message.oneofs) {
      symbols.set(`${message.typeName}.${oneof.name}`, message.file);
    }
    message.nestedMessages.forEach(addMessage);
    message.nestedEnums.forEach(addEnum);
    for (const extension of message.nestedExtensions) {
      symbols.set(extension.typeName, message.file);
    }
  };
  const addFile = (file: DescFile) => {
    if (files.has(file.proto.name)) {
      return;
    }
    files.set(file.proto.name, file);
    for (const service of file.services) {
      symbols.set(service.typeName, file);
      for (const method of service.methods) {
        symbols.set(`${service.typeName}.${method.name}`, file);
      }
    }
    file.messages.forEach(addMessage);
    file.enums.forEach(addEnum);
    for (const extension of file.extensions) {
      symbols.set(extension.typeName, file);
    }
    file.dependencies.forEach(addFile);
  };
  for (const service of services) {
    addFile(service.file);
  }

  return {
    serviceNames: services.map((service) => service.typeName),
    fileByName: (name) => files.get(name),
    fileContainingSymbol: (symbol) => symbols.get(symbol.startsWith(".") ? symbol.slice(1) : symbol),
    hasMessage: (typeName) => messages.has(typeName),
    withDependencies(file) {
      const seen = new Set<DescFile>();
      const visit = (next: DescFile) => {
        if (!seen.has(next)) {
          seen.add(next);
          next.dependencies.forEach(visit);
        }
      };
      visit(file);
      return [...seen];
    },
    encode(file) {
      let bytes = encodings.get(file);
      if (bytes === undefined) {
        bytes = toBinary(FileDescriptorProtoSchema, file.proto);
        encodings.set(file, bytes);
      }
      return bytes;
    },
  };
}
