/**
 * Inject tokens over real listeners: the both-modes token, the mode-scoped
 * tokens, and what a missing, wrong, admin or wrong-mode token answers, through
 * the classic @grpc/grpc-js client and the Connect client.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.ts";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";
import { serveOnce } from "../support/serve-once.ts";

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

describe("token rules at start-up", () => {
  const roles = ["adminToken", "injectToken", "injectTokenTest", "injectTokenLive"] as const;
  const settings = {
    adminToken: "CREDBROKER_ADMIN_TOKEN",
    injectToken: "CREDBROKER_INJECT_TOKEN",
    injectTokenTest: "CREDBROKER_INJECT_TOKEN_TEST",
    injectTokenLive: "CREDBROKER_INJECT_TOKEN_LIVE",
  } as const;
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "credbroker-token-rules-"));
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  /** The ConfigError a start with these tokens fails with; the data dir it names must stay untouched. */
  async function refusal(tokens: Partial<Record<(typeof roles)[number], string>>): Promise<ConfigError> {
    const dataDir = join(scratch, `untouched-${randomBytes(4).toString("hex")}`);
    const overrides = Object.fromEntries(Object.entries(tokens).map(([role, value]) => [role, { value, source: settings[role as keyof typeof settings] }]));
    const error = await startTestBroker({ dataDir, ...overrides }).then(
      async (tb) => {
        await tb.close();
        throw new Error(`started with ${Object.keys(tokens).join(", ")}`);
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    await expect(stat(dataDir)).rejects.toMatchObject({ code: "ENOENT" });
    return error as ConfigError;
  }

  it("refuses a token shorter than 32 characters in every role, naming the setting and never the value", async () => {
    const short = "canary-short-token-3f9a1c7e0b2d"; // 31 characters
    for (const role of roles) {
      const error = await refusal({ [role]: short });
      expect(error.message).toContain(`${settings[role]} must be at least 32 characters`);
      expect(error.message).not.toContain(short);
    }
    const exactly32 = `${short}x`;
    const tb = await startTestBroker({ adminToken: { value: exactly32, source: "CREDBROKER_ADMIN_TOKEN" }, injectToken: { value: `${short}y`, source: "test" } });
    await tb.close();
  });

  it("refuses one token in two roles, for every pair of admin, inject, test-only and live-only", async () => {
    const shared = `canary-shared-${randomBytes(18).toString("base64url")}`;
    for (const [index, first] of roles.entries()) {
      for (const second of roles.slice(index + 1)) {
        const error = await refusal({ [first]: shared, [second]: shared });
        expect(error.message).toBe(
          `${settings[first]} and ${settings[second]} hold the same token; the admin, inject, test-only and live-only tokens must all differ`,
        );
      }
    }
  });

  it("checks the data dir's admin.token like a configured one", async () => {
    const withAdminToken = async (content: string) => {
      const dataDir = await mkdtemp(join(scratch, "generated-"));
      await writeFile(join(dataDir, "admin.token"), `${content}\n`, { mode: 0o600 });
      return { dataDir, path: join(dataDir, "admin.token") };
    };
    const generated = randomBytes(32).toString("base64url");
    const copied = await withAdminToken(generated);
    await expect(
      startTestBroker({ dataDir: copied.dataDir, adminToken: undefined, injectTokenTest: { value: generated, source: "CREDBROKER_INJECT_TOKEN_TEST" } }),
    ).rejects.toThrow(`${copied.path} and CREDBROKER_INJECT_TOKEN_TEST hold the same token`);
    const edited = await withAdminToken("canary-edited");
    await expect(startTestBroker({ dataDir: edited.dataDir, adminToken: undefined })).rejects.toThrow(`${edited.path} must be at least 32 characters`);
  });

  it("makes `credbroker serve` exit 2 with the settings named, never the values", async () => {
    const dataDir = join(scratch, "serve");
    const short = await serveOnce(["--data-dir", dataDir], { CREDBROKER_ADMIN_TOKEN: "x" });
    expect(short).toMatchObject({ code: 2, served: false });
    expect(short.stderr).toContain("CREDBROKER_ADMIN_TOKEN must be at least 32 characters");
    const live = `canary-live-${randomBytes(18).toString("base64url")}`;
    const reused = await serveOnce(["--data-dir", dataDir], { CREDBROKER_INJECT_TOKEN_TEST: live, CREDBROKER_INJECT_TOKEN_LIVE: live });
    expect(reused).toMatchObject({ code: 2, served: false });
    expect(reused.stderr).toContain("CREDBROKER_INJECT_TOKEN_TEST and CREDBROKER_INJECT_TOKEN_LIVE hold the same token");
    expect(reused.stderr).not.toContain(live);
    await expect(stat(dataDir)).rejects.toMatchObject({ code: "ENOENT" });
  });
});

