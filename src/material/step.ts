import { credentialTypeOf } from "../credentials/credential-registry.ts";
import { SecretTypeSchema, StepKind, StepKindSchema, type SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";

/** Whether a secret type can serve a step, as the registry says (every type serves Code). */
function servesStep(type: SecretType, step: StepKind): boolean {
  return credentialTypeOf(type)?.steps.includes(step) === true;
}

/** The step to build material for; FAILED_PRECONDITION when the type cannot serve the requested one. */
export function resolveStep(type: SecretType, requested: StepKind, name: string): StepKind {
  const step = requested === StepKind.UNSPECIFIED ? (credentialTypeOf(type)?.naturalStep ?? StepKind.UNSPECIFIED) : requested;
  if (!servesStep(type, step)) {
    throw new CredbrokerError(
      "ERR_STEP_NOT_SERVED",
      `secret "${name}" is of type ${SecretTypeSchema.value[type]?.name ?? type} and cannot serve a ${StepKindSchema.value[step]?.name ?? step} step`,
      { metadata: { name } },
    );
  }
  return step;
}
