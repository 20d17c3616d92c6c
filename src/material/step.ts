import { SecretType, SecretTypeSchema, StepKind, StepKindSchema } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";

/** The step each type serves when the request names none. */
function naturalStep(type: SecretType): StepKind {
  switch (type) {
    case SecretType.SFTP_PASSWORD:
    case SecretType.SFTP_PRIVATE_KEY:
      return StepKind.SFTP;
    case SecretType.JSON_CREDENTIALS:
      return StepKind.CODE;
    default:
      return StepKind.HTTP;
  }
}

/** Whether a secret type can serve a step: every type serves Code, SFTP types SFTP, the HTTP auth types HTTP. */
export function servesStep(type: SecretType, step: StepKind): boolean {
  switch (step) {
    case StepKind.CODE:
      return true;
    case StepKind.SFTP:
      return type === SecretType.SFTP_PASSWORD || type === SecretType.SFTP_PRIVATE_KEY;
    case StepKind.HTTP:
      return (
        type === SecretType.BASIC_AUTH ||
        type === SecretType.BEARER_TOKEN ||
        type === SecretType.API_KEY ||
        type === SecretType.OAUTH2_CLIENT_CREDENTIALS
      );
    default:
      return false;
  }
}

/** The step to build material for; FAILED_PRECONDITION when the type cannot serve the requested one. */
export function resolveStep(type: SecretType, requested: StepKind, name: string): StepKind {
  const step = requested === StepKind.UNSPECIFIED ? naturalStep(type) : requested;
  if (!servesStep(type, step)) {
    throw new CredbrokerError(
      "ERR_FAILED_PRECONDITION",
      `secret "${name}" is of type ${SecretTypeSchema.value[type]?.name ?? type} and cannot serve a ${StepKindSchema.value[step]?.name ?? step} step`,
    );
  }
  return step;
}
