import { Code, ConnectError } from "@connectrpc/connect";
import { brokerErrorDetails } from "../../src/client/error-details.ts";

/** What the page shows for a failed call: a message, and the field it belongs to when the server named one. */
export interface CallProblem {
  /** The server's field path (`credentials.apiKey.keyName`), when the error names one. */
  field: string | undefined;
  message: string;
  code: Code | undefined;
}

/** Turns any error of a call into what the page shows; never includes request values. */
export function describeError(error: unknown): CallProblem {
  const err = ConnectError.from(error);
  const message = err.rawMessage;
  switch (err.code) {
    case Code.InvalidArgument: {
      // the field comes from the error's google.rpc.BadRequest, never from its message text
      const violation = brokerErrorDetails(err).fieldViolations[0];
      if (violation !== undefined) {
        // scopes[2] belongs to the scopes field
        return { field: violation.field.replace(/\[\d+\]$/, ""), message: asSentence(violation.description), code: err.code };
      }
      return { field: undefined, message: asSentence(message), code: err.code };
    }
    case Code.Unauthenticated:
      return { field: undefined, message: "The admin token was not accepted. Sign in again.", code: err.code };
    case Code.PermissionDenied:
      return { field: undefined, message: "This token may not manage secrets.", code: err.code };
    case Code.AlreadyExists:
      return { field: "name", message: "A secret of this name exists in this mode already.", code: err.code };
    case Code.Aborted:
      return { field: undefined, message: "The secret changed since this page read it. Reload and try again.", code: err.code };
    case Code.Unavailable:
    case Code.Unknown:
      return { field: undefined, message: `The broker could not be reached (${message}).`, code: err.code };
    default:
      return { field: undefined, message: asSentence(message), code: err.code };
  }
}

/**
 * A broker's message ("must be an absolute URL") as the page shows it:
 * capitalised, with a full stop, and the protocol names written as names
 * ("http is allowed only to a loopback host" reads "HTTP is ...").
 */
export function asSentence(text: string): string {
  const named = text.replace(/\b(https?)\b(?!:\/\/)/g, (word) => word.toUpperCase());
  const sentence = named.charAt(0).toUpperCase() + named.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}
