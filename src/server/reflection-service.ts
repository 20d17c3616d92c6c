import { create, fromBinary, toBinary, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, type ServiceImpl, type ServiceImplSpec } from "@connectrpc/connect";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
  ServerReflectionResponseSchema,
  type ServerReflectionRequest,
} from "../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { createDescriptorIndex, type DescriptorIndex } from "./descriptor-index.ts";
import { serviceSpec } from "./service-listener.ts";

type ReflectionAnswer = MessageInitShape<typeof ServerReflectionResponseSchema>;

/**
 * gRPC server reflection, v1 and v1alpha (grpcurl, buf curl and Postman
 * still ask either), answered from the protobuf-es descriptors of the
 * served services, plus health and reflection themselves. Only those files
 * and their imports are shown: never the internal storage schema.
 */
export function createReflectionServices(served: readonly DescService[]): ServiceImplSpec[] {
  const index = createDescriptorIndex([...served, ServerReflection, v1alpha.ServerReflection]);
  const v1Impl: ServiceImpl<typeof ServerReflection> = {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const request of requests) {
        yield answer(index, request, sent);
      }
    },
  };
  // v1alpha is v1 under another package name, field for field: its messages convert through their bytes
  const v1alphaImpl: ServiceImpl<typeof v1alpha.ServerReflection> = {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const request of requests) {
        const asV1 = fromBinary(ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, request));
        const response = create(ServerReflectionResponseSchema, answer(index, asV1, sent));
        yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(ServerReflectionResponseSchema, response));
      }
    },
  };
  return [serviceSpec(ServerReflection, v1Impl), serviceSpec(v1alpha.ServerReflection, v1alphaImpl)];
}

/**
 * One reflection answer. A file is sent with the imports that this stream
 * has not been sent yet, as grpc-go's reflection does, so a client can
 * resolve every type it names.
 */
function answer(index: DescriptorIndex, request: ServerReflectionRequest, sent: Set<string>): ReflectionAnswer {
  const base = { validHost: request.host, originalRequest: request };
  const files = (found: ReturnType<DescriptorIndex["fileByName"]>, what: string): ReflectionAnswer => {
    if (found === undefined) {
      return { ...base, messageResponse: { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } } };
    }
    const chosen = index.withDependencies(found).filter((file, i) => i === 0 || !sent.has(file.proto.name));
    for (const file of chosen) {
      sent.add(file.proto.name);
    }
    return {
      ...base,
      messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: chosen.map((file) => index.encode(file)) } },
    };
  };
  const { messageRequest } = request;
  switch (messageRequest.case) {
    case "listServices":
      return {
        ...base,
        messageResponse: { case: "listServicesResponse", value: { service: index.serviceNames.map((name) => ({ name })) } },
      };
    case "fileByFilename":
      return files(index.fileByName(messageRequest.value), `file "${messageRequest.value}"`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(messageRequest.value), `symbol "${messageRequest.value}"`);
    case "fileContainingExtension": {
      // no served file declares an extension
      const { containingType, extensionNumber } = messageRequest.value;
      return files(undefined, `extension ${extensionNumber} of "${containingType}"`);
    }
    case "allExtensionNumbersOfType":
      if (!index.hasMessage(messageRequest.value)) {
        return files(undefined, `type "${messageRequest.value}"`);
      }
      return {
        ...base,
        messageResponse: { case: "allExtensionNumbersResponse", value: { baseTypeName: messageRequest.value, extensionNumber: [] } },
      };
    default:
      return {
        ...base,
        messageResponse: { case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "no message_request set" } },
      };
  }
}
