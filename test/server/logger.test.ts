import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { ConfigError } from "../../src/config/config-error.ts";
import { loadConfig } from "../../src/config/config.ts";
import { credentialTypes } from "../../src/credentials/credential-registry.ts";
import { createLogInterceptor } from "../../src/server/log-interceptor.ts";
import { createLogger } from "../../src/server/logger.ts";

/** A stream that keeps what is written to it; `isTTY: true` makes it look like a terminal. */
function capture(isTTY = false) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString("utf8"));
        callback();
      },
    }),
    isTTY ? { isTTY: true } : {},
  );
  return { stream, text: () => chunks.join("") };
}

/** The pretty stream hands lines on through a stream pipeline: wait until `count` lines arrived. */
async function lines(text: () => string, count: number): Promise<string[]> {
  for (let i = 0; i < 100 && text().split("\n").length <= count; i++) {
    await sleep(5);
  }
  return text().split("\n").filter((line) => line !== "");
}

const canary = (label: string) => `canary${label}${randomBytes(8).toString("hex")}`;

/** An error shaped like an HTTP client's, with credentials in every nested field a library fills in. */
function leakyError() {
  const values = {
    causeMessage: canary("causemessage"),
    causeBody: canary("causebody"),
    plainCause: canary("plaincause"),
    configHeader: canary("configheader"),
    configData: canary("configdata"),
    responseData: canary("responsedata"),
    requestBody: canary("requestbody"),
    body: canary("body"),
    nestedCause: canary("nestedcause"),
  };
  const innermost = new Error("inner", { cause: { client_secret: values.plainCause } });
  const cause = Object.assign(new Error(`token endpoint answered ${values.causeMessage}`, { cause: innermost }), {
    code: "ECONNRESET",
    body: values.causeBody,
    details: { nested: new Error(values.nestedCause) },
  });
  const error = Object.assign(new Error("token fetch failed", { cause }), {
    code: "ERR_TOKEN_FETCH",
    config: { headers: { Authorization: `Bearer ${values.configHeader}` }, data: `client_secret=${values.configData}` },
    response: { status: 401, data: { access_token: values.responseData } },
    request: { body: values.requestBody },
    body: values.body,
  });
  return { error, values: Object.values(values) };
}

describe("the broker's logger", () => {
  it("writes JSON lines to a stream that is not a terminal", () => {
    const out = capture();
    createLogger("info", out.stream).info({ requestId: "r-1", method: "credbroker.v1.InjectService/Inject", code: "ok" }, "call");
    const [line, ...rest] = out.text().split("\n").filter((l) => l !== "");
    expect(rest).toEqual([]);
    expect(JSON.parse(line!)).toMatchObject({ level: 30, service: "credbroker", requestId: "r-1", code: "ok", msg: "call" });
  });

  it("writes human-readable lines, one per entry, to a terminal", async () => {
    const tty = capture(true);
    const logger = createLogger("info", tty.stream);
    logger.info({ requestId: "r-2", method: "credbroker.v1.InjectService/Inject", name: "stripe-key", code: "ok" }, "call");
    logger.warn("generated a development master key");
    const [call, warning] = await lines(tty.text, 2);
    expect(() => JSON.parse(call!)).toThrow();
    expect(call).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] .*INFO.*: .*call name=stripe-key/);
    expect(call).toContain('"requestId":"r-2"');
    expect(call).toContain("\u001b["); // colours, on a terminal
    expect(warning).toMatch(/WARN.*generated a development master key/);
    expect(tty.text()).not.toContain("credbroker\""); // the constant service field is left out
  });

  it("respects LOG_LEVEL, on a terminal too, and refuses an unknown level", async () => {
    const config = await loadConfig([], { LOG_LEVEL: "WARN" });
    expect(config.logLevel).toBe("warn");
    for (const isTTY of [false, true]) {
      const out = capture(isTTY);
      const logger = createLogger(config.logLevel, out.stream);
      logger.info("an info line");
      logger.warn("a warning");
      const written = await lines(out.text, 1);
      expect(written).toHaveLength(1);
      expect(written[0]).toContain("a warning");
    }
    expect((await loadConfig([], {})).logLevel).toBe("info");
    await expect(loadConfig([], { LOG_LEVEL: "verbose" })).rejects.toThrow(ConfigError);
  });

  it("redacts credential-shaped keys", () => {
    const out = capture();
    const value = canary("password");
    createLogger("info", out.stream).info({ password: value, authorization: `Bearer ${value}` }, "oops");
    expect(out.text()).toContain('"password":"[redacted]"');
    expect(out.text()).not.toContain(value);
  });

  it("redacts every field the proto marks debug_redact, under its Credentials name", () => {
    const out = capture();
    const fields = credentialTypes.flatMap((type) => type.fields).filter((field) => field.desc.proto.options?.debugRedact === true);
    const logged = Object.fromEntries(fields.map((field) => [field.name, canary(field.name)]));
    createLogger("info", out.stream).info(logged, "oops");
    expect(fields.map((field) => field.name)).toContain("clientSecret");
    for (const [name, value] of Object.entries(logged)) {
      expect(out.text()).toContain(`"${name}":"[redacted]"`);
      expect(out.text()).not.toContain(value);
    }
  });

  it("keeps an error's class, message, code and stack and its causes' classes and codes, and no nested field", async () => {
    for (const isTTY of [false, true]) {
      const out = capture(isTTY);
      const logger = createLogger("info", out.stream);
      const { error, values } = leakyError();
      logger.error({ err: error }, "call failed");
      logger.error(error, "as the first argument");
      logger.warn({ error, cause: { client_secret: values[0] } }, "under other keys");
      const text = (await lines(out.text, 3)).join("\n");
      for (const value of values) {
        expect(text, isTTY ? "pretty" : "json").not.toContain(value);
      }
      expect(text).toContain("token fetch failed");
      expect(text).toContain("ERR_TOKEN_FETCH");
      expect(text).toContain("ECONNRESET");
      if (!isTTY) {
        const first = JSON.parse(text.split("\n")[0]!) as { err: unknown };
        expect(first.err).toMatchObject({
          type: "Error",
          message: "token fetch failed",
          code: "ERR_TOKEN_FETCH",
          stack: expect.stringContaining("token fetch failed"),
          cause: { type: "Error", code: "ECONNRESET", cause: { type: "Error", cause: { type: "Object" } } },
        });
      }
    }
  });

  it("logs a failing call's error through the log interceptor without its nested credentials", async () => {
    const out = capture();
    const { error, values } = leakyError();
    const transport = createRouterTransport(
      (router) =>
        router.service(InjectService, {
          inject() {
            throw error;
          },
        }),
      { router: { interceptors: [createLogInterceptor(createLogger("info", out.stream))] } },
    );
    const failure = await createClient(InjectService, transport).inject({ mode: Mode.TEST, name: "stripe" }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ConnectError);
    expect((failure as ConnectError).code).toBe(Code.Internal);
    const line = JSON.parse(out.text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 50, msg: "call failed", code: "Internal", name: "stripe", err: { message: "token fetch failed" } });
    for (const value of values) {
      expect(out.text()).not.toContain(value);
      expect((failure as ConnectError).message).not.toContain(value);
    }
  });
});
