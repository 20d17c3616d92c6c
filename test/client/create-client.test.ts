import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Code, ConnectError, createCredbrokerClient, parseBrokerAddress, type CredbrokerClient } from "../../src/client/index.ts";
import { Mode, SecretType, StepKind } from "../../src/client/gen.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";

const apiKey = (keyValue: string) => ({ kind: { case: "apiKey" as const, value: { keyName: "X-API-Key", keyValue } } });

describe("createCredbrokerClient", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup();
    }
  });
  const broker = async (overrides: Parameters<typeof startTestBroker>[0] = {}): Promise<TestBroker> => {
    const tb = await startTestBroker(overrides);
    cleanups.push(() => tb.close());
    return tb;
  };
  const client = (options: Parameters<typeof createCredbrokerClient>[0]): CredbrokerClient => {
    const c = createCredbrokerClient(options);
    cleanups.push(() => c.close());
    return c;
  };

  /** Create, get, list and Inject through a client: what every transport must do. */
  async function roundTrip(c: CredbrokerClient, name: string): Promise<void> {
    const created = await c.secrets.createSecret({ mode: Mode.TEST, name, credentials: apiKey(`value-of-${name}`) });
    expect(created.secret).toMatchObject({ name, type: SecretType.API_KEY, version: 1n });
    expect((await c.secrets.getSecret({ mode: Mode.TEST, name })).secret?.name).toBe(name);
    expect((await c.secrets.listSecrets({ mode: Mode.TEST })).secrets.map((s) => s.name)).toContain(name);
    const res = await c.inject.inject({ mode: Mode.TEST, name, step: StepKind.HTTP });
    expect(res.material.case === "http" && res.material.value.headers[0]?.value).toBe(`value-of-${name}`);
  }

  it("speaks gRPC to the gRPC listener by default, sending the token as a bearer header", async () => {
    const tb = await broker();
    await roundTrip(client({ addr: tb.broker.grpcAddress, token: tb.adminToken }), "over-grpc");
  });

  it("speaks the Connect protocol to the HTTP listener", async () => {
    const tb = await broker();
    await roundTrip(client({ addr: tb.broker.httpAddress ?? "", token: tb.adminToken, protocol: "connect" }), "over-connect");
    // the gRPC listener speaks gRPC only, so a Connect-protocol call there fails: the option is honoured
    const mismatched = client({ addr: tb.broker.grpcAddress, token: tb.adminToken, protocol: "connect" });
    await expect(mismatched.secrets.listSecrets({ mode: Mode.TEST })).rejects.toBeInstanceOf(ConnectError);
  });

  it("reaches both listeners on unix sockets", async () => {
    const dir = await mkdtemp(join(tmpdir(), "credbroker-sock-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const tb = await broker({ listen: `unix:${join(dir, "grpc.sock")}`, httpListen: `unix:${join(dir, "http.sock")}` });
    expect(tb.broker.grpcAddress).toBe(`unix:${join(dir, "grpc.sock")}`);
    await roundTrip(client({ addr: tb.broker.grpcAddress, token: tb.adminToken }), "unix-grpc");
    await roundTrip(client({ addr: `unix://${join(dir, "http.sock")}`, token: tb.adminToken, protocol: "connect" }), "unix-connect");
  });

  it("answers ConnectErrors with the broker's codes: no or a wrong token, and a missing secret", async () => {
    const tb = await broker();
    const anonymous = client({ addr: tb.broker.grpcAddress });
    const noToken = await anonymous.secrets.listSecrets({ mode: Mode.TEST }).catch((e: unknown) => e);
    expect(noToken).toBeInstanceOf(ConnectError);
    expect((noToken as ConnectError).code).toBe(Code.Unauthenticated);
    const wrong = await client({ addr: tb.broker.grpcAddress, token: "not-the-token" })
      .secrets.listSecrets({ mode: Mode.TEST })
      .catch((e: unknown) => e);
    expect((wrong as ConnectError).code).toBe(Code.Unauthenticated);
    const missing = await client({ addr: tb.broker.grpcAddress, token: tb.adminToken })
      .secrets.getSecret({ mode: Mode.LIVE, name: "absent" })
      .catch((e: unknown) => e);
    expect((missing as ConnectError).code).toBe(Code.NotFound);
    // Inject is open to local callers unless the broker has an inject token
    await expect(anonymous.inject.inject({ mode: Mode.TEST, name: "absent" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("sends injectToken to InjectService and token to SecretService", async () => {
    const injectToken = "inject-token-for-the-test-0a8d2f61";
    const tb = await broker({ injectToken: { value: injectToken, source: "test" } });
    const both = client({ addr: tb.broker.grpcAddress, token: tb.adminToken, injectToken });
    await roundTrip(both, "two-tokens");
    const adminOnly = client({ addr: tb.broker.grpcAddress, token: tb.adminToken });
    await expect(adminOnly.inject.inject({ mode: Mode.TEST, name: "two-tokens" })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
  });

  it("parses host:port, [v6]:port and unix:/path, and refuses anything else", () => {
    expect(parseBrokerAddress("127.0.0.1:7390")).toEqual({ kind: "tcp", baseUrl: "http://127.0.0.1:7390" });
    expect(parseBrokerAddress("localhost:1")).toEqual({ kind: "tcp", baseUrl: "http://localhost:1" });
    expect(parseBrokerAddress("[::1]:7390")).toEqual({ kind: "tcp", baseUrl: "http://[::1]:7390" });
    expect(parseBrokerAddress("unix:/run/credbroker.sock")).toEqual({ kind: "unix", path: "/run/credbroker.sock" });
    expect(parseBrokerAddress("unix:///run/credbroker.sock")).toEqual({ kind: "unix", path: "/run/credbroker.sock" });
    for (const bad of ["127.0.0.1", "http://127.0.0.1:7390", "::1:7390", "host:70000", "unix:relative.sock", ""]) {
      expect(() => parseBrokerAddress(bad), bad).toThrow(TypeError);
    }
    expect(() => createCredbrokerClient({ addr: "nonsense" })).toThrow(/expected host:port/);
  });
});
