import type { DescEnum, DescField, DescMessage } from "@bufbuild/protobuf";
import type { Credentials, SecretType, StepKind } from "../gen/credbroker/v1/secret_pb.ts";
import type { FieldCheck } from "./field-checks.ts";

/** A case of the Credentials oneof (`basicAuth`, ...). */
export type CredentialsCase = NonNullable<Credentials["kind"]["case"]>;

type CaseValue<C extends CredentialsCase> = Extract<Credentials["kind"], { case: C }>["value"];

/** The path of a credential field as errors name it (`credentials.basicAuth.username`). */
export type CredentialFieldPath = {
  [C in CredentialsCase]: `credentials.${C}.${Exclude<keyof CaseValue<C> & string, `$${string}`>}`;
}[CredentialsCase];

/** A condition on the other values of a field's case, for a field that only some configurations take. */
export interface FieldCondition {
  /** Whether the field applies, given the case's values by field name. */
  holds(values: Readonly<Record<string, unknown>>): boolean;
  /** The broker's words for a value given where the field does not apply. */
  problem: string;
  /** The page's words for it. */
  sentence: string;
}

/** What the descriptors cannot say about a field: whether it is required, and its checks. */
export interface FieldRule {
  /** Must be given (where it applies): an empty value is refused. An empty optional value skips the checks. */
  required: boolean;
  /**
   * The field applies only where this holds (the private_key_jwt fields, the
   * client secret that private_key_jwt replaces): elsewhere a given value is
   * refused, and an empty one is not missing.
   */
  onlyWhen?: FieldCondition;
  /** The checks a given value must pass, in order (each item's, for a list). */
  checks: readonly FieldCheck[];
  /** The most items a list may hold. */
  maxItems?: number;
  /** What the value is: one line (absent), lines that cannot be typed at a prompt (a PEM key), or a whole document (JSON). */
  text?: "lines" | "document";
}

/** The steps a type serves. */
export interface StepPolicy {
  /** The step served when the request names none. */
  natural: StepKind;
  /** Every step the type can serve. */
  serves: readonly StepKind[];
  /** Fewer steps for a secret whose values say so (a DPoP-bound OAuth2 secret). */
  narrowed?: StepNarrowing;
}

/** The steps of a secret whose values narrow its type's. */
export interface StepNarrowing {
  /** Whether the secret's values narrow the steps, given the case's values by field name. */
  holds(values: Readonly<Record<string, unknown>>): boolean;
  /** The steps such a secret serves: some of its type's. */
  serves: readonly StepKind[];
}

/** One field of a credential type, from its descriptor and its rule. */
export interface CredentialField {
  /** The field's name in its case, as JSON, Code material and CLI input name it (`keyName`). */
  readonly name: string;
  /** The field's path in errors (`credentials.apiKey.keyName`). */
  readonly path: string;
  /** A string, a list of strings or an enum value. */
  readonly kind: "string" | "list" | "enum";
  /** The enum of an enum field. */
  readonly enum: DescEnum | undefined;
  /** Holds a credential (`debug_redact` in the proto): hidden at prompts, masked, redacted from logs. */
  readonly sensitive: boolean;
  /** May be left out: not required, or required only where its rule's condition holds. */
  readonly optional: boolean;
  /** What the value is: a line, lines (a PEM key) or a document (JSON). */
  readonly text: "line" | "lines" | "document";
  /** The field's checks. */
  readonly rule: FieldRule;
  /** The field's descriptor. */
  readonly desc: DescField;
}

/** One credential type: a case of the Credentials oneof. */
export interface CredentialType {
  /** The oneof case. */
  readonly case: CredentialsCase;
  /** The SecretType that the case stands for. */
  readonly secretType: SecretType;
  /** The message of the case's values. */
  readonly message: DescMessage;
  /** The fields, in the order of the proto. */
  readonly fields: readonly CredentialField[];
  /** The step served when the request names none. */
  readonly naturalStep: StepKind;
  /** Every step the type can serve. */
  readonly steps: readonly StepKind[];
  /** Fewer steps for a secret of this type whose values say so. */
  readonly narrowed: StepNarrowing | undefined;
}
