import { StepKind } from "../gen/credbroker/v1/secret_pb.ts";
import type { CredentialsCase, StepPolicy } from "./credential-type.ts";

const http: StepPolicy = { natural: StepKind.HTTP, serves: [StepKind.HTTP, StepKind.CODE] };
const sftp: StepPolicy = { natural: StepKind.SFTP, serves: [StepKind.SFTP, StepKind.CODE] };

/**
 * The steps each type serves (DESIGN.md, InjectService): every type serves
 * Code; the HTTP auth types and OAuth2 serve HTTP, the SFTP types SFTP;
 * JSON Credentials serve Code only.
 */
export const credentialSteps: Readonly<Record<CredentialsCase, StepPolicy>> = {
  basicAuth: http,
  bearerToken: http,
  apiKey: http,
  sftpPassword: sftp,
  sftpPrivateKey: sftp,
  oauth2ClientCredentials: http,
  jsonCredentials: { natural: StepKind.CODE, serves: [StepKind.CODE] },
};
