import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { InjectRequestSchema, InjectResponseSchema } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { HealthCheckRequestSchema } from "../../src/gen/health/v1/health_pb.ts";
import { clampConnectTimeout, clampGrpcTimeout } from "../../src/server/deadline-headers.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { debianPython, pythonModule } from "../support/python.ts";
import { frame, http1Post, http2Open, http2Post, parseGrpcWebBody, type WireAnswer } from "../support/rpc-wire.ts";

/** What Python's `timeout=25*86400` and a Go context of 25 days send, a year, the longest the header allows, and a plain second. */
const longTimeouts = ["2147484S", "8760H", "99999999H", "99999999S", "1S"];
const injectPath = "/credbroker.v1.InjectService/Inject";
const watchPath = "/grpc.health.v1.Health/Watch";
const injectBody = frame(toBinary(InjectRequestSchema, create(InjectRequestSchema, { mode: Mode.TEST, name: "long-deadline", step: StepKind.HTTP })));
const watchBody = frame(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" })));
const grpcHeaders = (timeout: string) => ({ "content-type": "application/grpc", te: "trailers", "grpc-timeout": timeout });

/**
 * Calls one unary method with grpcio's generic stub (raw bytes in and out,
 * no generated code) and a 25-day timeout, as a Python step runner would
 * with `timeout=25*86400`; prints `{"code": ..., "reply": hex}`.
 */
const pythonCall = `
import grpc, json, sys
address, method, request = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
with grpc.insecure_channel(address) as channel:
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    try:
        reply = call(request, timeout=25 * 86400)
        print(json.dumps({"code": "OK", "reply": reply.hex()}))
    except grpc.RpcError as error:
        print(json.dumps({"code": error.code().name, "reply": ""}))
`;

/** The gRPC status of an answer: trailers, or headers of a trailers-only answer. */
function grpcStatus(answer: WireAnswer): string | undefined {
  return answer.trailers["grpc-status"] ?? answer.headers["grpc-status"];
}

/** The header values of an Inject answer's first message. */
function injectedHeaders(message: Uint8Array | undefined): string[] {
  const response = fromBinary(InjectResponseSchema, message ?? new Uint8Array());
  return response.material.case === "http" ? response.material.value.headers.map((header) => `${header.name}: ${header.value}`) : [];
}

describe("deadlines of any length the headers allow", () => {
  let tb: TestBroker;
  const overflows: Error[] = [];
  const onWarning = (warning: Error) => {
    if (warning.name === "TimeoutOverflowWarning") {
      overflows.push(warning);
    }
  };
  beforeAll(async () => {
    process.on("warning", onWarning);
    tb = await startTestBroker();
    await tb.connect(SecretService, tb.adminToken).createSecret({
      mode: Mode.TEST,
      name: "long-deadline",
      credentials: { kind: { case: "bearerToken", value: { token: "deadline-test-token" } } },
    });
  });
  afterAll(async () => {
    process.off("warning", onWarning);
    await tb.close();
  });
  /** Lets warnings emitted on the next tick arrive. */
  const noOverflow = async () => {
    await sleep(10);
    expect(overflows.map((warning) => warning.message)).toEqual([]);
  };

  it("clamps only timeouts past what a Node timer holds, and leaves malformed ones to the protocol", () => {
    expect(longTimeouts.map(clampGrpcTimeout)).toEqual(["2147483S", "2147483S", "2147483S", "2147483S", "1S"]);
    expect(["2147483S", "35791M", "99999999m", "99999999u", "1n", "1x", "123456789S", ""].map(clampGrpcTimeout)).toEqual([
      "2147483S", "35791M", "99999999m", "99999999u", "1n", "1x", "123456789S", "",
    ]);
    expect(["9999999999", "2147483648", "2147483647", "30000", "-1", "12345678901"].map(clampConnectTimeout)).toEqual([
      "2147483647", "2147483647", "2147483647", "30000", "-1", "12345678901",
    ]);
  });

  it("answers Inject over gRPC on both listeners with long grpc-timeouts", async () => {
    for (const address of [tb.broker.grpcAddress, tb.broker.httpAddress!]) {
      for (const timeout of longTimeouts) {
        const answer = await http2Post(address, injectPath, grpcHeaders(timeout), injectBody);
        expect({ address, timeout, status: grpcStatus(answer) }).toEqual({ address, timeout, status: "0" });
        expect(injectedHeaders(parseGrpcWebBody(answer.body).messages[0])).toEqual(["Authorization: Bearer deadline-test-token"]);
      }
    }
    await noOverflow();
  });

  it("answers Inject over gRPC-Web (HTTP/1.1) and the Connect protocol (HTTP/1.1 and HTTP/2) with long timeouts", async () => {
    const address = tb.broker.httpAddress!;
    for (const timeout of longTimeouts) {
      const answer = await http1Post(address, injectPath, { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", "grpc-timeout": timeout }, injectBody);
      const { messages, trailer } = parseGrpcWebBody(answer.body);
      expect({ timeout, status: trailer?.["grpc-status"] }).toEqual({ timeout, status: "0" });
      expect(injectedHeaders(messages[0])).toEqual(["Authorization: Bearer deadline-test-token"]);
    }
    const json = Buffer.from(JSON.stringify({ mode: "MODE_TEST", name: "long-deadline", step: "STEP_KIND_HTTP" }));
    for (const timeout of ["9999999999", "2147483648", "2160000000"]) {
      for (const post of [http1Post, http2Post]) {
        const answer = await post(address, injectPath, { "content-type": "application/json", "connect-protocol-version": "1", "connect-timeout-ms": timeout }, json);
        expect({ timeout, status: answer.status }).toEqual({ timeout, status: 200 });
        expect(JSON.parse(answer.body.toString("utf8"))).toMatchObject({ http: { headers: [{ name: "Authorization", value: "Bearer deadline-test-token" }] } });
      }
    }
    await noOverflow();
  });

  it("keeps a Watch with a long deadline open on both listeners", async () => {
    for (const address of [tb.broker.grpcAddress, tb.broker.httpAddress!]) {
      for (const timeout of ["2147484S", "99999999H"]) {
        const watch = http2Open(address, watchPath, grpcHeaders(timeout), watchBody);
        await Promise.race([watch.firstData, watch.ended]);
        // a deadline taken for "now" (a wrapped or overflowed timer) ends the stream within milliseconds
        await sleep(300);
        expect({ address, timeout, closed: watch.isClosed() }).toEqual({ address, timeout, closed: false });
        watch.cancel();
        await watch.ended;
      }
    }
    await noOverflow();
  });

  it("still ends a Watch whose deadline is genuinely short, on both listeners", async () => {
    for (const address of [tb.broker.grpcAddress, tb.broker.httpAddress!]) {
      const watch = http2Open(address, watchPath, grpcHeaders("200m"), watchBody);
      const trailers = await watch.ended;
      expect({ address, status: trailers["grpc-status"] }).toEqual({ address, status: "4" });
    }
  });

  const pythonCheck = pythonModule("grpc", "python3-grpcio");
  it.skipIf(!pythonCheck.available)(
    `answers Python grpcio's Health/Check and Inject with timeout=25*86400 on both listeners${pythonCheck.available ? "" : ` (skipped: ${pythonCheck.reason})`}`,
    async () => {
      const run = async (address: string, method: string, request: Uint8Array) => {
        const { stdout } = await promisify(execFile)(debianPython, ["-c", pythonCall, address, method, Buffer.from(request).toString("hex")]);
        return JSON.parse(stdout) as { code: string; reply: string };
      };
      const inject = toBinary(InjectRequestSchema, create(InjectRequestSchema, { mode: Mode.TEST, name: "long-deadline", step: StepKind.HTTP }));
      for (const address of [tb.broker.grpcAddress, tb.broker.httpAddress!]) {
        // HealthCheckResponse{status: SERVING} is field 1, varint 1
        expect(await run(address, "/grpc.health.v1.Health/Check", new Uint8Array())).toEqual({ code: "OK", reply: "0801" });
        const answer = await run(address, injectPath, inject);
        expect(answer.code).toBe("OK");
        expect(injectedHeaders(Buffer.from(answer.reply, "hex"))).toEqual(["Authorization: Bearer deadline-test-token"]);
      }
      await noOverflow();
    },
  );
});
