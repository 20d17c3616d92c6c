import type { CredentialFieldPath, CredentialsCase } from "../../src/credentials/credential-type.ts";

/** How the page names one credential field; the rest comes from the registry. */
export interface FieldLabel {
  label: string;
  /** A hint shown under the field. */
  hint?: string;
  /** The words of an enum field's values, by value name. */
  options?: Readonly<Record<string, string>>;
}

/** Each type's name, as the product's documentation spells it. */
export const typeLabels: Readonly<Record<CredentialsCase, string>> = {
  basicAuth: "Basic Auth",
  bearerToken: "Bearer Token",
  apiKey: "API Key",
  sftpPassword: "SFTP Password",
  sftpPrivateKey: "SFTP Private Key",
  oauth2ClientCredentials: "OAuth2 Client Credentials",
  jsonCredentials: "JSON Credentials",
};

/**
 * A label inside a sentence ("Enter the client ID."): capitalised words
 * lowercased, abbreviations and names (ID, URL, JSON, DPoP, OAuth2) kept.
 */
export function labelInSentence(label: string): string {
  return label
    .split(" ")
    .map((word) => (/^[A-Z][a-z]+$/.test(word) ? word.toLowerCase() : word))
    .join(" ");
}

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
  "credentials.oauth2ClientCredentials.clientSecret": { label: "Client secret", hint: "Not for private_key_jwt, which signs with a private key instead." },
  "credentials.oauth2ClientCredentials.tokenUrl": { label: "Token URL", hint: "https://, or http:// to loopback." },
  "credentials.oauth2ClientCredentials.scopes": { label: "Scopes" },
  "credentials.oauth2ClientCredentials.audience": { label: "Audience" },
  "credentials.oauth2ClientCredentials.resource": { label: "Resource", hint: "An absolute URI (RFC 8707)." },
  "credentials.oauth2ClientCredentials.authMethod": {
    label: "Client authentication",
    options: {
      OAUTH2_AUTH_METHOD_CLIENT_SECRET_BASIC: "client_secret_basic (Authorization header)",
      OAUTH2_AUTH_METHOD_CLIENT_SECRET_POST: "client_secret_post (request body)",
      OAUTH2_AUTH_METHOD_PRIVATE_KEY_JWT: "private_key_jwt (signed client assertion)",
    },
  },
  "credentials.oauth2ClientCredentials.privateKey": {
    label: "Private key",
    hint: "private_key_jwt only: PEM (PKCS#8, PKCS#1, SEC1) or a JWK; RSA, EC P-256 or Ed25519.",
  },
  "credentials.oauth2ClientCredentials.keyId": { label: "Key ID (kid)", hint: "private_key_jwt only, if the server needs it." },
  "credentials.oauth2ClientCredentials.signingAlg": {
    label: "Signing algorithm",
    hint: "private_key_jwt only: RS256 or PS256 (RSA), ES256 (P-256), EdDSA (Ed25519); empty: the key's default.",
  },
  "credentials.oauth2ClientCredentials.assertionAudience": {
    label: "Assertion audience",
    hint: "private_key_jwt only, if not the token URL (e.g. the issuer).",
  },
  "credentials.oauth2ClientCredentials.tokenBinding": {
    label: "Token binding",
    options: {
      OAUTH2_TOKEN_BINDING_BEARER: "Bearer tokens",
      OAUTH2_TOKEN_BINDING_DPOP: "DPoP-bound tokens (RFC 9449)",
    },
  },
  "credentials.oauth2ClientCredentials.dpopPrivateKey": {
    label: "DPoP key",
    hint: "DPoP only. Leave empty: the broker generates the key and keeps it on every update; or give an EC P-256 or Ed25519 key.",
  },
  "credentials.jsonCredentials.json": { label: "JSON content", hint: "A JSON object, e.g. a service account key." },
};
