/**
 * The readable-field rule: admin answers show the credential fields the
 * registry does not mark sensitive (debug_redact), and nothing else. A
 * canary sits in every sensitive field of every type; every admin answer,
 * read as the bytes on the wire in Connect JSON and binary, must hold none.
 */
import { fromBinary, fromJson, toBinary, toJsonString, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialTypes } from "../../src/credentials/credential-registry.ts";
import { AuditService, ListAuditEventsRequestSchema, ListAuditEventsResponseSchema } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { Mode, SecretType, type Credentials } from "../../src/gen/credbroker/v1/secret_pb.ts";
import {
  CreateSecretRequestSchema,
  CreateSecretResponseSchema,
  DeploySecretsRequestSchema,
  DeploySecretsResponseSchema,
  GetSecretRequestSchema,
  GetSecretResponseSchema,
  ListSecretsRequestSchema,
  ListSecretsResponseSchema,
  SecretService,
  UpdateSecretRequestSchema,
  UpdateSecretResponseSchema,
} from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { canarySecrets } from "../support/canary-credentials.ts";

type Format = "json" | "binary";

let tb: TestBroker;
/** Every answer body seen, as text (binary read as latin1: a UTF-8 canary shows as its bytes). */
const bodies: string[] = [];

async function call<I extends DescMessage, O extends DescMessage>(
  service: { typeName: string },
  method: string,
  input: I,
  output: O,
  request: MessageInitShape<I>,
  format: Format,
): Promise<MessageShape<O>> {
  const message = create(input, request);
  const response = await fetch(`http://${tb.broker.httpAddress}/${service.typeName}/${method}`, {
    method: "POST",
    headers: { authorization: `Bearer ${tb.adminToken}`, "content-type": format === "json" ? "application/json" : "application/proto" },
    body: format === "json" ? toJsonString(input, message) : toBinary(input, message),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const text = Buffer.from(bytes).toString(format === "json" ? "utf8" : "latin1");
  expect(response.status, `${method}: ${text}`).toBe(200);
  bodies.push(text);
  return format === "json" ? fromJson(output, JSON.parse(text)) : fromBinary(output, bytes);
}

const admin = (format: Format) => ({
  create: (req: MessageInitShape<typeof CreateSecretRequestSchema>) =>
    call(SecretService, "CreateSecret", CreateSecretRequestSchema, CreateSecretResponseSchema, req, format),
  get: (req: MessageInitShape<typeof GetSecretRequestSchema>) => call(SecretService, "GetSecret", GetSecretRequestSchema, GetSecretResponseSchema, req, format),
  list: (req: MessageInitShape<typeof ListSecretsRequestSchema>) =>
    call(SecretService, "ListSecrets", ListSecretsRequestSchema, ListSecretsResponseSchema, req, format),
  update: (req: MessageInitShape<typeof UpdateSecretRequestSchema>) =>
    call(SecretService, "UpdateSecret", UpdateSecretRequestSchema, UpdateSecretResponseSchema, req, format),
  deploy: (req: MessageInitShape<typeof DeploySecretsRequestSchema>) =>
    call(SecretService, "DeploySecrets", DeploySecretsRequestSchema, DeploySecretsResponseSchema, req, format),
  audit: () => call(AuditService, "ListAuditEvents", ListAuditEventsRequestSchema, ListAuditEventsResponseSchema, { pageSize: 1000 }, format),
});

/** The readable fields of an answer's credentials, by local name. */
function readableOf(credentials: Credentials | undefined): Record<string, unknown> {
  return { ...(credentials?.kind.value as unknown as Record<string, unknown> | undefined) };
}

beforeAll(async () => {
  tb = await startTestBroker();
});
afterAll(async () => {
  await tb?.close();
});

describe("the canaries cover the registry", () => {
  it("sets every sensitive field of every type (a new sensitive field needs a canary here)", () => {
    const covered = new Set<string>();
    for (const secret of canarySecrets) {
      const kind = create(CreateSecretRequestSchema, { credentials: secret.credentials }).credentials!.kind;
      const values = kind.value as unknown as Record<string, unknown>;
      for (const field of credentialTypes.find((type) => type.case === kind.case)!.fields) {
        if (field.sensitive && values[field.name] !== "" && values[field.name] !== undefined) {
          covered.add(field.path);
        }
      }
    }
    const sensitive = credentialTypes.flatMap((type) => type.fields.filter((field) => field.sensitive).map((field) => field.path));
    expect([...covered].sort()).toEqual([...sensitive].sort());
    expect(sensitive.length).toBe(10);
  });
});

describe.each<Format>(["json", "binary"])("over Connect %s", (format) => {
  const api = admin(format);
  const suffix = format === "json" ? "-j" : "-b";

  it("CreateSecret, GetSecret, ListSecrets, UpdateSecret and DeploySecrets show readable fields and no canary", async () => {
    for (const secret of canarySecrets) {
      const name = secret.name + suffix;
      const created = await api.create({ mode: Mode.TEST, name, credentials: secret.credentials });
      const got = await api.get({ mode: Mode.TEST, name });
      for (const answer of [created.secret, got.secret]) {
        const readable = readableOf(answer?.readableCredentials);
        expect(answer?.readableCredentials?.kind.case).toBe(secret.credentials.kind?.case);
        for (const [field, value] of Object.entries(secret.readable)) {
          expect(readable[field], `${name}.${field}`).toEqual(value);
        }
        for (const field of credentialTypes.find((type) => type.case === answer?.readableCredentials?.kind.case)!.fields) {
          if (field.sensitive) {
            expect(readable[field.name], `${name}.${field.name} is sensitive`).toBe("");
          }
        }
      }
      await api.update({ mode: Mode.TEST, name, description: "touched" });
      await api.update({ mode: Mode.TEST, name, description: "masked", updateMask: { paths: ["description"] } });
    }
    // a rotation through a mask: the new canary must not come back either
    const rotated = await api.update({
      mode: Mode.TEST,
      name: `c-basic${suffix}`,
      credentials: { kind: { case: "basicAuth", value: { password: `rotated-canary${suffix}-31f9` } } },
      updateMask: { paths: ["credentials.basic_auth.password"] },
    });
    expect(readableOf(rotated.secret?.readableCredentials)).toMatchObject({ username: "basic-user", password: "" });
    const names = canarySecrets.map((secret) => secret.name + suffix);
    const dry = await api.deploy({ names, validateOnly: true });
    expect(dry.createdNames).toEqual(names);
    await api.deploy({ names });
    for (const mode of [Mode.TEST, Mode.LIVE]) {
      const listed = await api.list({ mode, pageSize: 1000 });
      expect(listed.secrets.length).toBeGreaterThanOrEqual(names.length);
      // the listing opens no payload: no credential field at all
      expect(listed.secrets.every((secret) => secret.readableCredentials === undefined)).toBe(true);
      await api.list({ mode, nameContains: suffix, types: [SecretType.OAUTH2_CLIENT_CREDENTIALS], pageSize: 1 });
      for (const name of names) {
        await api.get({ mode, name });
      }
    }
    await api.audit();
  });

  it("no answer, log line or audit event held a canary", () => {
    const canaries = [...canarySecrets.flatMap((secret) => secret.canaries), `rotated-canary${suffix}-31f9`];
    expect(bodies.length).toBeGreaterThan(40);
    const seen = bodies.join("\n") + tb.logs();
    for (const canary of canaries) {
      expect(seen.includes(canary), canary).toBe(false);
    }
  });
});
