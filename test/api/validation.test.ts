/**
 * Every validation rule of issue 2 item 7, called on the ServiceImpls over a
 * real LMDB store: each violation answers ERR_INVALID_FIELD (ERR_TOO_LARGE for
 * size caps) naming the exact field, and writes nothing.
 */
import { generateKeyPairSync } from "node:crypto";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredbrokerError, type CredbrokerErrorCode } from "../../src/errors.ts";
import { SecretRecordSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { InjectRequestSchema } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import {
  CredentialsSchema,
  Mode,
  SecretType,
  StepKind,
  type OAuth2AuthMethod,
} from "../../src/gen/credbroker/v1/secret_pb.ts";
import {
  CreateSecretRequestSchema,
  DeleteSecretRequestSchema,
  DeploySecretsRequestSchema,
  GetSecretRequestSchema,
  ListSecretsRequestSchema,
  ListSecretsResponseSchema,
  UpdateSecretRequestSchema,
} from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { createTestServices, handlerContext, InjectService, type TestServices } from "../support/services.ts";

type CredentialsInit = MessageInitShape<typeof CredentialsSchema>;
type CreateInit = MessageInitShape<typeof CreateSecretRequestSchema>;
type UpdateInit = MessageInitShape<typeof UpdateSecretRequestSchema>;

const KiB64 = 64 * 1024;

const bearer = (token: string): CredentialsInit => ({ kind: { case: "bearerToken", value: { token } } });
const basic = (username: string, password: string): CredentialsInit => ({
  kind: { case: "basicAuth", value: { username, password } },
});
const apiKey = (keyName: string, keyValue: string): CredentialsInit => ({
  kind: { case: "apiKey", value: { keyName, keyValue } },
});
const sftpPassword = (username: string, password: string): CredentialsInit => ({
  kind: { case: "sftpPassword", value: { username, password } },
});
const sftpPrivateKey = (username: string, privateKey: string, passphrase = ""): CredentialsInit => ({
  kind: { case: "sftpPrivateKey", value: { username, privateKey, passphrase } },
});
const json = (text: string): CredentialsInit => ({ kind: { case: "jsonCredentials", value: { json: text } } });

interface OAuth2Init {
  clientId?: string;
  clientSecret?: string;
  tokenUrl?: string;
  scopes?: string[];
  audience?: string;
  resource?: string;
  authMethod?: OAuth2AuthMethod;
}
const oauth2 = (init: OAuth2Init = {}): CredentialsInit => ({
  kind: {
    case: "oauth2ClientCredentials",
    value: { clientId: "client-1", clientSecret: "s3cret", tokenUrl: "https://auth.example.com/token", ...init },
  },
});

const ed25519Pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

let svc: TestServices;
let counter = 0;
/** A fresh valid name, so that tests that succeed do not collide. */
const fresh = (prefix = "s"): string => `${prefix}-${++counter}`;

beforeAll(async () => {
  svc = await createTestServices();
});
afterAll(async () => {
  await svc.close();
});

/** Every stored record of both modes, as bytes: equal snapshots mean nothing was written. */
function snapshot(): string[] {
  return [Mode.TEST, Mode.LIVE].flatMap((mode) =>
    svc.store.list(mode, "", 1_000_000).map((record) => Buffer.from(toBinary(SecretRecordSchema, record)).toString("base64")),
  );
}

async function caught(call: () => unknown): Promise<CredbrokerError> {
  let error: unknown;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CredbrokerError);
  return error as CredbrokerError;
}

/** Runs the call, expects the code and field, and that the store is byte for byte as before. */
async function expectRejected(
  call: () => unknown,
  field: string,
  code: CredbrokerErrorCode = "ERR_INVALID_FIELD",
): Promise<void> {
  const before = snapshot();
  const error = await caught(call);
  expect({ code: error.code, field: error.field }).toEqual({ code, field });
  expect(snapshot()).toEqual(before);
}

const createSecret = (init: CreateInit) =>
  svc.secrets.createSecret(create(CreateSecretRequestSchema, init), handlerContext());
const updateSecret = (init: UpdateInit) =>
  svc.secrets.updateSecret(create(UpdateSecretRequestSchema, init), handlerContext());

/** A create of `credentials` under a fresh name in test mode. */
const createWith = (credentials: CredentialsInit, name = fresh()) => () =>
  createSecret({ mode: Mode.TEST, name, credentials });

