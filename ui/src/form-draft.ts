import type { Mode, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { typeSpecOf, type FieldValues } from "./secret-types.ts";

/**
 * What the form keeps of the operator's typed work while they sign in again
 * after a rejected token: in memory only, and never a sensitive value (those
 * are typed again).
 */
export interface FormDraft {
  mode: Mode;
  /** The name of the secret being edited; undefined for a new secret. */
  editing: string | undefined;
  name: string;
  type: SecretType;
  description: string;
  /** The credential fields that hold no credential. */
  values: FieldValues;
  /** Whether a sensitive field had been typed in, and must be typed again. */
  droppedSecrets: boolean;
}

/** The draft of the form's state, with every sensitive value left out. */
export function formDraft(state: Omit<FormDraft, "values" | "droppedSecrets"> & { values: FieldValues }): FormDraft {
  const spec = typeSpecOf(state.type);
  const values: FieldValues = {};
  let droppedSecrets = false;
  for (const field of spec?.fields ?? []) {
    const value = state.values[field.name];
    if (value === undefined) {
      continue;
    }
    if (field.sensitive) {
      droppedSecrets ||= value !== "";
    } else {
      values[field.name] = value;
    }
  }
  return { ...state, values, droppedSecrets };
}
