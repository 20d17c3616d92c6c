import { pino, type DestinationStream, type Logger } from "pino";

/**
 * Keys that would hold a credential if some code ever logged one. The broker
 * logs identifiers only (method, mode, name, code); this is the safety net.
 * Top-level paths, because wildcard paths cost a walk of every logged object
 * on the hot path.
 */
const credentialKeys = [
  "password",
  "token",
  "accessToken",
  "privateKey",
  "passphrase",
  "clientSecret",
  "keyValue",
  "json",
  "credentials",
  "authorization",
  "headers",
];

/** The broker's logger: JSON lines (stderr by default), credential-shaped keys redacted. */
export function createLogger(level: string, destination?: DestinationStream | NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "credbroker" },
      redact: { paths: credentialKeys, censor: "[redacted]" },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
  );
}