async function expectCreated(credentials: CredentialsInit, type?: SecretType): Promise<void> {
  const name = fresh();
  const res = await createSecret({ mode: Mode.TEST, name, credentials });
  expect(res.secret?.name).toBe(name);
  expect(res.secret?.version).toBe(1n);
  if (type !== undefined) {
    expect(res.secret?.type).toBe(type);
  }
  expect(svc.store.get(Mode.TEST, name)?.secret?.version).toBe(1n);
}

describe("names", () => {
  const bad: Array<[string, string]> = [
    ["empty", ""],
    ["64 characters", "a".repeat(64)],
    ["uppercase", "Stripe-api-key"],
    ["leading '-'", "-stripe"],
    ["leading '.'", ".stripe"],
    ["leading '_'", "_stripe"],
    ["a space", "stripe api key"],
    ["a trailing newline", "stripe\n"],
    ["a slash", "stripe/key"],
    ["a colon", "stripe:key"],
    ["unicode letters", "clé-api"],
    ["a fullwidth letter", "ｓtripe"],
    ["'.' alone", "."],
  ];

  it.each(bad)("create refuses a name with %s", async (_, name) => {
    await expectRejected(() => createSecret({ mode: Mode.TEST, name, credentials: bearer("t") }), "name");
  });

  it("accepts 63 characters", async () => {
    const name = `a${"b".repeat(62)}`;
    const res = await createSecret({ mode: Mode.TEST, name, credentials: bearer("t") });
    expect(res.secret?.name).toBe(name);
    expect(svc.store.get(Mode.TEST, name)?.secret?.name).toBe(name);
  });

  it("accepts a name that starts with a digit and holds '.', '_' and '-'", async () => {
    for (const name of ["9lives", "0", "a.b_c-d", "sftp-production"]) {
      const res = await createSecret({ mode: Mode.TEST, name, credentials: bearer("t") });
      expect(res.secret?.name).toBe(name);
    }
  });

  it("is checked by get, update, delete and inject", async () => {
    await expectRejected(
      () => svc.secrets.getSecret(create(GetSecretRequestSchema, { mode: Mode.TEST, name: "Bad" }), handlerContext()),
      "name",
    );
    await expectRejected(() => updateSecret({ mode: Mode.TEST, name: "Bad", description: "x" }), "name");
    await expectRejected(
      () =>
        svc.secrets.deleteSecret(create(DeleteSecretRequestSchema, { mode: Mode.TEST, name: "-bad" }), handlerContext()),
      "name",
    );
    await expectRejected(
      () =>
        svc.inject.inject(
          create(InjectRequestSchema, { mode: Mode.TEST, name: "a".repeat(64) }),
          handlerContext(InjectService),
        ),
      "name",
    );
  });
});

describe("mode and step", () => {
  const badModes: Array<[string, Mode]> = [
    ["unspecified", Mode.UNSPECIFIED],
    ["an unknown number", 7 as Mode],
  ];

  beforeAll(async () => {
    await createSecret({ mode: Mode.TEST, name: "mode-target", credentials: bearer("t") });
  });

  it.each(badModes)("every method refuses a mode that is %s", async (_, mode) => {
    await expectRejected(() => createSecret({ mode, name: fresh(), credentials: bearer("t") }), "mode");
    await expectRejected(
      () => svc.secrets.getSecret(create(GetSecretRequestSchema, { mode, name: "mode-target" }), handlerContext()),
      "mode",
    );
    await expectRejected(
      () => svc.secrets.listSecrets(create(ListSecretsRequestSchema, { mode }), handlerContext()),
      "mode",
    );
    await expectRejected(() => updateSecret({ mode, name: "mode-target", description: "x" }), "mode");
    await expectRejected(
      () => svc.secrets.deleteSecret(create(DeleteSecretRequestSchema, { mode, name: "mode-target" }), handlerContext()),
      "mode",
    );
    await expectRejected(
      () =>
        svc.inject.inject(create(InjectRequestSchema, { mode, name: "mode-target" }), handlerContext(InjectService)),
      "mode",
    );
  });

  it("inject refuses a step that is an unknown number", async () => {
    const name = fresh();
    await createSecret({ mode: Mode.TEST, name, credentials: bearer("t") });
    await expectRejected(
      () =>
        svc.inject.inject(
          create(InjectRequestSchema, { mode: Mode.TEST, name, step: 9 as StepKind }),
          handlerContext(InjectService),
        ),
      "step",
    );
    // the same call with a known step works, so the refusal is about the step
    const ok = await svc.inject.inject(
      create(InjectRequestSchema, { mode: Mode.TEST, name, step: StepKind.HTTP }),
      handlerContext(InjectService),
    );
    expect(ok.material?.case).toBe("http");
  });
});

