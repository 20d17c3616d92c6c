import { OAuth2AuthMethod, OAuth2TokenBinding } from "../gen/credbroker/v1/secret_pb.ts";
import type { CredentialFieldPath, FieldCondition, FieldRule } from "./credential-type.ts";
import {
  absoluteUri,
  headerName,
  headerValue,
  jsonObject,
  noColon,
  noControls,
  notReservedHeader,
  scopeToken,
  signingAlg,
  tokenUrl,
  trimmed,
} from "./field-checks.ts";

/** The most OAuth2 scopes one secret may list. */
const maxScopes = 100;

const identifier: FieldRule = { required: true, checks: [noControls] };
const secret: FieldRule = { required: true, checks: [] };
const inHeader: FieldRule = { required: true, checks: [headerValue, trimmed] };

const privateKeyJwt = (values: Readonly<Record<string, unknown>>) =>
  values["authMethod"] === OAuth2AuthMethod.OAUTH2_AUTH_METHOD_PRIVATE_KEY_JWT;

/** The fields of private_key_jwt, which signs an assertion with a key of its own. */
const withPrivateKeyJwt: FieldCondition = {
  holds: privateKeyJwt,
  problem: "is only for authMethod OAUTH2_AUTH_METHOD_PRIVATE_KEY_JWT",
  sentence: "Only for private_key_jwt client authentication; leave it empty.",
};

/** The client secret, which private_key_jwt replaces. */
const withClientSecret: FieldCondition = {
  holds: (values) => !privateKeyJwt(values),
  problem: "is not used with authMethod OAUTH2_AUTH_METHOD_PRIVATE_KEY_JWT; leave it empty",
  sentence: "private_key_jwt signs with the private key instead; leave the client secret empty.",
};

/** Whether an OAuth2 case's values ask for DPoP-bound tokens. */
export const dpopBound = (values: Readonly<Record<string, unknown>>): boolean =>
  values["tokenBinding"] === OAuth2TokenBinding.OAUTH2_TOKEN_BINDING_DPOP;

/** The key of DPoP proofs, for DPoP-bound tokens only. */
const withDpop: FieldCondition = {
  holds: dpopBound,
  problem: "is only for tokenBinding OAUTH2_TOKEN_BINDING_DPOP",
  sentence: "Only for DPoP-bound tokens; leave it empty.",
};

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
  "credentials.oauth2ClientCredentials.clientSecret": { ...secret, onlyWhen: withClientSecret },
  "credentials.oauth2ClientCredentials.tokenUrl": { required: true, checks: [tokenUrl] },
  "credentials.oauth2ClientCredentials.scopes": { required: false, checks: [scopeToken], maxItems: maxScopes },
  "credentials.oauth2ClientCredentials.audience": { required: false, checks: [noControls] },
  "credentials.oauth2ClientCredentials.resource": { required: false, checks: [absoluteUri] },
  "credentials.oauth2ClientCredentials.authMethod": { required: false, checks: [] },
  // parsed by the broker too (src/oauth/assertion-key.ts), which needs node:crypto
  "credentials.oauth2ClientCredentials.privateKey": { required: true, checks: [], text: "lines", onlyWhen: withPrivateKeyJwt },
  "credentials.oauth2ClientCredentials.keyId": { required: false, checks: [noControls], onlyWhen: withPrivateKeyJwt },
  "credentials.oauth2ClientCredentials.signingAlg": { required: false, checks: [signingAlg], onlyWhen: withPrivateKeyJwt },
  "credentials.oauth2ClientCredentials.assertionAudience": { required: false, checks: [noControls], onlyWhen: withPrivateKeyJwt },
  "credentials.oauth2ClientCredentials.tokenBinding": { required: false, checks: [] },
  // empty: the broker generates the key, or keeps the stored one; a given one is parsed by the broker (src/oauth/dpop-key.ts)
  "credentials.oauth2ClientCredentials.dpopPrivateKey": { required: false, checks: [], text: "lines", onlyWhen: withDpop },
  "credentials.jsonCredentials.json": { required: true, checks: [jsonObject], text: "document" },
};
