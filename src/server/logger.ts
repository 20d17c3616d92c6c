import { pino, type Logger } from "pino";

/** The broker's logger: JSON lines on stderr, keys that could hold credentials redacted. */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: { service: "credbroker" },
      redact: {
        paths: ["*.password", "*.token", "*.privateKey", "*.passphrase", "*.clientSecret", "*.keyValue", "*.json", "*.authorization"],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