describe("credentials: presence and required fields", () => {
  it("refuses a create without credentials", async () => {
    await expectRejected(() => createSecret({ mode: Mode.TEST, name: fresh() }), "credentials");
  });

  it("refuses credentials with no type set", async () => {
    await expectRejected(createWith({}), "credentials");
  });

  const required: Array<[string, CredentialsInit]> = [
    ["credentials.basicAuth.username", basic("", "pw")],
    ["credentials.basicAuth.password", basic("user", "")],
    ["credentials.bearerToken.token", bearer("")],
    ["credentials.apiKey.keyName", apiKey("", "value")],
    ["credentials.apiKey.keyValue", apiKey("X-Api-Key", "")],
    ["credentials.sftpPassword.username", sftpPassword("", "pw")],
    ["credentials.sftpPassword.password", sftpPassword("deploy", "")],
    ["credentials.sftpPrivateKey.username", sftpPrivateKey("", ed25519Pem)],
    ["credentials.sftpPrivateKey.privateKey", sftpPrivateKey("deploy", "")],
    ["credentials.oauth2ClientCredentials.clientId", oauth2({ clientId: "" })],
    ["credentials.oauth2ClientCredentials.clientSecret", oauth2({ clientSecret: "" })],
    ["credentials.oauth2ClientCredentials.tokenUrl", oauth2({ tokenUrl: "" })],
    ["credentials.jsonCredentials.json", json("")],
  ];

  it.each(required)("%s is required", async (field, credentials) => {
    await expectRejected(createWith(credentials), field);
  });

  it("accepts one valid secret of every type", async () => {
    await expectCreated(basic("user", "pw"), SecretType.BASIC_AUTH);
    await expectCreated(bearer("tok"), SecretType.BEARER_TOKEN);
    await expectCreated(apiKey("X-Api-Key", "v"), SecretType.API_KEY);
    await expectCreated(sftpPassword("deploy", "pw"), SecretType.SFTP_PASSWORD);
    await expectCreated(sftpPrivateKey("deploy", ed25519Pem), SecretType.SFTP_PRIVATE_KEY);
    await expectCreated(oauth2(), SecretType.OAUTH2_CLIENT_CREDENTIALS);
    await expectCreated(json('{"type":"service_account"}'), SecretType.JSON_CREDENTIALS);
  });

  it("refuses a private key that is not a key, naming the field", async () => {
    await expectRejected(
      createWith(sftpPrivateKey("deploy", "not a key")),
      "credentials.sftpPrivateKey.privateKey",
    );
  });
});

describe("usernames", () => {
  it("refuses a Basic username with ':' (RFC 7617)", async () => {
    await expectRejected(createWith(basic("ala:ddin", "pw")), "credentials.basicAuth.username");
  });

  it("accepts ':' in a Basic password", async () => {
    await expectCreated(basic("aladdin", "open:sesame"));
  });

  it.each([
    ["credentials.basicAuth.username", basic("ala\nddin", "pw")],
    ["credentials.sftpPassword.username", sftpPassword("deploy\r", "pw")],
    ["credentials.sftpPrivateKey.username", sftpPrivateKey("de\u0000ploy", ed25519Pem)],
  ] as Array<[string, CredentialsInit]>)("refuses control characters in %s", async (field, credentials) => {
    await expectRejected(createWith(credentials), field);
  });
});

