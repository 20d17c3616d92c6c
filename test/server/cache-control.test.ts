import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { InjectRequestSchema } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { ListSecretsRequestSchema, SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { frame, http10Post, http1Post, http2Post, parseGrpcWebBody, type WireAnswer } from "../support/rpc-wire.ts";

const injectPath = "/credbroker.v1.InjectService/Inject";
const listPath = "/credbroker.v1.SecretService/ListSecrets";

/** The answer's cache headers and its outcome (HTTP status and, for gRPC and gRPC-Web, the gRPC status). */
function cacheHeadersOf(answer: WireAnswer) {
  const grpcStatus = answer.trailers["grpc-status"] ?? answer.headers["grpc-status"] ?? parseGrpcWebBody(answer.body).trailer?.["grpc-status"];
  return { status: answer.status, grpcStatus, cacheControl: answer.headers["cache-control"], pragma: answer.headers["pragma"] };
}

describe("cache headers on every RPC answer of the HTTP listener", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker();
    await tb.connect(SecretService, tb.adminToken).createSecret({
      mode: Mode.TEST,
      name: "cached-nowhere",
      credentials: { kind: { case: "bearerToken", value: { token: "cache-test-token" } } },
    });
  });
  afterAll(async () => {
    await tb.close();
  });

  const json = (body: unknown) => Buffer.from(JSON.stringify(body));
  const binary = (name: string) => frame(toBinary(InjectRequestSchema, create(InjectRequestSchema, { mode: Mode.TEST, name, step: StepKind.HTTP })));
  const connectJson = { "content-type": "application/json" };
  const grpcWeb = { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" };
  const grpc = { "content-type": "application/grpc", te: "trailers" };

  it("says no-store on Inject material over Connect JSON (HTTP/1.1, HTTP/1.0, HTTP/2), gRPC-Web and gRPC", async () => {
    const address = tb.broker.httpAddress!;
    const request = json({ mode: "MODE_TEST", name: "cached-nowhere" });
    const answers = [
      await http1Post(address, injectPath, connectJson, request),
      await http10Post(address, injectPath, connectJson, request),
      await http2Post(address, injectPath, connectJson, request),
      await http1Post(address, injectPath, grpcWeb, binary("cached-nowhere")),
      await http2Post(address, injectPath, grpc, binary("cached-nowhere")),
    ];
    expect(answers.map(cacheHeadersOf)).toEqual([
      { status: 200, grpcStatus: undefined, cacheControl: "no-store", pragma: "no-cache" },
      { status: 200, grpcStatus: undefined, cacheControl: "no-store", pragma: "no-cache" },
      { status: 200, grpcStatus: undefined, cacheControl: "no-store", pragma: "no-cache" },
      { status: 200, grpcStatus: "0", cacheControl: "no-store", pragma: "no-cache" },
      { status: 200, grpcStatus: "0", cacheControl: "no-store", pragma: "no-cache" },
    ]);
    // the HTTP/1.0 answer is material too: the header is what keeps it out of a cache
    expect(JSON.parse(answers[1]!.body.toString("utf8"))).toMatchObject({ http: { headers: [{ name: "Authorization" }] } });
  });

  it("says no-store on error answers too (NOT_FOUND, UNAUTHENTICATED, unsupported media type)", async () => {
    const address = tb.broker.httpAddress!;
    const answers = [
      await http1Post(address, injectPath, connectJson, json({ mode: "MODE_TEST", name: "absent" })),
      await http10Post(address, listPath, connectJson, json({ mode: "MODE_TEST" })),
      await http1Post(address, injectPath, grpcWeb, binary("absent")),
      await http2Post(address, listPath, grpc, frame(toBinary(ListSecretsRequestSchema, create(ListSecretsRequestSchema, { mode: Mode.TEST })))),
      await http1Post(address, injectPath, { "content-type": "text/plain" }, json({})),
    ];
    expect(answers.map(cacheHeadersOf)).toEqual([
      { status: 404, grpcStatus: undefined, cacheControl: "no-store", pragma: "no-cache" },
      { status: 401, grpcStatus: undefined, cacheControl: "no-store", pragma: "no-cache" },
      { status: 200, grpcStatus: "5", cacheControl: "no-store", pragma: "no-cache" },
      { status: 200, grpcStatus: "16", cacheControl: "no-store", pragma: "no-cache" },
      { status: 415, grpcStatus: undefined, cacheControl: "no-store", pragma: "no-cache" },
    ]);
  });
});
