import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  create,
  createFileRegistry,
  fromBinary,
  toBinary,
  toJson,
  type DescService,
  type FileRegistry,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { InjectRequestSchema } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import * as v1 from "../../src/gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../../src/gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { bufCurl } from "../support/buf-curl.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";

type Ask = MessageInitShape<typeof v1.ServerReflectionRequestSchema>;
type Answer = v1.ServerReflectionResponse;

const injectToken = { value: "inject-token-for-reflection-tests", source: "test" };
const servedServices = [
  "credbroker.v1.AuditService",
  "credbroker.v1.InjectService",
  "credbroker.v1.KeyService",
  "credbroker.v1.SecretService",
  "credbroker.v1.StatusService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];
const grpcNotFound = 5;

/**
 * A reflection client on one bidi stream through a classic @grpc/grpc-js
 * client, with no token: each ask() writes one request and waits for its
 * answer, as grpcurl does. v1alpha messages are v1's field for field, so its
 * answers are read as v1 shapes.
 */
function grpcJsReflection(address: string, service: DescService) {
  const [method] = service.methods;
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(
    `/${service.typeName}/${method!.name}`,
    (bytes: Uint8Array) => Buffer.from(bytes),
    (bytes: Buffer) => fromBinary(method!.output, bytes) as unknown as Answer,
    new grpc.Metadata(),
  );
  const waiting: { resolve: (answer: Answer) => void; reject: (error: Error) => void }[] = [];
  call.on("data", (answer: Answer) => waiting.shift()?.resolve(answer));
  call.on("error", (error: Error) => waiting.splice(0).forEach((ask) => ask.reject(error)));
  return {
    ask(request: Ask): Promise<Answer> {
      call.write(toBinary(method!.input, create(method!.input, request as never)));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    close() {
      call.end();
      client.close();
    },
  };
}

/** The FileDescriptorProtos of a file_descriptor_response, decoded. */
function filesOf(answer: Answer): FileDescriptorProto[] {
  expect(answer.messageResponse.case).toBe("fileDescriptorResponse");
  const response = answer.messageResponse.value as v1.FileDescriptorResponse;
  return response.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

/** The first file with the imports it names, resolved from the answer alone: throws if one is missing. */
function registryOf(files: FileDescriptorProto[]): FileRegistry {
  return createFileRegistry(files[0]!, (name) => files.find((file) => file.name === name));
}

/** What `grpcurl describe credbroker.v1.InjectService` shows, checked on a registry built from reflection answers. */
function expectInjectServiceDescribed(registry: FileRegistry): void {
  const service = registry.getService("credbroker.v1.InjectService");
  expect(service?.methods.map((method) => [method.name, method.methodKind, method.input.typeName, method.output.typeName])).toEqual([
    ["Inject", "unary", "credbroker.v1.InjectRequest", "credbroker.v1.InjectResponse"],
  ]);
  const response = registry.getMessage("credbroker.v1.InjectResponse");
  const expireTime = response?.fields.find((field) => field.name === "expire_time");
  expect(expireTime?.message?.typeName).toBe("google.protobuf.Timestamp");
  const request = registry.getMessage("credbroker.v1.InjectRequest");
  expect(request?.fields.find((field) => field.name === "mode")?.enum?.typeName).toBe("credbroker.v1.Mode");
}

describe("server reflection on a broker whose services require tokens", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({ injectToken });
    await tb.connect(SecretService, tb.adminToken).createSecret({
      mode: Mode.TEST,
      name: "reflected",
      credentials: { kind: { case: "bearerToken", value: { token: "reflected-token-value" } } },
    });
  });
  afterAll(async () => {
    await tb.close();
  });

  for (const service of [v1.ServerReflection, v1alpha.ServerReflection]) {
    describe(`${service.typeName} over a classic grpc-js client, no token`, () => {
      it("lists exactly the served services, never the storage schema", async () => {
        const reflection = grpcJsReflection(tb.broker.grpcAddress, service);
        const answer = await reflection.ask({ host: "h", messageRequest: { case: "listServices", value: "" } });
        reflection.close();
        expect(answer.validHost).toBe("h");
        expect(answer.originalRequest?.messageRequest.case).toBe("listServices");
        expect(answer.messageResponse.case).toBe("listServicesResponse");
        const names = (answer.messageResponse.value as v1.ListServiceResponse).service.map((entry) => entry.name);
        expect(names.sort()).toEqual(servedServices);
      });

      it("describes InjectService: the files resolve, the timestamp import included, and decode a real Inject answer", async () => {
        const reflection = grpcJsReflection(tb.broker.grpcAddress, service);
        const files = filesOf(await reflection.ask({ messageRequest: { case: "fileContainingSymbol", value: "credbroker.v1.InjectService" } }));
        expect(files.map((file) => file.name)).toEqual([
          "credbroker/v1/inject_service.proto",
          "credbroker/v1/secret.proto",
          "google/protobuf/timestamp.proto",
        ]);
        const registry = registryOf(files);
        expectInjectServiceDescribed(registry);

        // what grpcurl does next: call the method with the reflected schema only
        const answer = await new Promise<Buffer>((resolve, reject) => {
          const client = new grpc.Client(tb.broker.grpcAddress, grpc.credentials.createInsecure());
          const metadata = new grpc.Metadata();
          metadata.set("authorization", `Bearer ${injectToken.value}`);
          client.makeUnaryRequest(
            "/credbroker.v1.InjectService/Inject",
            (bytes: Uint8Array) => Buffer.from(bytes),
            (bytes: Buffer) => bytes,
            toBinary(InjectRequestSchema, create(InjectRequestSchema, { mode: Mode.TEST, name: "reflected" })),
            metadata,
            (error, bytes) => (error === null ? resolve(bytes!) : reject(error)),
          );
        });
        const responseSchema = registry.getMessage("credbroker.v1.InjectResponse")!;
        expect(toJson(responseSchema, fromBinary(responseSchema, answer), { registry })).toMatchObject({
          secret: { name: "reflected", mode: "MODE_TEST", type: "SECRET_TYPE_BEARER_TOKEN" },
          http: { headers: [{ name: "Authorization", value: "Bearer reflected-token-value" }] },
        });

        // later answers on the same stream leave out files it has already sent
        const more = filesOf(await reflection.ask({ messageRequest: { case: "fileContainingSymbol", value: "credbroker.v1.SecretService" } }));
        const names = more.map((file) => file.name);
        expect(names[0]).toBe("credbroker/v1/secret_service.proto");
        expect(names).not.toContain("credbroker/v1/secret.proto");
        expect(names).not.toContain("google/protobuf/timestamp.proto");
        reflection.close();
      });

      it("finds files by name and by method, field and enum value symbols", async () => {
        const reflection = grpcJsReflection(tb.broker.grpcAddress, service);
        const byName = filesOf(await reflection.ask({ messageRequest: { case: "fileByFilename", value: "google/protobuf/timestamp.proto" } }));
        expect(byName.map((file) => file.name)).toEqual(["google/protobuf/timestamp.proto"]);
        for (const [symbol, file] of [
          ["credbroker.v1.InjectService.Inject", "credbroker/v1/inject_service.proto"],
          ["credbroker.v1.Secret.create_time", "credbroker/v1/secret.proto"],
          ["credbroker.v1.MODE_TEST", "credbroker/v1/secret.proto"],
          ["grpc.health.v1.Health", "health/v1/health.proto"],
          [service.typeName, service.file.proto.name],
        ] as const) {
          const files = filesOf(await reflection.ask({ messageRequest: { case: "fileContainingSymbol", value: symbol } }));
          expect({ symbol, file: files[0]?.name }).toEqual({ symbol, file });
        }
        reflection.close();
      });

      it("answers NOT_FOUND for the storage schema, unknown symbols and extensions, and lists no extension numbers", async () => {
        const reflection = grpcJsReflection(tb.broker.grpcAddress, service);
        for (const request of [
          { case: "fileContainingSymbol", value: "credbroker.storage.v1.SecretRecord" },
          { case: "fileByFilename", value: "credbroker/storage/v1/record.proto" },
          { case: "fileContainingSymbol", value: "credbroker.v1.Nothing" },
          { case: "fileContainingExtension", value: { containingType: "credbroker.v1.Secret", extensionNumber: 100 } },
          { case: "allExtensionNumbersOfType", value: "credbroker.storage.v1.SecretRecord" },
        ] as const) {
          const answer = await reflection.ask({ messageRequest: request });
          expect({ request: request.case, response: answer.messageResponse.case }).toEqual({ request: request.case, response: "errorResponse" });
          expect((answer.messageResponse.value as v1.ErrorResponse).errorCode).toBe(grpcNotFound);
        }
        const numbers = await reflection.ask({ messageRequest: { case: "allExtensionNumbersOfType", value: "credbroker.v1.Secret" } });
        expect(numbers.messageResponse).toMatchObject({
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: "credbroker.v1.Secret", extensionNumber: [] },
        });
        reflection.close();
      });
    });
  }

  it("answers reflection on the HTTP listener over gRPC and the Connect protocol (HTTP/2), no token", async () => {
    const base = `http://${tb.broker.httpAddress}`;
    for (const transport of [createGrpcTransport({ baseUrl: base }), createConnectTransport({ baseUrl: base, httpVersion: "2" })]) {
      const client = createClient(v1.ServerReflection, transport);
      const answers: Answer[] = [];
      async function* requests(): AsyncIterable<Ask> {
        yield { messageRequest: { case: "listServices", value: "" } };
        yield { messageRequest: { case: "fileContainingSymbol", value: "credbroker.v1.InjectService" } };
      }
      for await (const answer of client.serverReflectionInfo(requests())) {
        answers.push(answer);
      }
      expect((answers[0]?.messageResponse.value as v1.ListServiceResponse).service.map((entry) => entry.name).sort()).toEqual(servedServices);
      expectInjectServiceDescribed(registryOf(filesOf(answers[1]!)));
    }
  });

  describe("buf curl, a Go client that resolves every schema by reflection", () => {
    const listed = [
      "credbroker.v1.InjectService/Inject",
      "credbroker.v1.SecretService/CreateSecret",
      "grpc.health.v1.Health/Check",
      "grpc.health.v1.Health/Watch",
      "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ];

    it("lists the methods on the gRPC listener through reflection v1 and v1alpha", async () => {
      for (const reflectProtocol of ["grpc-v1", "grpc-v1alpha"]) {
        const run = await bufCurl([
          "--list-methods", "--reflect-protocol", reflectProtocol, "--protocol", "grpc", "--http2-prior-knowledge",
          `http://${tb.broker.grpcAddress}`,
        ]);
        expect({ reflectProtocol, code: run.code, stderr: run.stderr }).toEqual({ reflectProtocol, code: 0, stderr: "" });
        expect(run.stdout.split("\n")).toEqual(expect.arrayContaining(listed));
        expect(run.stdout).not.toContain("storage");
      }
    });

    it("lists the methods on the HTTP listener over gRPC and over the Connect protocol", async () => {
      for (const protocol of ["grpc", "connect"]) {
        const run = await bufCurl(["--list-methods", "--protocol", protocol, "--http2-prior-knowledge", `http://${tb.broker.httpAddress}`]);
        expect({ protocol, code: run.code, stderr: run.stderr }).toEqual({ protocol, code: 0, stderr: "" });
        expect(run.stdout.split("\n")).toEqual(expect.arrayContaining(listed));
      }
    });

    it("calls Inject on the HTTP listener with JSON resolved by reflection, and shows NOT_FOUND as an error", async () => {
      const url = `http://${tb.broker.httpAddress}/credbroker.v1.InjectService/Inject`;
      const auth = ["-H", `authorization: Bearer ${injectToken.value}`];
      const ok = await bufCurl(["--http2-prior-knowledge", ...auth, "-d", '{"mode":"MODE_TEST","name":"reflected"}', url]);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({
        secret: { name: "reflected", mode: "MODE_TEST", version: "1" },
        http: { headers: [{ name: "Authorization", value: "Bearer reflected-token-value" }] },
      });
      const missing = await bufCurl(["--http2-prior-knowledge", ...auth, "-d", '{"mode":"MODE_TEST","name":"x"}', url]);
      expect(missing.code).not.toBe(0);
      expect(JSON.parse(missing.stderr)).toMatchObject({ code: "not_found" });
      // the token is still required for the call itself, though not for reflection
      const unauthenticated = await bufCurl(["--http2-prior-knowledge", "-d", '{"mode":"MODE_TEST","name":"reflected"}', url]);
      expect(JSON.parse(unauthenticated.stderr)).toMatchObject({ code: "unauthenticated" });
      // and the same over gRPC on the gRPC listener
      const overGrpc = await bufCurl([
        "--protocol", "grpc", "--http2-prior-knowledge", ...auth, "-d", '{"mode":"MODE_TEST","name":"reflected"}',
        `http://${tb.broker.grpcAddress}/credbroker.v1.InjectService/Inject`,
      ]);
      expect(overGrpc.code).toBe(0);
      expect(JSON.parse(overGrpc.stdout)).toMatchObject({ secret: { name: "reflected" } });
    });
  });
});
