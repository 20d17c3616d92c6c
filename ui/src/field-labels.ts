import type { CredentialFieldPath, CredentialsCase } from "../../src/credentials/credential-type.ts";

/** How the page names one credential field; the rest comes from the registry. */
export interface FieldLabel {
  label: string;
  /** A hint shown under the field. */
  hint?: string;
  /** The words of an enum field's values, by value name. */
  options?: Readonly<Record<string, string>>;
}

/** Each type's name in the type dropdown. */
export const typeLabels: Readonly<Record<CredentialsCase, string>> = {
  basicAuth: "Basic auth",
  bearerToken: "Bearer token",
  apiKey: "API key",
  sftpPassword: "SFTP password",
  sftpPrivateKey: "SFTP private key",
  oauth2ClientCredentials: "OAuth2 client credentials",
  jsonCredentials: "JSON (service account)",
};

const username: FieldLabel = { label: "Username" };
const password: FieldLabel = { label: "Password" };

/** Each credential field's label and hint, by path. */
export const fieldLabels: Readonly<Record<CredentialFieldPath, FieldLabel>> = {
  "credentials.basicAuth.username": username,
  "credentials.basicAuth.password": password,
  "credentials.bearerToken.token": { label: "Token" },
  "credentials.apiKey.keyName": { label: "Key name", hint: "The HTTP header that carries the key, e.g. X-API-Key." },
  "credentials.apiKey.keyValue": { label: "Key value" },
  "credentials.sftpPassword.username": username,
  "credentials.sftpPassword.password": password,
  "credentials.sftpPrivateKey.username": username,
  "credentials.sftpPrivateKey.privateKey": { label: "Private key", hint: "PEM or OpenSSH format." },
  "credentials.sftpPrivateKey.passphrase": { label: "Passphrase", hint: "Only for an encrypted key." },
  "credentials.oauth2ClientCredentials.clientId": { label: "Client ID" },
  "credentials.oauth2ClientCredentials.clientSecret": { label: "Client secret" },
  "credentials.oauth2ClientCredentials.tokenUrl": { label: "Token URL", hint: "https://, or http:// to loopback." },
  "credentials.oauth2ClientCredentials.scopes": { label: "Scopes" },
  "credentials.oauth2ClientCredentials.audience": { label: "Audience" },
  "credentials.oauth2ClientCredentials.resource": { label: "Resource", hint: "An absolute URI (RFC 8707)." },
  "credentials.oauth2ClientCredentials.authMethod": {
    label: "Client authentication",
    options: {
      OAUTH2_AUTH_METHOD_CLIENT_SECRET_BASIC: "client_secret_basic (Authorization header)",
      OAUTH2_AUTH_METHOD_CLIENT_SECRET_POST: "client_secret_post (request body)",
    },
  },
  "credentials.jsonCredentials.json": { label: "JSON document", hint: "A JSON object." },
};