describe("API key names", () => {
  const notTokens = [
    "X Api Key",
    "X-Api-Key:",
    "X-Api(Key)",
    "X-Api/Key",
    "X-Äpi-Key",
    "X-Api\r\nKey",
    "\"X-Api-Key\"",
    "X-Api-Key ",
    "@key",
    "x@y",
    "[key]",
  ];
  it.each(notTokens)("refuses %j (not an RFC 9110 token)", async (keyName) => {
    await expectRejected(createWith(apiKey(keyName, "value")), "credentials.apiKey.keyName");
  });

  const reserved = [
    "Host",
    "host",
    "Content-Length",
    "CONTENT-LENGTH",
    "Transfer-Encoding",
    "Connection",
    "Upgrade",
    "TE",
    "Trailer",
    "Keep-Alive",
  ];
  it.each(reserved)("refuses the reserved header %s", async (keyName) => {
    await expectRejected(createWith(apiKey(keyName, "value")), "credentials.apiKey.keyName");
  });

  it("refuses Proxy-Connection, the connection-specific header of RFC 9113 8.2.2 missing from the reserved list", async () => {
    // Node's http2 client throws ERR_HTTP2_INVALID_CONNECTION_HEADERS for it, as for Connection and Keep-Alive
    await expectRejected(createWith(apiKey("Proxy-Connection", "value")), "credentials.apiKey.keyName");
  });

  it.each(["X-Api-Key", "apikey", "x_api.key", "X-Key~!#$%&'*+^`|", "Authorization", "9key"])(
    "accepts the token %j",
    async (keyName) => {
      await expectCreated(apiKey(keyName, "value"), SecretType.API_KEY);
    },
  );
});

describe("header values", () => {
  const bad: Array<[string, string]> = [
    ["CR LF", "abc\r\ndef"],
    ["LF", "abc\ndef"],
    ["CR", "abc\rdef"],
    ["NUL", "abc\u0000def"],
    ["DEL", "abc\u007fdef"],
    ["a character above U+00FF", "tok€n"],
    ["a leading space", " abc"],
    ["a trailing space", "abc "],
  ];

  it.each(bad)("a bearer token with %s is refused", async (_, token) => {
    await expectRejected(createWith(bearer(token)), "credentials.bearerToken.token");
  });

  it.each(bad)("an API key value with %s is refused", async (_, value) => {
    await expectRejected(createWith(apiKey("X-Api-Key", value)), "credentials.apiKey.keyValue");
  });

  it("accepts visible ASCII and an inner tab", async () => {
    await expectCreated(bearer("eyJ.abc-_~+/=="));
    await expectCreated(apiKey("X-Api-Key", "a\tb !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"));
  });
});

describe("JSON credentials", () => {
  const bad: Array<[string, string]> = [
    ["an array", "[1, 2]"],
    ["an empty array", "[]"],
    ["a string", '"a string"'],
    ["null", "null"],
    ["a number", "42"],
    ["a boolean", "true"],
    ["invalid JSON", "{"],
    ["single quotes", "{'a': 1}"],
    ["a trailing comma", '{"a": 1,}'],
    ["two documents", "{} {}"],
  ];

  it.each(bad)("refuses %s", async (_, text) => {
    await expectRejected(createWith(json(text)), "credentials.jsonCredentials.json");
  });

  it("accepts an object", async () => {
    await expectCreated(json("{}"), SecretType.JSON_CREDENTIALS);
    await expectCreated(json(' {"client_email": "a@b.c", "nested": {"k": [1, 2]}} '), SecretType.JSON_CREDENTIALS);
  });
});

describe("OAuth2 token URL", () => {
  const field = "credentials.oauth2ClientCredentials.tokenUrl";

  it.each([
    "http://auth.example.com/token",
    "http://10.0.0.1/token",
    "http://192.168.1.10:8080/token",
    "http://localhost.example.com/token",
    "http://127.0.0.1.nip.io/token",
  ])("refuses http to a non-loopback host: %s", async (tokenUrl) => {
    await expectRejected(createWith(oauth2({ tokenUrl })), field);
  });

  it.each([
    "http://127.0.0.1:8080/token",
    "http://127.9.8.7/token",
    "http://localhost:9000/oauth/token",
    "http://[::1]:9000/token",
    "https://auth.example.com/oauth2/token",
    "https://auth.example.com:8443/token?tenant=a",
  ])("accepts %s", async (tokenUrl) => {
    await expectCreated(oauth2({ tokenUrl }), SecretType.OAUTH2_CLIENT_CREDENTIALS);
  });

  it.each([
    ["ftp", "ftp://auth.example.com/token"],
    ["file", "file:///etc/passwd"],
    ["user:pass@", "https://user:pass@auth.example.com/token"],
    ["user@", "https://user@auth.example.com/token"],
    ["user:pass@ on loopback http", "http://user:pass@127.0.0.1/token"],
    ["a fragment", "https://auth.example.com/token#frag"],
    ["a relative URL", "/oauth/token"],
    ["no scheme", "auth.example.com/token"],
  ])("refuses %s", async (_, tokenUrl) => {
    await expectRejected(createWith(oauth2({ tokenUrl })), field);
  });
});

