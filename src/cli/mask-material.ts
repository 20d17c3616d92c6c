import { clone } from "@bufbuild/protobuf";
import { plainFieldNames } from "../credentials/credential-registry.ts";
import { InjectResponseSchema, type InjectResponse } from "../gen/credbroker/v1/inject_service_pb.ts";

/** What a hidden value is printed as. */
export const hidden = "****";

/** Code fields that name things rather than hold credentials: the registry's plain fields, and the OAuth2 token's type. */
const plainCodeFields: ReadonlySet<string> = new Set([...plainFieldNames, "tokenType"]);

/**
 * A copy of Inject's answer with every credential value replaced by `****`.
 * Kept: header names, the scheme of an Authorization header ("Basic ****"),
 * SFTP user names and the Code fields that are not credentials.
 */
export function maskMaterial(res: InjectResponse): InjectResponse {
  const masked = clone(InjectResponseSchema, res);
  const material = masked.material;
  switch (material.case) {
    case "http":
      for (const header of material.value.headers) {
        header.value = maskHeaderValue(header.name, header.value);
      }
      break;
    case "sftp":
      if (material.value.auth.case !== undefined) {
        material.value.auth.value = hidden;
      }
      if (material.value.passphrase !== "") {
        material.value.passphrase = hidden;
      }
      break;
    case "code":
      for (const name of Object.keys(material.value.fields)) {
        if (!plainCodeFields.has(name)) {
          material.value.fields[name] = hidden;
        }
      }
      if (material.value.json !== "") {
        material.value.json = hidden;
      }
      break;
    case undefined:
      break;
  }
  return masked;
}

function maskHeaderValue(name: string, value: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +\S/.exec(value);
  return name.toLowerCase() === "authorization" && scheme !== null ? `${scheme[1]} ${hidden}` : hidden;
}
