/**
 * The step-compatibility matrix of Inject: 7 secret types x 4 steps
 * (unspecified, HTTP, SFTP, Code), each cell either the exact material that
 * DESIGN.md specifies or FAILED_PRECONDITION; plus NOT_FOUND for absent and
 * deleted secrets. ServiceImpls called directly over a real LMDB store.
 */
import { generateKeyPairSync } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredbrokerError } from "../../src/errors.ts";
import { InjectRequestSchema, InjectResponseSchema, type InjectResponse } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { CredentialsSchema, Mode, SecretType, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import {
  CreateSecretRequestSchema,
  DeleteSecretRequestSchema,
  DeploySecretsRequestSchema,
  UpdateSecretRequestSchema,
} from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { createTestServices, handlerContext, InjectService, type TestServices } from "../support/services.ts";

type CredentialsInit = MessageInitShape<typeof CredentialsSchema>;

// A password with ':' (only the first ':' of user-pass splits) and non-ASCII
// characters (RFC 7617 with charset UTF-8: ü is 2 bytes, € 3 bytes).
const basicUser = "aladdin";
const basicPassword = "open:sesame:ü€";
// base64("aladdin:open:sesame:ü€") over its UTF-8 bytes, computed once outside the code under test
const basicEncoded = "YWxhZGRpbjpvcGVuOnNlc2FtZTrDvOKCrA==";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const plainKey = rsa.export({ type: "pkcs1", format: "pem" }).toString();
const keyPassphrase = "correct horse battery staple";
const encryptedKey = rsa
  .export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase: keyPassphrase })
  .toString();
const jsonText = '{"type":"service_account","client_email":"bot@example.iam","private_key_id":"k1"}';

const secrets: Record<string, { type: SecretType; credentials: CredentialsInit }> = {
  basic: { type: SecretType.BASIC_AUTH, credentials: { kind: { case: "basicAuth", value: { username: basicUser, password: basicPassword } } } },
  bearer: { type: SecretType.BEARER_TOKEN, credentials: { kind: { case: "bearerToken", value: { token: "tok-123.abc" } } } },
  "api-key": {
    type: SecretType.API_KEY,
    credentials: { kind: { case: "apiKey", value: { keyName: "X-Api-Key", keyValue: "sk_test_4eC39HqLyjWDarjtT1zdp7dc" } } },
  },
  "sftp-password": {
    type: SecretType.SFTP_PASSWORD,
    credentials: { kind: { case: "sftpPassword", value: { username: "deploy", password: "sftp:pässword" } } },
  },
  "sftp-key": {
    type: SecretType.SFTP_PRIVATE_KEY,
    credentials: { kind: { case: "sftpPrivateKey", value: { username: "deploy", privateKey: plainKey } } },
  },
  "sftp-key-pass": {
    type: SecretType.SFTP_PRIVATE_KEY,
    credentials: {
      kind: { case: "sftpPrivateKey", value: { username: "keyuser", privateKey: encryptedKey, passphrase: keyPassphrase } },
    },
  },
  oauth2: {
    type: SecretType.OAUTH2_CLIENT_CREDENTIALS,
    credentials: {
      kind: {
        case: "oauth2ClientCredentials",
        value: { clientId: "client-1", clientSecret: "client-secret-1", tokenUrl: "http://127.0.0.1:9/token" },
      },
    },
  },
  json: { type: SecretType.JSON_CREDENTIALS, credentials: { kind: { case: "jsonCredentials", value: { json: jsonText } } } },
};

/** What one cell of the matrix answers: the material, or a domain error code. */
type Expected =
  | { http: Array<{ name: string; value: string }> }
  | { sftp: { username: string; auth: { case: "password" | "privateKey"; value: string }; passphrase: string } }
  | { code: { fields: Record<string, string>; json: string } }
  | "ERR_STEP_NOT_SERVED";

const FP = "ERR_STEP_NOT_SERVED" as const;
const basicHttp: Expected = { http: [{ name: "Authorization", value: `Basic ${basicEncoded}` }] };
const bearerHttp: Expected = { http: [{ name: "Authorization", value: "Bearer tok-123.abc" }] };
const apiKeyHttp: Expected = { http: [{ name: "X-Api-Key", value: "sk_test_4eC39HqLyjWDarjtT1zdp7dc" }] };
const sftpPasswordLogin: Expected = {
  sftp: { username: "deploy", auth: { case: "password", value: "sftp:pässword" }, passphrase: "" },
};
// a PKCS#1 key goes out as stored (only PKCS#8 is converted for the SFTP client)
const sftpKeyLogin: Expected = { sftp: { username: "deploy", auth: { case: "privateKey", value: plainKey }, passphrase: "" } };
const sftpKeyPassLogin: Expected = {
  sftp: { username: "keyuser", auth: { case: "privateKey", value: encryptedKey }, passphrase: keyPassphrase },
};
const jsonCode: Expected = { code: { fields: {}, json: jsonText } };

