import type { Credentials, SecretType, StepKind } from "../gen/credbroker/v1/secret_pb.ts";
import { credentialTypeOf, credentialTypeOfCase } from "./credential-registry.ts";

/** The steps a secret with these credentials serves: its type's, narrowed where its values say so (DPoP). */
export function servedSteps(credentials: Credentials): readonly StepKind[] {
  const kind = credentials.kind;
  if (kind.case === undefined) {
    return [];
  }
  const type = credentialTypeOfCase(kind.case);
  const values = kind.value as unknown as Readonly<Record<string, unknown>>;
  return type.narrowed?.holds(values) === true ? type.narrowed.serves : type.steps;
}

/** The steps a stored secret serves: what was recorded when it was written, else (an older record) its type's. */
export function recordedSteps(type: SecretType, recorded: readonly StepKind[]): readonly StepKind[] {
  return recorded.length > 0 ? recorded : (credentialTypeOf(type)?.steps ?? []);
}
