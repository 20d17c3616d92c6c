import { Mode, StepKind } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError, invalidField } from "../errors.ts";

const namePattern = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Whether a string is a well-formed secret name. */
export function isValidName(name: string): boolean {
  return namePattern.test(name);
}

/** Checks a secret name: 1-63 of [a-z0-9._-], starting with a letter or digit. */
export function checkName(name: string, field = "name"): string {
  if (name === "") {
    throw invalidField(field, "is required");
  }
  if (!isValidName(name)) {
    throw invalidField(
      field,
      "must be 1-63 characters of lowercase letters, digits, '.', '_' and '-', starting with a letter or digit",
    );
  }
  return name;
}

/** Checks that a mode is MODE_TEST or MODE_LIVE. */
export function checkMode(mode: Mode, field = "mode"): Mode {
  if (mode === Mode.TEST || mode === Mode.LIVE) {
    return mode;
  }
  throw invalidField(field, "must be MODE_TEST or MODE_LIVE");
}

/** Checks that a step is one the contract knows. */
export function checkStep(step: StepKind): StepKind {
  if (step === StepKind.UNSPECIFIED || step === StepKind.HTTP || step === StepKind.SFTP || step === StepKind.CODE) {
    return step;
  }
  throw invalidField("step", "must be STEP_KIND_HTTP, STEP_KIND_SFTP, STEP_KIND_CODE or unspecified");
}

/** The largest credential field the broker takes, in UTF-8 bytes. */
export const maxFieldBytes = 64 * 1024;
/** The largest description the broker takes, in characters. */
export const maxDescriptionLength = 1024;

/** Checks a field's size against a cap, naming the field when it is over. */
export function checkSize(field: string, value: string, maxBytes = maxFieldBytes): void {
  // length bounds the UTF-8 size from below and 3x length from above
  if (value.length * 3 > maxBytes && Buffer.byteLength(value) > maxBytes) {
    throw new CredbrokerError("ERR_TOO_LARGE", `${field}: must be at most ${maxBytes} bytes`, { field });
  }
}

/** Checks a description: bounded, no control characters but tab and newline. */
export function checkDescription(description: string, field = "description"): string {
  if (description.length > maxDescriptionLength) {
    throw new CredbrokerError("ERR_TOO_LARGE", `${field}: must be at most ${maxDescriptionLength} characters`, {
      field,
    });
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(description)) {
    throw invalidField(field, "must not contain control characters");
  }
  return description;
}
