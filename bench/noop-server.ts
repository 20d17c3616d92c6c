// A no-op baseline: answers every Inject with the same response bytes, as
// fast as the server library allows. Usage: noop-server.ts grpc|connect PORT RESPONSE_FILE
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { InjectResponseSchema, InjectService } from "../src/gen/credbroker/v1/inject_service_pb.ts";

const [kind, port, responseFile] = process.argv.slice(2);
const bytes = readFileSync(responseFile!);

if (kind === "grpc") {
  const server = new grpc.Server();
  const identity = (b: Buffer) => b;
  server.addService(
    {
      Inject: {
        path: "/credbroker.v1.InjectService/Inject",
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    { Inject: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) => callback(null, bytes) },
  );
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), () => console.log("ready"));
} else {
  const response = fromBinary(InjectResponseSchema, bytes);
  const handler = connectNodeAdapter({
    routes: (router) => router.service(InjectService, { inject: () => response }),
  });
  http2.createServer({}, handler).listen(Number(port), "127.0.0.1", () => console.log("ready"));
}
process.on("SIGTERM", () => process.exit(0));