const steps = [
  ["unspecified", StepKind.UNSPECIFIED],
  ["HTTP", StepKind.HTTP],
  ["SFTP", StepKind.SFTP],
  ["Code", StepKind.CODE],
] as const;

/** The matrix, row by secret, in the order of `steps`. */
const matrix: Array<[string, [Expected, Expected, Expected, Expected]]> = [
  ["basic", [basicHttp, basicHttp, FP, { code: { fields: { username: basicUser, password: basicPassword }, json: "" } }]],
  ["bearer", [bearerHttp, bearerHttp, FP, { code: { fields: { token: "tok-123.abc" }, json: "" } }]],
  [
    "api-key",
    [apiKeyHttp, apiKeyHttp, FP, { code: { fields: { keyName: "X-Api-Key", keyValue: "sk_test_4eC39HqLyjWDarjtT1zdp7dc" }, json: "" } }],
  ],
  [
    "sftp-password",
    [sftpPasswordLogin, FP, sftpPasswordLogin, { code: { fields: { username: "deploy", password: "sftp:pässword" }, json: "" } }],
  ],
  ["sftp-key", [sftpKeyLogin, FP, sftpKeyLogin, { code: { fields: { username: "deploy", privateKey: plainKey }, json: "" } }]],
  [
    "sftp-key-pass",
    [
      sftpKeyPassLogin,
      FP,
      sftpKeyPassLogin,
      { code: { fields: { username: "keyuser", privateKey: encryptedKey, passphrase: keyPassphrase }, json: "" } },
    ],
  ],
  ["json", [jsonCode, FP, FP, jsonCode]],
];

let svc: TestServices;

beforeAll(async () => {
  svc = await createTestServices();
  for (const [name, { credentials }] of Object.entries(secrets)) {
    await svc.secrets.createSecret(
      create(CreateSecretRequestSchema, { mode: Mode.TEST, name, credentials }),
      handlerContext(),
    );
  }
});
afterAll(async () => {
  await svc.close();
});

async function inject(name: string, step: StepKind = StepKind.UNSPECIFIED, mode: Mode = Mode.TEST): Promise<InjectResponse> {
  const res = await svc.inject.inject(create(InjectRequestSchema, { mode, name, step }), handlerContext(InjectService));
  return create(InjectResponseSchema, res);
}