describe("OAuth2 scopes, resource, audience and auth method", () => {
  const scopes = "credentials.oauth2ClientCredentials.scopes";

  it("refuses a scope with a space, naming its index", async () => {
    await expectRejected(createWith(oauth2({ scopes: ["read", "read write"] })), `${scopes}[1]`);
  });

  it("refuses an empty scope, naming its index", async () => {
    await expectRejected(createWith(oauth2({ scopes: ["", "read"] })), `${scopes}[0]`);
  });

  it("refuses a scope with a quote or a backslash", async () => {
    await expectRejected(createWith(oauth2({ scopes: ['a"b'] })), `${scopes}[0]`);
    await expectRejected(createWith(oauth2({ scopes: ["ok", "ok2", "a\\b"] })), `${scopes}[2]`);
  });

  it("accepts scope tokens", async () => {
    await expectCreated(oauth2({ scopes: ["read", "write:all", "https://graph.example.com/.default"] }));
  });

  it("refuses a resource that is not an absolute URI", async () => {
    await expectRejected(createWith(oauth2({ resource: "api/v1" })), "credentials.oauth2ClientCredentials.resource");
    await expectRejected(createWith(oauth2({ resource: "/api" })), "credentials.oauth2ClientCredentials.resource");
  });

  it("refuses a resource with a fragment", async () => {
    await expectRejected(
      createWith(oauth2({ resource: "https://api.example.com/#x" })),
      "credentials.oauth2ClientCredentials.resource",
    );
  });

  it("accepts an absolute resource and an audience", async () => {
    await expectCreated(oauth2({ resource: "https://api.example.com/v1", audience: "https://api.example.com" }));
  });

  it("refuses control characters in the audience", async () => {
    await expectRejected(
      createWith(oauth2({ audience: "api\nexample" })),
      "credentials.oauth2ClientCredentials.audience",
    );
  });

  it("refuses control characters in the client id", async () => {
    await expectRejected(
      createWith(oauth2({ clientId: "client\r\n1" })),
      "credentials.oauth2ClientCredentials.clientId",
    );
  });

  it("refuses an unknown auth method number", async () => {
    await expectRejected(
      createWith(oauth2({ authMethod: 9 as OAuth2AuthMethod })),
      "credentials.oauth2ClientCredentials.authMethod",
    );
  });
});

