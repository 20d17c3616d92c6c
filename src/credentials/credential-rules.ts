import type { CredentialFieldPath, FieldRule } from "./credential-type.ts";
import {
  absoluteUri,
  headerName,
  headerValue,
  jsonObject,
  noColon,
  noControls,
  notReservedHeader,
  scopeToken,
  tokenUrl,
  trimmed,
} from "./field-checks.ts";

/** The most OAuth2 scopes one secret may list. */
const maxScopes = 100;

const identifier: FieldRule = { required: true, checks: [noControls] };
const secret: FieldRule = { required: true, checks: [] };
const inHeader: FieldRule = { required: true, checks: [headerValue, trimmed] };

/**
 * The rules of every credential field, keyed by path. Every value is also
 * size-capped, and an enum value must be one its enum declares; those two
 * come with every field and are not repeated here.
 */
export const credentialRules: Readonly<Record<CredentialFieldPath, FieldRule>> = {
  "credentials.basicAuth.username": { required: true, checks: [noColon, noControls] },
  "credentials.basicAuth.password": secret,
  "credentials.bearerToken.token": inHeader,
  "credentials.apiKey.keyName": { required: true, checks: [headerName, notReservedHeader] },
  "credentials.apiKey.keyValue": inHeader,
  "credentials.sftpPassword.username": identifier,
  "credentials.sftpPassword.password": secret,
  "credentials.sftpPrivateKey.username": identifier,
  // parsed by the broker too (src/material/private-key.ts), which needs node:crypto
  "credentials.sftpPrivateKey.privateKey": { required: true, checks: [], text: "lines" },
  "credentials.sftpPrivateKey.passphrase": { required: false, checks: [] },
  "credentials.oauth2ClientCredentials.clientId": identifier,
  "credentials.oauth2ClientCredentials.clientSecret": secret,
  "credentials.oauth2ClientCredentials.tokenUrl": { required: true, checks: [tokenUrl] },
  "credentials.oauth2ClientCredentials.scopes": { required: false, checks: [scopeToken], maxItems: maxScopes },
  "credentials.oauth2ClientCredentials.audience": { required: false, checks: [noControls] },
  "credentials.oauth2ClientCredentials.resource": { required: false, checks: [absoluteUri] },
  "credentials.oauth2ClientCredentials.authMethod": { required: false, checks: [] },
  "credentials.jsonCredentials.json": { required: true, checks: [jsonObject], text: "document" },
};
