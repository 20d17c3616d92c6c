import { StepKind } from "../gen/credbroker/v1/secret_pb.ts";
import { dpopBound } from "./credential-rules.ts";
import type { CredentialsCase, StepPolicy } from "./credential-type.ts";

const http: StepPolicy = { natural: StepKind.HTTP, serves: [StepKind.HTTP, StepKind.CODE] };
const sftp: StepPolicy = { natural: StepKind.SFTP, serves: [StepKind.SFTP, StepKind.CODE] };

/**
 * The steps each type serves (DESIGN.md, InjectService): every type serves
 * Code; the HTTP auth types and OAuth2 serve HTTP, the SFTP types SFTP;
 * JSON Credentials serve Code only. A DPoP-bound OAuth2 secret serves HTTP
 * only (its values narrow its type's steps).
 */
export const credentialSteps: Readonly<Record<CredentialsCase, StepPolicy>> = {
  basicAuth: http,
  bearerToken: http,
  apiKey: http,
  sftpPassword: sftp,
  sftpPrivateKey: sftp,
  // a DPoP-bound token is useless to code without a proof per request, and the broker never hands out the key
  oauth2ClientCredentials: { ...http, narrowed: { holds: dpopBound, serves: [StepKind.HTTP] } },
  jsonCredentials: { natural: StepKind.CODE, serves: [StepKind.CODE] },
};
