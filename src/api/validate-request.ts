import { Mode, StepKind } from "../gen/credbroker/v1/secret_pb.ts";
import { fieldTooLarge, invalidField } from "../errors.ts";
import { descriptionControlCharacters, maxDescriptionLength, maxFieldBytes, namePattern } from "./validation-rules.ts";

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

/** Checks a field's size against a cap, naming the field when it is over. */
export function checkSize(field: string, value: string, maxBytes = maxFieldBytes): void {
  // length bounds the UTF-8 size from below and 3x length from above
  if (value.length * 3 > maxBytes && Buffer.byteLength(value) > maxBytes) {
    throw fieldTooLarge(field, `must be at most ${maxBytes} bytes`);
  }
}

/** Checks a description: bounded, no control characters but tab and newline. */
export function checkDescription(description: string, field = "description"): string {
  if (description.length > maxDescriptionLength) {
    throw fieldTooLarge(field, `must be at most ${maxDescriptionLength} characters`);
  }
  if (descriptionControlCharacters.test(description)) {
    throw invalidField(field, "must not contain control characters");
  }
  return description;
}
