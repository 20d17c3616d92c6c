import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { InjectRequestSchema, InjectResponseSchema } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as ServingStatus } from "../../src/gen/health/v1/health_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { frame, http1Post, http2Open, http2Post, parseGrpcWebBody, type WireAnswer } from "../support/rpc-wire.ts";

const injectPath = "/credbroker.v1.InjectService/Inject";

/** The headers the official grpc-web JavaScript client sends in its default (text) mode. */
const textHeaders = (contentType = "application/grpc-web-text") => ({
  "content-type": contentType,
  accept: "application/grpc-web-text",
  "x-grpc-web": "1",
  "x-user-agent": "grpc-web-javascript/0.1",
});

/** A text-mode body: base64 of the frames, in padded chunks cut where the client flushed. */
function textBody(bytes: Uint8Array, cuts: number[] = []): Buffer {
  const edges = [0, ...cuts, bytes.byteLength];
  return Buffer.from(edges.slice(1).map((end, i) => Buffer.from(bytes.subarray(edges[i], end)).toString("base64")).join(""), "latin1");
}

/** Decodes a text-mode answer: padded base64 chunks one after another. */
function decodeText(text: Uint8Array): Buffer {
  const chunks = Buffer.from(text).toString("latin1").match(/[^=]+=*/g) ?? [];
  return Buffer.concat(chunks.map((chunk) => Buffer.from(chunk, "base64")));
}

const injectFrame = (name: string) =>
  frame(toBinary(InjectRequestSchema, create(InjectRequestSchema, { mode: Mode.TEST, name, step: StepKind.HTTP })));

/** What a text-mode answer says: its content type, status, messages and trailer. */
function readText(answer: WireAnswer) {
  const { messages, trailer } = parseGrpcWebBody(decodeText(answer.body));
  return { contentType: answer.headers["content-type"], status: answer.status, messages, grpcStatus: trailer?.["grpc-status"] };
}

describe("gRPC-Web text mode (application/grpc-web-text) on the HTTP listener", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker();
    await tb.connect(SecretService, tb.adminToken).createSecret({
      mode: Mode.TEST,
      name: "web-text",
      credentials: { kind: { case: "basicAuth", value: { username: "web-user", password: "web-text-password" } } },
    });
  });
  afterAll(async () => {
    await tb.close();
  });

  it("answers Inject in base64 over HTTP/1.1 and HTTP/2, for either request type and a body sent in padded chunks", async () => {
    const address = tb.broker.httpAddress!;
    const bytes = injectFrame("web-text");
    const cases = [
      [http1Post, "application/grpc-web-text", []],
      [http2Post, "application/grpc-web-text", []],
      [http1Post, "application/grpc-web-text+proto", [1, 5]],
      [http2Post, "application/grpc-web-text+proto", [2, 7, 8]],
    ] as const;
    for (const [post, contentType, cuts] of cases) {
      const answer = await post(address, injectPath, textHeaders(contentType), textBody(bytes, [...cuts]));
      // the answer is text: nothing outside the base64 alphabet
      expect(answer.body.toString("latin1")).toMatch(/^[A-Za-z0-9+/=]+$/);
      const read = readText(answer);
      expect({ contentType: read.contentType, status: read.status, grpcStatus: read.grpcStatus }).toEqual({
        contentType: "application/grpc-web-text+proto",
        status: 200,
        grpcStatus: "0",
      });
      const response = fromBinary(InjectResponseSchema, read.messages[0] ?? new Uint8Array());
      expect(response.material.case === "http" && response.material.value.headers.map(({ name, value }) => `${name}: ${value}`)).toEqual([
        `Authorization: Basic ${Buffer.from("web-user:web-text-password").toString("base64")}`,
      ]);
    }
  });

  it("answers errors in the base64 trailer frame: NOT_FOUND, and INVALID_ARGUMENT for a body that is not base64", async () => {
    const address = tb.broker.httpAddress!;
    for (const post of [http1Post, http2Post]) {
      expect(readText(await post(address, injectPath, textHeaders(), textBody(injectFrame("absent"))))).toMatchObject({
        contentType: "application/grpc-web-text+proto",
        grpcStatus: "5",
        messages: [],
      });
      const valid = textBody(injectFrame("web-text")).toString("latin1");
      for (const malformed of ["!!!!", "QQ=", `${valid}Q`, `${valid.slice(0, 4)}*${valid.slice(5)}`, "QQ==Q===", "=AAA"]) {
        const read = readText(await post(address, injectPath, textHeaders(), Buffer.from(malformed, "latin1")));
        expect({ malformed, grpcStatus: read.grpcStatus, messages: read.messages }).toEqual({ malformed, grpcStatus: "3", messages: [] });
      }
    }
    // and the broker is still serving
    expect(readText(await http1Post(address, injectPath, textHeaders(), textBody(injectFrame("web-text")))).grpcStatus).toBe("0");
  });

  it("counts the decoded size against the 1 MiB request cap: RESOURCE_EXHAUSTED", async () => {
    const big = frame(new Uint8Array(1024 * 1024 + 1));
    for (const post of [http1Post, http2Post]) {
      const read = readText(await post(tb.broker.httpAddress!, injectPath, textHeaders(), textBody(big)));
      expect(read.grpcStatus).toBe("8");
    }
  });

  it("streams a health Watch, in text and binary mode: each message comes as it is written, while the call stays open", async () => {
    const request = frame(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" })));
    const modes = [
      { headers: textHeaders(), body: textBody(request), answerType: "application/grpc-web-text+proto", decode: decodeText },
      { headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" }, body: request, answerType: "application/grpc-web+proto", decode: (bytes: Buffer) => bytes },
    ];
    for (const { headers, body, answerType, decode } of modes) {
      const watch = http2Open(tb.broker.httpAddress!, "/grpc.health.v1.Health/Watch", headers, body);
      await Promise.race([watch.firstData, watch.ended]);
      expect({ answerType, closed: watch.isClosed() }).toEqual({ answerType, closed: false });
      expect((await watch.response)["content-type"]).toBe(answerType);
      const { messages, trailer } = parseGrpcWebBody(decode(Buffer.concat(watch.chunks)));
      expect(trailer).toBeUndefined();
      expect(messages.map((message) => fromBinary(HealthCheckResponseSchema, message).status)).toEqual([ServingStatus.SERVING]);
      watch.cancel();
      await watch.ended;
    }
  });
});
