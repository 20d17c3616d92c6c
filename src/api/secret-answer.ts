import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { readableCredentials } from "../credentials/readable-credentials.ts";
import { recordedSteps } from "../credentials/served-steps.ts";
import { Mode, SecretSchema, type Credentials, type Secret } from "../gen/credbroker/v1/secret_pb.ts";
import type { RecordMetadata, SecretStore } from "../store/secret-store.ts";
import { deployStateOf } from "./deploy-state.ts";
import type { LastUseTracker } from "./last-use.ts";

/** What admin answers are built from besides the stored metadata. */
export interface SecretAnswerDeps {
  /** Where the live copies (for deploy state) are read. */
  store: SecretStore;
  /** When secrets last served an Inject; undefined: no last-use times. */
  lastUse?: Pick<LastUseTracker, "lastUses"> | undefined;
}

/** What an answer is built from besides the stored metadata. */
export interface AnswerParts {
  /** The opened credentials, when the call opened them: their readable fields are shown. */
  opened?: Credentials | undefined;
  /**
   * The live record to compare with, when the caller read it (undefined:
   * there is none): not (yet) the stored one (a deploy's answer), a listed
   * page's live copies, or the listed live record itself. Left out, it is
   * read from the store.
   */
  live?: RecordMetadata | undefined;
  /** When the secret last served an Inject, when the caller read it (a listed page's, at once); left out, it is read. */
  lastUse?: number | undefined;
}

/** Builds the Secret of an admin answer. */
export type SecretAnswer = (stored: Secret, parts?: AnswerParts) => Secret;

/**
 * Builds a secret as an admin answer shows it. Every admin answer's Secret
 * comes from here: the stored metadata field by field (never a spread, so
 * nothing else a record might hold passes), the output-only fields, and,
 * when the caller opened the credentials, only what readableCredentials
 * (the registry's `sensitive` marking) lets through.
 */
export function createSecretAnswers({ store, lastUse }: SecretAnswerDeps): SecretAnswer {
  return (stored, parts = {}) => {
    const { opened } = parts;
    const live = "live" in parts ? parts.live : store.getMetadata(Mode.LIVE, [stored.name])[0];
    const used = "lastUse" in parts ? parts.lastUse : lastUse?.lastUses(stored.mode, [stored.name])[0];
    // a zero message, then each field set on it: no init object to convert, nor one per optional field
    const secret = create(SecretSchema);
    secret.name = stored.name;
    secret.mode = stored.mode;
    secret.type = stored.type;
    secret.description = stored.description;
    secret.version = stored.version;
    secret.generation = stored.generation;
    if (stored.createTime !== undefined) {
      secret.createTime = stored.createTime;
    }
    if (stored.updateTime !== undefined) {
      secret.updateTime = stored.updateTime;
    }
    secret.steps = [...recordedSteps(stored.type, stored.steps)];
    if (opened !== undefined) {
      secret.readableCredentials = readableCredentials(opened);
    }
    if (stored.mode === Mode.TEST) {
      secret.deployState = deployStateOf(stored, live);
    } else if (stored.mode === Mode.LIVE) {
      secret.deployedFromVersion = live?.deployedFrom?.testVersion ?? 0n;
    }
    if (used !== undefined) {
      secret.lastUseTime = timestampFromMs(used);
    }
    return secret;
  };
}