describe("size caps", () => {
  const over = "a".repeat(KiB64 + 1);
  const capped: Array<[string, CredentialsInit]> = [
    ["credentials.basicAuth.username", basic(over, "pw")],
    ["credentials.basicAuth.password", basic("user", over)],
    ["credentials.bearerToken.token", bearer(over)],
    ["credentials.apiKey.keyName", apiKey(over, "v")],
    ["credentials.apiKey.keyValue", apiKey("X-Api-Key", over)],
    ["credentials.sftpPassword.username", sftpPassword(over, "pw")],
    ["credentials.sftpPassword.password", sftpPassword("deploy", over)],
    ["credentials.sftpPrivateKey.username", sftpPrivateKey(over, ed25519Pem)],
    ["credentials.sftpPrivateKey.passphrase", sftpPrivateKey("deploy", ed25519Pem, over)],
    ["credentials.oauth2ClientCredentials.clientId", oauth2({ clientId: over })],
    ["credentials.oauth2ClientCredentials.clientSecret", oauth2({ clientSecret: over })],
    ["credentials.oauth2ClientCredentials.tokenUrl", oauth2({ tokenUrl: `https://a.example/${over}` })],
    ["credentials.oauth2ClientCredentials.audience", oauth2({ audience: over })],
    ["credentials.oauth2ClientCredentials.resource", oauth2({ resource: `https://a.example/${over}` })],
    ["credentials.jsonCredentials.json", json(JSON.stringify({ k: over }))],
  ];

  it.each(capped)("%s is capped at 64 KiB", async (field, credentials) => {
    await expectRejected(createWith(credentials), field, "ERR_TOO_LARGE");
  });

  it("counts UTF-8 bytes, not characters", async () => {
    // 32,769 characters of two bytes each: 65,538 bytes
    await expectRejected(createWith(basic("user", "é".repeat(KiB64 / 2 + 1))), "credentials.basicAuth.password", "ERR_TOO_LARGE");
  });

  it("takes a field of exactly 64 KiB", async () => {
    await expectCreated(bearer("a".repeat(KiB64)));
    await expectCreated(basic("user", "é".repeat(KiB64 / 2)));
  });

  it("caps each OAuth2 scope like every other field", async () => {
    await expectRejected(
      createWith(oauth2({ scopes: ["read", "s".repeat(KiB64 + 1)] })),
      "credentials.oauth2ClientCredentials.scopes[1]",
      "ERR_TOO_LARGE",
    );
  });

  it("caps the description at 1024 characters", async () => {
    await expectRejected(
      () => createSecret({ mode: Mode.TEST, name: fresh(), description: "d".repeat(1025), credentials: bearer("t") }),
      "description",
      "ERR_TOO_LARGE",
    );
    const name = fresh();
    const res = await createSecret({ mode: Mode.TEST, name, description: "d".repeat(1024), credentials: bearer("t") });
    expect(res.secret?.description).toBe("d".repeat(1024));
  });

  it("refuses control characters in the description but takes newlines and tabs", async () => {
    await expectRejected(
      () => createSecret({ mode: Mode.TEST, name: fresh(), description: "bell\u0007", credentials: bearer("t") }),
      "description",
    );
    const res = await createSecret({
      mode: Mode.TEST,
      name: fresh(),
      description: "line one\n\tline two",
      credentials: bearer("t"),
    });
    expect(res.secret?.description).toBe("line one\n\tline two");
  });
});

describe("updates that are refused write nothing", () => {
  let name: string;

  beforeAll(async () => {
    name = fresh("upd");
    await createSecret({ mode: Mode.TEST, name, description: "original", credentials: bearer("original-token") });
  });

  async function expectOriginal(): Promise<void> {
    const got = await svc.secrets.getSecret(create(GetSecretRequestSchema, { mode: Mode.TEST, name }), handlerContext());
    expect(got.secret?.version).toBe(1n);
    expect(got.secret?.description).toBe("original");
    const injected = await svc.inject.inject(
      create(InjectRequestSchema, { mode: Mode.TEST, name }),
      handlerContext(InjectService),
    );
    expect(injected.material).toMatchObject({
      case: "http",
      value: { headers: [{ name: "Authorization", value: "Bearer original-token" }] },
    });
  }

  it("refuses an update with neither description nor credentials", async () => {
    await expectRejected(() => updateSecret({ mode: Mode.TEST, name }), "credentials");
    await expectOriginal();
  });

  it("refuses invalid credentials", async () => {
    await expectRejected(
      () => updateSecret({ mode: Mode.TEST, name, credentials: bearer("new\r\ntoken") }),
      "credentials.bearerToken.token",
    );
    await expectOriginal();
  });

  it("refuses credentials with no type set", async () => {
    await expectRejected(() => updateSecret({ mode: Mode.TEST, name, credentials: {} }), "credentials");
    await expectOriginal();
  });

  it("refuses a too long description together with valid credentials", async () => {
    await expectRejected(
      () => updateSecret({ mode: Mode.TEST, name, description: "d".repeat(1025), credentials: bearer("new-token") }),
      "description",
      "ERR_TOO_LARGE",
    );
    await expectOriginal();
  });

  it("refuses an oversized field", async () => {
    await expectRejected(
      () => updateSecret({ mode: Mode.TEST, name, credentials: bearer("t".repeat(KiB64 + 1)) }),
      "credentials.bearerToken.token",
      "ERR_TOO_LARGE",
    );
    await expectOriginal();
  });

  it("refuses a description with control characters", async () => {
    await expectRejected(() => updateSecret({ mode: Mode.TEST, name, description: "a\u0000b" }), "description");
    await expectOriginal();
  });

  it("refuses a type change (FAILED_PRECONDITION) and a stale version (ABORTED) without writing", async () => {
    const before = snapshot();
    const typeChange = await caught(() => updateSecret({ mode: Mode.TEST, name, credentials: apiKey("X-Key", "v") }));
    expect(typeChange.code).toBe("ERR_TYPE_CHANGE");
    const stale = await caught(() =>
      updateSecret({ mode: Mode.TEST, name, description: "new", expectedVersion: 7n }),
    );
    expect(stale.code).toBe("ERR_VERSION_MISMATCH");
    expect(snapshot()).toEqual(before);
    await expectOriginal();
  });

  it("takes a valid update afterwards (positive control)", async () => {
    const other = fresh("upd");
    await createSecret({ mode: Mode.TEST, name: other, description: "before", credentials: bearer("a") });
    const res = await updateSecret({ mode: Mode.TEST, name: other, description: "after", expectedVersion: 1n });
    expect(res.secret?.version).toBe(2n);
    expect(svc.store.get(Mode.TEST, other)?.secret?.description).toBe("after");
    // an explicitly empty description is a change (it clears), not "nothing to update"
    const cleared = await updateSecret({ mode: Mode.TEST, name: other, description: "" });
    expect(cleared.secret?.version).toBe(3n);
    expect(cleared.secret?.description).toBe("");
  });
});

