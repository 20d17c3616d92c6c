/**
 * Who a refused call was, as its audit event records it, over a real broker
 * on both listeners: a known token refused for its mode or its role names
 * its caller kind; an unknown or missing token is CALLER_KIND_NONE. Never
 * the token itself.
 */
import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { AuditEventSchema, AuditService, CallerKind } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { GetSecretRequestSchema, GetSecretResponseSchema, SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";

const tokens = {
  injectToken: { value: "CANARY-inject-both-7c0d2b9e41a85f36", source: "test" },
  injectTokenTest: { value: "CANARY-inject-test-3e9a1f07c2d84b65", source: "test" },
  injectTokenLive: { value: "CANARY-inject-live-b61d8e2a9f0c4735", source: "test" },
};
const unknownToken = "CANARY-unknown-token-5f2c8a1e0d9b7346";

let tb: TestBroker | undefined;
afterEach(async () => {
  await tb?.close();
  tb = undefined;
});

/** A refusal to provoke: the token presented, the call, and the code and caller kind expected. */
interface Case {
  id: string;
  token: string | undefined;
  call: "inject-test" | "inject-live" | "get-secret";
  code: Code;
  kind: CallerKind;
}

describe("the caller kind of refused calls", () => {
  it("names the kind of a known token refused for its mode or role, and NONE for an unknown or missing one, over Connect and gRPC", async () => {
    tb = await startTestBroker(tokens);
    const admin = tb.connect(SecretService, tb.adminToken);
    for (const mode of [Mode.TEST, Mode.LIVE]) {
      await admin.createSecret({ mode, name: "db", credentials: { kind: { case: "bearerToken", value: { token: "v" } } } });
    }
    const cases: Case[] = [
      { id: "test-asks-live", token: tokens.injectTokenTest.value, call: "inject-live", code: Code.PermissionDenied, kind: CallerKind.INJECT_TEST },
      { id: "live-asks-test", token: tokens.injectTokenLive.value, call: "inject-test", code: Code.PermissionDenied, kind: CallerKind.INJECT_LIVE },
      { id: "admin-at-inject", token: tb.adminToken, call: "inject-test", code: Code.Unauthenticated, kind: CallerKind.ADMIN },
      { id: "inject-at-admin", token: tokens.injectToken.value, call: "get-secret", code: Code.Unauthenticated, kind: CallerKind.INJECT },
      { id: "unknown-at-inject", token: unknownToken, call: "inject-live", code: Code.Unauthenticated, kind: CallerKind.NONE },
      { id: "unknown-at-admin", token: unknownToken, call: "get-secret", code: Code.Unauthenticated, kind: CallerKind.NONE },
      { id: "none-at-inject", token: undefined, call: "inject-test", code: Code.Unauthenticated, kind: CallerKind.NONE },
    ];
    const grpcInject = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    const grpcAdmin = createGrpcJsClient(SecretService, tb.broker.grpcAddress);
    for (const c of cases) {
      const request = { mode: c.call === "inject-live" ? Mode.LIVE : Mode.TEST, name: "db" };
      const connectId = `connect-${c.id}`;
      const headers = { headers: { "x-request-id": connectId } };
      const connectCall =
        c.call === "get-secret"
          ? tb.connect(SecretService, c.token).getSecret(request, headers)
          : tb.connect(InjectService, c.token).inject(request, headers);
      const connectCode = await connectCall.then(
        () => "ok",
        (error: unknown) => ConnectError.from(error).code,
      );
      expect([connectId, connectCode]).toEqual([connectId, c.code]);
      const options = { ...(c.token === undefined ? {} : { token: c.token }), metadata: { "x-request-id": `grpc-${c.id}` } };
      const grpcAnswer =
        c.call === "get-secret"
          ? await grpcAdmin.call("GetSecret", GetSecretRequestSchema, GetSecretResponseSchema, request, options)
          : await grpcInject.call("Inject", InjectRequestSchema, InjectResponseSchema, request, options);
      expect([c.id, grpcAnswer.ok ? "ok" : grpcAnswer.code]).toEqual([c.id, c.code]);
    }
    grpcInject.close();
    grpcAdmin.close();

    const events = (await tb.connect(AuditService, tb.adminToken).listAuditEvents({ pageSize: 1000 })).events;
    const kinds = new Map(events.map((e) => [e.requestId, { code: e.code, kind: e.caller?.kind }]));
    const codeName = (code: Code) => (code === Code.PermissionDenied ? "permission_denied" : "unauthenticated");
    for (const c of cases) {
      for (const listener of ["connect", "grpc"]) {
        expect([`${listener}-${c.id}`, kinds.get(`${listener}-${c.id}`)]).toEqual([
          `${listener}-${c.id}`,
          { code: codeName(c.code), kind: c.kind },
        ]);
      }
    }
    for (const event of events) {
      expect(toJsonString(AuditEventSchema, event)).not.toContain("CANARY");
    }
  });
});
