import type { DescMessage } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { cliTypeNames } from "../../src/cli/secret-types.ts";
import { credentialTypes } from "../../src/credentials/credential-registry.ts";
import { credentialFieldPaths } from "../../src/credentials/describe-credentials.ts";
import { CredentialsSchema } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { fieldLabels, typeLabels } from "../../ui/src/field-labels.ts";
import { extendedCredentials } from "../support/extended-credentials.ts";

// Labels and hints are the one per-type thing the clients write by hand:
// walking the descriptors, every field must have the page's words and every
// case the page's and the CLI's names.

/** The entries a table lacks for some keys. */
function missing(keys: readonly string[], table: object): string[] {
  return keys.filter((key) => !Object.hasOwn(table, key));
}

/** The cases of a Credentials message's oneof. */
function casesOf(credentials: DescMessage): string[] {
  return credentials.oneofs[0]!.fields.map((field) => field.localName);
}

describe("the clients' labels cover every Credentials field", () => {
  it("has the page's label for every field and the page's and CLI's name for every case", () => {
    expect(missing(credentialFieldPaths(CredentialsSchema), fieldLabels)).toEqual([]);
    expect(missing(casesOf(CredentialsSchema), typeLabels)).toEqual([]);
    expect(missing(casesOf(CredentialsSchema), cliTypeNames)).toEqual([]);
  });

  it("has the page's words for every value of an enum field but unspecified", () => {
    for (const field of credentialTypes.flatMap((type) => type.fields).filter((f) => f.enum !== undefined)) {
      const options = fieldLabels[field.path as keyof typeof fieldLabels].options ?? {};
      const names = field.enum!.values.filter((value) => value.number !== 0).map((value) => value.name);
      expect(missing(names, options), field.path).toEqual([]);
    }
  });

  it("fails for a field or a case the tables do not know", () => {
    const extended = extendedCredentials();
    expect(missing(credentialFieldPaths(extended), fieldLabels)).toEqual([
      "credentials.basicAuth.otp",
      "credentials.kerberos.username",
      "credentials.kerberos.password",
      "credentials.kerberos.otp",
    ]);
    expect(missing(casesOf(extended), typeLabels)).toEqual(["kerberos"]);
    expect(missing(casesOf(extended), cliTypeNames)).toEqual(["kerberos"]);
  });
});