describe("ListSecrets paging", () => {
  const list = async (init: MessageInitShape<typeof ListSecretsRequestSchema>) =>
    create(ListSecretsResponseSchema, await svc.secrets.listSecrets(create(ListSecretsRequestSchema, init), handlerContext()));

  it("refuses a negative pageSize", async () => {
    await expectRejected(() => list({ mode: Mode.TEST, pageSize: -1 }), "pageSize");
  });

  it.each(["garbage", "!!!", Buffer.from("cb1:1:a:b").toString("base64url"), Buffer.from("cb1:1:").toString("base64url"), Buffer.from("xx1:1:abc").toString("base64url")])(
    "refuses the page token %j",
    async (pageToken) => {
      await expectRejected(() => list({ mode: Mode.TEST, pageToken }), "pageToken");
    },
  );

  it("refuses a token issued for the other mode", async () => {
    for (const name of ["list-live-a", "list-live-b", "list-live-c"]) {
      await createSecret({ mode: Mode.LIVE, name, credentials: bearer("t") });
    }
    const first = await list({ mode: Mode.LIVE, pageSize: 1 });
    expect(first.nextPageToken).not.toBe("");
    // the token works in the mode it was issued for
    const second = await list({ mode: Mode.LIVE, pageSize: 1, pageToken: first.nextPageToken });
    expect(second.secrets).toHaveLength(1);
    expect(second.secrets[0]?.name).not.toBe(first.secrets[0]?.name);
    await expectRejected(() => list({ mode: Mode.TEST, pageSize: 1, pageToken: first.nextPageToken }), "pageToken");
  });
});

describe("DeploySecrets names", () => {
  const deploy = (names: string[]) =>
    svc.secrets.deploySecrets(create(DeploySecretsRequestSchema, { names }), handlerContext());

  beforeAll(async () => {
    for (const name of ["dep-a", "dep-b"]) {
      await createSecret({ mode: Mode.TEST, name, credentials: bearer(`${name}-token`) });
    }
  });

  it("refuses an empty list", async () => {
    await expectRejected(() => deploy([]), "names");
  });

  it("refuses more than 1000 names", async () => {
    await expectRejected(() => deploy(Array.from({ length: 1001 }, (_, i) => `dep-${i}`)), "names");
  });

  it("refuses a duplicate, naming its second index", async () => {
    await expectRejected(() => deploy(["dep-a", "dep-b", "dep-a"]), "names[2]");
  });

  it.each([
    [0, ["Dep-a", "dep-b"]],
    [1, ["dep-a", "dep b"]],
    [2, ["dep-a", "dep-b", ""]],
    [1, ["dep-a", "-dep", "dep-b"]],
  ] as Array<[number, string[]]>)("refuses a bad name at index %i", async (i, names) => {
    await expectRejected(() => deploy(names), `names[${i}]`);
    expect(svc.store.get(Mode.LIVE, "dep-a")).toBeUndefined();
  });

  it("deploys the same names when they are valid (positive control)", async () => {
    const res = await deploy(["dep-a", "dep-b"]);
    expect(res.secrets?.map((s) => [s.name, s.mode, s.version])).toEqual([
      ["dep-a", Mode.LIVE, 1n],
      ["dep-b", Mode.LIVE, 1n],
    ]);
  });
});
