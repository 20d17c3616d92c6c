import { describe, expect, it } from "vitest";
import { credentialRules } from "../../src/credentials/credential-rules.ts";
import { credentialSteps } from "../../src/credentials/credential-steps.ts";
import { credentialTypes, plainFieldNames, sensitiveFieldNames } from "../../src/credentials/credential-registry.ts";
import { credentialFieldPaths, describeCredentials } from "../../src/credentials/describe-credentials.ts";
import { CredentialsSchema, SecretType, SecretTypeSchema, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { extendedCredentials } from "../support/extended-credentials.ts";

describe("the credential registry", () => {
  it("has a rule for every Credentials field and steps for every case", () => {
    // describeCredentials would have thrown at import; this names what it walked
    expect(credentialFieldPaths(CredentialsSchema).sort()).toEqual(Object.keys(credentialRules).sort());
    expect(credentialTypes.map((type) => type.case).sort()).toEqual(Object.keys(credentialSteps).sort());
  });

  it("fails, naming each gap, on a proto with a field and a case the tables do not know", () => {
    const credentials = extendedCredentials();
    expect(credentialFieldPaths(credentials)).toContain("credentials.basicAuth.otp");
    const sources = { credentials, secretTypes: SecretTypeSchema, rules: credentialRules, steps: credentialSteps };
    expect(() => describeCredentials(sources)).toThrow(
      "the credential registry does not cover the proto: credentials.basicAuth.otp: no rule; " +
        "kerberos: no SecretType SECRET_TYPE_KERBEROS; kerberos: no steps; " +
        "credentials.kerberos.username: no rule; credentials.kerberos.password: no rule; credentials.kerberos.otp: no rule",
    );
  });

  it("derives each type's SecretType and fields from the descriptors", () => {
    const summary = credentialTypes.map((type) => ({
      type: SecretTypeSchema.value[type.secretType]!.name,
      fields: type.fields.map((field) => `${field.name}:${field.kind}${field.optional ? "?" : ""}${field.sensitive ? " (sensitive)" : ""}`),
    }));
    expect(summary).toEqual([
      { type: "SECRET_TYPE_BASIC_AUTH", fields: ["username:string", "password:string (sensitive)"] },
      { type: "SECRET_TYPE_BEARER_TOKEN", fields: ["token:string (sensitive)"] },
      { type: "SECRET_TYPE_API_KEY", fields: ["keyName:string", "keyValue:string (sensitive)"] },
      { type: "SECRET_TYPE_SFTP_PASSWORD", fields: ["username:string", "password:string (sensitive)"] },
      { type: "SECRET_TYPE_SFTP_PRIVATE_KEY", fields: ["username:string", "privateKey:string (sensitive)", "passphrase:string? (sensitive)"] },
      {
        type: "SECRET_TYPE_OAUTH2_CLIENT_CREDENTIALS",
        fields: [
          "clientId:string",
          "clientSecret:string? (sensitive)",
          "tokenUrl:string",
          "scopes:list?",
          "audience:string?",
          "resource:string?",
          "authMethod:enum?",
          "privateKey:string? (sensitive)",
          "keyId:string?",
          "signingAlg:string?",
          "assertionAudience:string?",
          "tokenBinding:enum?",
          "dpopPrivateKey:string? (sensitive)",
        ],
      },
      { type: "SECRET_TYPE_JSON_CREDENTIALS", fields: ["json:string (sensitive)"] },
    ]);
    expect([...sensitiveFieldNames].sort()).toEqual(["clientSecret", "dpopPrivateKey", "json", "keyValue", "passphrase", "password", "privateKey", "token"]);
    expect([...plainFieldNames].sort()).toEqual([
      "assertionAudience", "audience", "authMethod", "clientId", "keyId", "keyName", "resource", "scopes", "signingAlg", "tokenBinding", "tokenUrl", "username",
    ]);
  });

  it("serves the steps DESIGN.md names", () => {
    const steps = (type: SecretType) => credentialTypes.find((t) => t.secretType === type)!;
    const { HTTP, SFTP, CODE } = StepKind;
    const expected: [SecretType, StepKind, StepKind[]][] = [
      [SecretType.BASIC_AUTH, HTTP, [HTTP, CODE]],
      [SecretType.BEARER_TOKEN, HTTP, [HTTP, CODE]],
      [SecretType.API_KEY, HTTP, [HTTP, CODE]],
      [SecretType.SFTP_PASSWORD, SFTP, [SFTP, CODE]],
      [SecretType.SFTP_PRIVATE_KEY, SFTP, [SFTP, CODE]],
      [SecretType.OAUTH2_CLIENT_CREDENTIALS, HTTP, [HTTP, CODE]],
      [SecretType.JSON_CREDENTIALS, CODE, [CODE]],
    ];
    for (const [type, natural, serves] of expected) {
      expect(steps(type).naturalStep).toBe(natural);
      expect([...steps(type).steps].sort()).toEqual(serves.sort());
    }
    expect(credentialTypes).toHaveLength(expected.length);
  });
});
