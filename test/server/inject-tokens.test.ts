/**
 * Inject tokens over real listeners: the both-modes token, the mode-scoped
 * tokens, and what a missing, wrong, admin or wrong-mode token answers, through
 * the classic @grpc/grpc-js client and the Connect client.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";

// configured tokens are at least 32 characters
const both = "inject-both-4f2a-0c6e9d1b7a35f2e8";
const testOnly = "inject-test-9c1d-5e2b8f0a4d7c1e96";
const liveOnly = "inject-live-7b3e-2a9f6c0d8e1b4f73";

type Answer = "ok" | "UNAUTHENTICATED" | "PERMISSION_DENIED" | string;

let tb: TestBroker;
let grpcJs: ReturnType<typeof createGrpcJsClient>;

/** What Inject answered over both clients; they must agree. */
async function inject(mode: Mode, token: string | undefined): Promise<Answer> {
  const request = { mode, name: "scoped" };
  const viaGrpc = await grpcJs.call("Inject", InjectRequestSchema, InjectResponseSchema, request, token === undefined ? {} : { token });
  const grpcAnswer = viaGrpc.ok ? "ok" : grpc.status[viaGrpc.code];
  const answers: Answer[] = [grpcAnswer];
  for (const version of ["1.1", "2"] as const) {
    const connectAnswer = await tb
      .connect(InjectService, token, version)
      .inject(request)
      .then(
        () => "ok",
        (error: unknown) => Code[ConnectError.from(error).code],
      );
    answers.push(connectAnswer === "ok" ? "ok" : connectAnswer.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase());
  }
  expect(new Set(answers).size, `grpc-js, Connect h1 and h2 agree: ${answers.join(", ")}`).toBe(1);
  return grpcAnswer;
}

describe("mode-scoped inject tokens", () => {
  beforeAll(async () => {
    tb = await startTestBroker({
      injectToken: { value: both, source: "test" },
      injectTokenTest: { value: testOnly, source: "test" },
      injectTokenLive: { value: liveOnly, source: "test" },
    });
    const admin = tb.connect(SecretService, tb.adminToken);
    for (const mode of [Mode.TEST, Mode.LIVE]) {
      await admin.createSecret({ mode, name: "scoped", credentials: { kind: { case: "bearerToken", value: { token: "v" } } } });
    }
    grpcJs = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
  });
  afterAll(async () => {
    grpcJs?.close();
    await tb?.close();
  });

  it("admits the both-modes token in both modes", async () => {
    expect(await inject(Mode.TEST, both)).toBe("ok");
    expect(await inject(Mode.LIVE, both)).toBe("ok");
  });

  it("admits a scoped token in its own mode and answers PERMISSION_DENIED in the other", async () => {
    expect(await inject(Mode.TEST, testOnly)).toBe("ok");
    expect(await inject(Mode.LIVE, testOnly)).toBe("PERMISSION_DENIED");
    expect(await inject(Mode.LIVE, liveOnly)).toBe("ok");
    expect(await inject(Mode.TEST, liveOnly)).toBe("PERMISSION_DENIED");
  });

  it("answers UNAUTHENTICATED to a missing, wrong or admin token, in either mode", async () => {
    for (const mode of [Mode.TEST, Mode.LIVE]) {
      expect(await inject(mode, undefined)).toBe("UNAUTHENTICATED");
      expect(await inject(mode, "wrong-token")).toBe("UNAUTHENTICATED");
      expect(await inject(mode, `${testOnly}x`)).toBe("UNAUTHENTICATED");
      expect(await inject(mode, tb.adminToken)).toBe("UNAUTHENTICATED");
    }
  });

  it("does not let an inject token call the admin service", async () => {
    for (const token of [both, testOnly, liveOnly]) {
      const error = await tb
        .connect(SecretService, token)
        .getSecret({ mode: Mode.TEST, name: "scoped" })
        .catch((e: unknown) => ConnectError.from(e));
      expect(error).toMatchObject({ code: Code.Unauthenticated });
    }
  });
});

describe("a scoped token alone", () => {
  it("closes Inject to callers without a token, and the test token admits test mode only", async () => {
    tb = await startTestBroker({ injectTokenTest: { value: testOnly, source: "test" } });
    grpcJs = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    try {
      const admin = tb.connect(SecretService, tb.adminToken);
      for (const mode of [Mode.TEST, Mode.LIVE]) {
        await admin.createSecret({ mode, name: "scoped", credentials: { kind: { case: "bearerToken", value: { token: "v" } } } });
      }
      expect(await inject(Mode.TEST, undefined)).toBe("UNAUTHENTICATED");
      expect(await inject(Mode.TEST, testOnly)).toBe("ok");
      expect(await inject(Mode.LIVE, testOnly)).toBe("PERMISSION_DENIED");
      expect(await inject(Mode.LIVE, tb.adminToken)).toBe("UNAUTHENTICATED");
    } finally {
      grpcJs.close();
      await tb.close();
    }
  });

});
