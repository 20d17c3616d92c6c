// A step runner asking credbroker for the material of one secret over gRPC.
// Run from the repository root: npm exec -- node examples/inject-grpc.ts
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  InjectRequestSchema,
  InjectResponseSchema,
  type InjectRequest,
  type InjectResponse,
} from "../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../src/gen/credbroker/v1/secret_pb.ts";

const address = process.env["CREDBROKER_ADDR"] ?? "127.0.0.1:7390";
const client = new grpc.Client(address, grpc.credentials.createInsecure());

function inject(request: InjectRequest): Promise<InjectResponse> {
  const metadata = new grpc.Metadata();
  if (process.env["CREDBROKER_INJECT_TOKEN"]) {
    metadata.set("authorization", `Bearer ${process.env["CREDBROKER_INJECT_TOKEN"]}`);
  }
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      "/credbroker.v1.InjectService/Inject",
      (message: InjectRequest) => Buffer.from(toBinary(InjectRequestSchema, message)),
      (bytes: Buffer) => fromBinary(InjectResponseSchema, bytes),
      request,
      metadata,
      { deadline: Date.now() + 5_000 },
      (error, response) => (error ? reject(error) : resolve(response!)),
    );
  });
}

const res = await inject(create(InjectRequestSchema, { mode: Mode.LIVE, name: "stripe-api-key", step: StepKind.HTTP }));
if (res.material.case === "http") {
  for (const header of res.material.value.headers) {
    // a real step sends these with its request; printing a value is for this demo only
    console.log(`${header.name}: ${header.value}`);
  }
}
client.close();
