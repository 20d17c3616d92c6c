import * as http2 from "node:http2";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../../src/gen/credbroker/v1/secret_pb.ts";
import { createAuthInterceptor } from "../../../src/server/auth-interceptor.ts";
import { encodedAnswerKey } from "../../../src/api/encoded-answer.ts";
import { startGrpcListener } from "../../../src/server/grpc-js/grpc-listener.ts";
import { createLogInterceptor } from "../../../src/server/log-interceptor.ts";
import { createLogger } from "../../../src/server/logger.ts";
import { serviceSpec, type Listener } from "../../../src/server/service-listener.ts";
import { createGrpcJsClient } from "../../support/grpc-client.ts";

const token = "t".repeat(40);
const answer = (name: string) => create(InjectResponseSchema, { secret: { name } });

/** Raw HTTP/2, so that a call can carry a deadline that has already passed when it arrives. */
async function expiredCall(address: string, authorization: string | undefined): Promise<string | undefined> {
  const session = http2.connect(`http://${address}`);
  try {
    const body = Buffer.from(toBinary(InjectRequestSchema, create(InjectRequestSchema, { mode: Mode.TEST, name: "late" })));
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
    const stream = session.request({
      ":method": "POST",
      ":path": "/credbroker.v1.InjectService/Inject",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": "1n",
      ...(authorization === undefined ? {} : { authorization }),
    });
    let status: string | undefined;
    stream.on("response", (headers) => (status ??= headers["grpc-status"] as string | undefined));
    stream.on("trailers", (trailers) => (status ??= trailers["grpc-status"] as string | undefined));
    stream.end(frame);
    stream.resume();
    await new Promise((resolve) => stream.once("close", resolve));
    return status;
  } finally {
    session.close();
  }
}

describe("the grpc-js unary handler", () => {
  let listener: Listener;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString("utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>));
        done();
      },
    });
    const logger = createLogger("info", sink);
    const impl = serviceSpec(InjectService, {
      inject(req, context) {
        const message = answer(req.name);
        if (req.name === "ready") {
          // bytes that differ from the message, to see which of the two is sent
          context.values.set(encodedAnswerKey, { response: message, encoded: toBinary(InjectResponseSchema, answer("from-the-cache")) });
        }
        if (req.name === "replaced") {
          context.values.set(encodedAnswerKey, { response: answer("other"), encoded: toBinary(InjectResponseSchema, answer("stale")) });
        }
        return message;
      },
    });
    listener = await startGrpcListener({
      address: "127.0.0.1:0",
      services: [impl],
      interceptors: [
        createLogInterceptor(logger, { quietMethods: [InjectService.method.inject] }),
        createAuthInterceptor({ adminToken: "a".repeat(40), injectToken: token, adminServices: [], injectServices: [InjectService] }),
      ],
      maxRequestBytes: 1024 * 1024,
    });
  });
  afterAll(async () => {
    await listener.close(0);
  });

  it("sends the encoding a service holds ready only for that very answer", async () => {
    const client = createGrpcJsClient(InjectService, listener.address, token);
    const ready = await client.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "ready" });
    const replaced = await client.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "replaced" });
    client.close();
    expect(ready.ok && ready.message.secret?.name).toBe("from-the-cache");
    expect(replaced.ok && replaced.message.secret?.name).toBe("replaced");
  });

  it("logs a successful Inject at debug only, and its failures at info", async () => {
    const client = createGrpcJsClient(InjectService, listener.address);
    const ok = await client.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "quiet" }, { token });
    const refused = await client.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "loud" });
    client.close();
    expect(ok.ok).toBe(true);
    expect(refused.ok).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lines.filter((line) => line["name"] === "quiet")).toEqual([]);
    expect(lines.find((line) => line["name"] === "loud")).toMatchObject({ level: 30, code: "Unauthenticated", mode: "MODE_TEST" });
  });

  it("refuses an expired deadline inside the interceptors, as the HTTP listener does: authenticated and logged", async () => {
    expect(await expiredCall(listener.address, undefined)).toBe("16");
    expect(await expiredCall(listener.address, `Bearer ${token}`)).toBe("4");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lines.filter((line) => line["name"] === "late").map((line) => line["code"])).toEqual(["Unauthenticated", "DeadlineExceeded"]);
  });
});

