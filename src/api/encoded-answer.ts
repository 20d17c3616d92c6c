import { createContextKey } from "@connectrpc/connect";

/** An answer whose encoding a service holds ready (Inject's cached material). */
export interface EncodedAnswer {
  /** The answer as the service returns it. */
  readonly response: object;
  /** Its protobuf encoding; undefined when the answer cannot be reused as encoded. */
  readonly encoded?: Uint8Array | undefined;
}

/**
 * Set by a service whose answer is already encoded: a listener that encodes
 * answers itself (grpc-js) sends these bytes when the answer it is handed is
 * that very message, so that no interceptor's change can be sent stale.
 */
export const encodedAnswerKey = createContextKey<EncodedAnswer | undefined>(undefined, { description: "encoded answer" });
