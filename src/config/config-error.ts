/** A configuration mistake; the message names the variable or flag, never a value. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** The stable code, which the CLI prints after the message. */
  readonly code = "ERR_CONFIG";
}
