/**
 * UpdateSecret with an update_mask (AIP-134) through a real broker: one
 * value replaced without resending the others, bad paths refused naming
 * the path, expectedVersion still applied, and nothing written on failure.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, OAuth2AuthMethod, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService, UpdateSecretRequestSchema, UpdateSecretResponseSchema } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { detailsOfConnectError, detailsOfGrpcTrailer } from "../support/error-details.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";

type UpdateInit = MessageInitShape<typeof UpdateSecretRequestSchema>;

let tb: TestBroker;
let admin: Client<typeof SecretService>;
const basic = (username: string, password: string) => ({ kind: { case: "basicAuth" as const, value: { username, password } } });
const basicHeader = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;

async function headerOf(name: string): Promise<string | undefined> {
  const answer = await tb.connect(InjectService).inject({ mode: Mode.TEST, name, step: StepKind.HTTP });
  return answer.material.case === "http" ? answer.material.value.headers[0]?.value : undefined;
}

beforeAll(async () => {
  tb = await startTestBroker();
  admin = tb.connect(SecretService, tb.adminToken);
});
afterAll(async () => {
  await tb?.close();
});

describe("update masks", () => {
  it("rotates only the password: Inject answers the new header with the old username", async () => {
    await admin.createSecret({ mode: Mode.TEST, name: "rotate-me", description: "kept", credentials: basic("svc-user", "old-pw") });
    expect(await headerOf("rotate-me")).toBe(basicHeader("svc-user", "old-pw"));
    const updated = await admin.updateSecret({
      mode: Mode.TEST,
      name: "rotate-me",
      // the username sent here is not in the mask: it must not be applied
      credentials: basic("ignored-user", "new-pw"),
      updateMask: { paths: ["credentials.basic_auth.password"] },
    });
    expect(updated.secret?.version).toBe(2n);
    expect(updated.secret?.description).toBe("kept");
    expect(await headerOf("rotate-me")).toBe(basicHeader("svc-user", "new-pw"));
  });

  it("the same over Connect JSON, where the mask is camelCase text, and over grpc-js with proto names", async () => {
    const response = await fetch(`http://${tb.broker.httpAddress}/credbroker.v1.SecretService/UpdateSecret`, {
      method: "POST",
      headers: { authorization: `Bearer ${tb.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({
        mode: "MODE_TEST",
        name: "rotate-me",
        credentials: { basicAuth: { password: "json-pw" } },
        updateMask: "credentials.basicAuth.password,description",
        description: "via JSON",
      }),
    });
    expect(response.status).toBe(200);
    expect(await headerOf("rotate-me")).toBe(basicHeader("svc-user", "json-pw"));
    const grpcJs = createGrpcJsClient(SecretService, tb.broker.grpcAddress, tb.adminToken);
    try {
      const result = await grpcJs.call("UpdateSecret", UpdateSecretRequestSchema, UpdateSecretResponseSchema, {
        mode: Mode.TEST,
        name: "rotate-me",
        credentials: basic("", "grpc-pw"),
        updateMask: { paths: ["credentials.basic_auth.password"] },
      });
      expect(result.ok && result.message.secret?.description).toBe("via JSON");
      const bad = await grpcJs.call("UpdateSecret", UpdateSecretRequestSchema, UpdateSecretResponseSchema, {
        mode: Mode.TEST,
        name: "rotate-me",
        updateMask: { paths: ["credentials.basicAuth.password"] },
      });
      expect(bad.ok).toBe(false);
      if (!bad.ok) {
        expect(bad.code).toBe(Code.InvalidArgument);
        expect(detailsOfGrpcTrailer(bad.metadata)?.fieldViolations[0]?.field).toBe("updateMask.paths[0]");
      }
    } finally {
      grpcJs.close();
    }
    expect(await headerOf("rotate-me")).toBe(basicHeader("svc-user", "grpc-pw"));
  });

  it("a masked description the request leaves unset is emptied; a description alone changes no value", async () => {
    await admin.updateSecret({ mode: Mode.TEST, name: "rotate-me", updateMask: { paths: ["description"] } });
    expect((await admin.getSecret({ mode: Mode.TEST, name: "rotate-me" })).secret?.description).toBe("");
    expect(await headerOf("rotate-me")).toBe(basicHeader("svc-user", "grpc-pw"));
  });

  it("replaces the OAuth2 client secret alone, keeping scopes and the rest, and validates the merged values", async () => {
    await admin.createSecret({
      mode: Mode.TEST,
      name: "oauth",
      credentials: {
        kind: { case: "oauth2ClientCredentials", value: { clientId: "cid", clientSecret: "s1", tokenUrl: "https://idp.example/token", scopes: ["a", "b"] } },
      },
    });
    const rotated = await admin.updateSecret({
      mode: Mode.TEST,
      name: "oauth",
      credentials: { kind: { case: "oauth2ClientCredentials", value: { clientSecret: "s2" } } },
      updateMask: { paths: ["credentials.oauth2_client_credentials.client_secret"] },
    });
    expect(rotated.secret?.readableCredentials?.kind.value).toMatchObject({ clientId: "cid", scopes: ["a", "b"], clientSecret: "" });
    // a masked required field the request leaves empty: the merged values fail the registry's rule, naming the field
    const refused = await admin
      .updateSecret({
        mode: Mode.TEST,
        name: "oauth",
        credentials: { kind: { case: "oauth2ClientCredentials", value: { authMethod: OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_POST } } },
        updateMask: { paths: ["credentials.oauth2_client_credentials.auth_method", "credentials.oauth2_client_credentials.token_url"] },
      })
      .then(() => undefined, detailsOfConnectError);
    expect(refused?.fieldViolations.map((violation) => violation.field)).toEqual(["credentials.oauth2ClientCredentials.tokenUrl"]);
    expect((await admin.getSecret({ mode: Mode.TEST, name: "oauth" })).secret?.version).toBe(2n);
  });

  it("expectedVersion still applies: a stale one is ABORTED and writes nothing", async () => {
    const current = (await admin.getSecret({ mode: Mode.TEST, name: "rotate-me" })).secret!.version;
    const stale = await admin
      .updateSecret({
        mode: Mode.TEST,
        name: "rotate-me",
        credentials: basic("", "stale-pw"),
        updateMask: { paths: ["credentials.basic_auth.password"] },
        expectedVersion: current - 1n,
      })
      .then(() => undefined, (error: unknown) => ConnectError.from(error));
    expect(stale?.code).toBe(Code.Aborted);
    const fresh = await admin.updateSecret({
      mode: Mode.TEST,
      name: "rotate-me",
      credentials: basic("", "fresh-pw"),
      updateMask: { paths: ["credentials.basic_auth.password"] },
      expectedVersion: current,
    });
    expect(fresh.secret?.version).toBe(current + 1n);
    expect(await headerOf("rotate-me")).toBe(basicHeader("svc-user", "fresh-pw"));
  });

  const badPaths: Array<[string, string[], string]> = [
    ["an unknown field", ["credentials.basic_auth.pasword"], "updateMask.paths[0]"],
    ["a field of another type", ["description", "credentials.api_key.key_value"], "updateMask.paths[1]"],
    ["another type as a whole", ["credentials.bearer_token"], "updateMask.paths[0]"],
    ["name", ["name"], "updateMask.paths[0]"],
    ["mode", ["mode"], "updateMask.paths[0]"],
    ["a camelCase path in the message (JSON names are the JSON form's)", ["credentials.basicAuth.password"], "updateMask.paths[0]"],
    ["a path below a field", ["credentials.basic_auth.password.x"], "updateMask.paths[0]"],
    ["a field of no message", ["secret"], "updateMask.paths[0]"],
  ];

  it.each(badPaths)("%s: INVALID_ARGUMENT naming the path, nothing written", async (_label, paths, field) => {
    const before = await admin.getSecret({ mode: Mode.TEST, name: "rotate-me" });
    const request: UpdateInit = { mode: Mode.TEST, name: "rotate-me", credentials: basic("", "never-pw"), updateMask: { paths } };
    const refused = await admin.updateSecret(request).then(() => undefined, detailsOfConnectError);
    expect(refused?.code).toBe(Code.InvalidArgument);
    expect(refused?.fieldViolations.map((violation) => violation.field)).toEqual([field]);
    const bad = paths[Number(field.match(/\d+/)![0])]!;
    expect(refused?.fieldViolations[0]?.description).toContain(bad);
    expect(refused?.text).not.toContain("never-pw");
    expect((await admin.getSecret({ mode: Mode.TEST, name: "rotate-me" })).secret).toEqual(before.secret);
  });

  it("credentials of another type than the stored secret's: FAILED_PRECONDITION, as without a mask", async () => {
    const refused = await admin
      .updateSecret({
        mode: Mode.TEST,
        name: "rotate-me",
        credentials: { kind: { case: "bearerToken", value: { token: "t" } } },
        updateMask: { paths: ["credentials.basic_auth.password"] },
      })
      .then(() => undefined, (error: unknown) => ConnectError.from(error));
    expect(refused?.code).toBe(Code.FailedPrecondition);
  });
});