async function injectError(name: string, step: StepKind = StepKind.UNSPECIFIED, mode: Mode = Mode.TEST): Promise<CredbrokerError> {
  let error: unknown;
  try {
    await inject(name, step, mode);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(CredbrokerError);
  return error as CredbrokerError;
}

/** The material of a response as plain data, for exact comparison. */
function materialOf(res: InjectResponse): Expected {
  const material = res.material;
  switch (material.case) {
    case "http":
      return { http: material.value.headers.map(({ name, value }) => ({ name, value })) };
    case "sftp": {
      const auth = material.value.auth;
      if (auth.case === undefined) {
        throw new Error("sftp material without auth");
      }
      return { sftp: { username: material.value.username, auth: { case: auth.case, value: auth.value }, passphrase: material.value.passphrase } };
    }
    case "code":
      return { code: { fields: { ...material.value.fields }, json: material.value.json } };
    case undefined:
      throw new Error("no material");
  }
}

describe("step-compatibility matrix", () => {
  const cells = matrix.flatMap(([name, row]) =>
    steps.map(([stepLabel, step], i) => [name, stepLabel, step, row[i] as Expected] as const),
  );

  it.each(cells)("%s with step %s", async (name, _stepLabel, step, expected) => {
    if (expected === FP) {
      const error = await injectError(name, step);
      expect(error.code).toBe("ERR_STEP_NOT_SERVED");
      return;
    }
    const res = await inject(name, step);
    expect(materialOf(res)).toEqual(expected);
    // static material does not expire
    expect(res.expireTime).toBeUndefined();
    // the metadata of what was used, never values
    expect(res.secret).toMatchObject({ name, mode: Mode.TEST, type: secrets[name]?.type, version: 1n });
  });

  it("OAuth2 cannot serve an SFTP step", async () => {
    const error = await injectError("oauth2", StepKind.SFTP);
    expect(error.code).toBe("ERR_STEP_NOT_SERVED");
  });

  it("covers all seven types", () => {
    const covered = new Set([...matrix.map(([name]) => secrets[name]?.type), secrets["oauth2"]?.type]);
    expect(covered.size).toBe(7);
  });
});

describe("material details", () => {
  it("Basic encodes UTF-8 and splits at the first ':'", async () => {
    const res = await inject("basic", StepKind.HTTP);
    const header = res.material.case === "http" ? res.material.value.headers[0] : undefined;
    expect(header?.value.startsWith("Basic ")).toBe(true);
    const decoded = Buffer.from(header?.value.slice("Basic ".length) ?? "", "base64");
    expect([...decoded]).toEqual([...Buffer.from("aladdin:open:sesame:", "ascii"), 0xc3, 0xbc, 0xe2, 0x82, 0xac]);
    const text = decoded.toString("utf8");
    const colon = text.indexOf(":");
    expect([text.slice(0, colon), text.slice(colon + 1)]).toEqual([basicUser, basicPassword]);
  });

  it("a Code step of a key without passphrase has no passphrase field at all", async () => {
    const res = await inject("sftp-key", StepKind.CODE);
    expect(res.material.case).toBe("code");
    if (res.material.case === "code") {
      expect(Object.keys(res.material.value.fields).sort()).toEqual(["privateKey", "username"]);
      expect("passphrase" in res.material.value.fields).toBe(false);
    }
  });

  it("a live secret of the same name serves its own value", async () => {
    await svc.secrets.createSecret(
      create(CreateSecretRequestSchema, {
        mode: Mode.LIVE,
        name: "bearer",
        credentials: { kind: { case: "bearerToken", value: { token: "live-token" } } },
      }),
      handlerContext(),
    );
    expect(materialOf(await inject("bearer", StepKind.HTTP, Mode.LIVE))).toEqual({
      http: [{ name: "Authorization", value: "Bearer live-token" }],
    });
    expect(materialOf(await inject("bearer", StepKind.HTTP, Mode.TEST))).toEqual(bearerHttp);
    expect((await inject("bearer", StepKind.HTTP, Mode.LIVE)).secret?.mode).toBe(Mode.LIVE);
  });

  it("an update and a deploy change what Inject serves", async () => {
    const name = "rotating";
    await svc.secrets.createSecret(
      create(CreateSecretRequestSchema, {
        mode: Mode.TEST,
        name,
        credentials: { kind: { case: "apiKey", value: { keyName: "X-Key", keyValue: "one" } } },
      }),
      handlerContext(),
    );
    expect(materialOf(await inject(name))).toEqual({ http: [{ name: "X-Key", value: "one" }] });
    await svc.secrets.updateSecret(
      create(UpdateSecretRequestSchema, {
        mode: Mode.TEST,
        name,
        credentials: { kind: { case: "apiKey", value: { keyName: "X-Other", keyValue: "two" } } },
      }),
      handlerContext(),
    );
    const updated = await inject(name);
    expect(materialOf(updated)).toEqual({ http: [{ name: "X-Other", value: "two" }] });
    expect(updated.secret?.version).toBe(2n);
    await svc.secrets.deploySecrets(create(DeploySecretsRequestSchema, { names: [name] }), handlerContext());
    const live = await inject(name, StepKind.UNSPECIFIED, Mode.LIVE);
    expect(materialOf(live)).toEqual({ http: [{ name: "X-Other", value: "two" }] });
    expect(live.secret).toMatchObject({ mode: Mode.LIVE, version: 1n });
  });
});

describe("OAuth2 with its token endpoint down", () => {
  // The steps OAuth2 serves fetch a token (test/api/inject-oauth2.test.ts
  // covers the material); a closed loopback port answers UNAVAILABLE.
  it.each([
    ["unspecified", StepKind.UNSPECIFIED],
    ["HTTP", StepKind.HTTP],
    ["Code", StepKind.CODE],
  ] as const)("step %s answers ERR_UNAVAILABLE", async (_, step) => {
    const error = await injectError("oauth2", step);
    expect(error.code).toBe("ERR_UNAVAILABLE");
  });
});

describe("NOT_FOUND", () => {
  it("a secret never created", async () => {
    const error = await injectError("never-created");
    expect(error.code).toBe("ERR_SECRET_NOT_FOUND");
  });

  it("a test secret asked for in live mode", async () => {
    const error = await injectError("basic", StepKind.UNSPECIFIED, Mode.LIVE);
    expect(error.code).toBe("ERR_SECRET_NOT_FOUND");
  });

  it("a deleted secret, for every step", async () => {
    const name = "to-delete";
    await svc.secrets.createSecret(
      create(CreateSecretRequestSchema, {
        mode: Mode.TEST,
        name,
        credentials: { kind: { case: "bearerToken", value: { token: "bye" } } },
      }),
      handlerContext(),
    );
    expect(materialOf(await inject(name))).toEqual({ http: [{ name: "Authorization", value: "Bearer bye" }] });
    await svc.secrets.deleteSecret(create(DeleteSecretRequestSchema, { mode: Mode.TEST, name }), handlerContext());
    for (const [, step] of steps) {
      const error = await injectError(name, step);
      expect(error.code).toBe("ERR_SECRET_NOT_FOUND");
    }
  });
});
