import { readFile } from "node:fs/promises";
import { ConfigError } from "./config-error.ts";

/** A value as it was given, and the variable or flag it came from (for messages). */
export interface RawSetting {
  /** The text: a variable's value, a flag's argument, or the content of the file a secret's flag names. */
  value: string;
  /** E.g. "CREDBROKER_LISTEN", "--listen" or "--admin-token-file /run/secrets/admin". */
  source: string;
}

/** What every setting says about itself. */
interface SettingBase {
  /** The environment variable. */
  readonly env: string;
  /** The flag, without its dashes; absent for a setting read from the environment only. */
  readonly flag?: string;
  /** What the flag takes, as the usage shows it: DIR, ADDR, FILE, N. */
  readonly arg?: string;
  /**
   * A secret: the flag names a file that holds the value, so that the value
   * stays off the command line, and a variable set empty is a mistake rather
   * than unset. Parsers never put a secret's value in a message.
   */
  readonly secret?: true;
  /** The line of `--help` that says what it is. */
  readonly help: string;
}

/** A setting with a default, which is parsed as if it had been given. */
export interface DefaultedSetting<T> extends SettingBase {
  /** The default, as a value of the setting would be written. */
  readonly default: string;
  /** Turns the given (or default) text into the value; a mistake is a ConfigError naming `raw.source`. */
  parse(raw: RawSetting): T | Promise<T>;
}

/** A setting whose absence means something of its own. */
export interface OptionalSetting<T> extends SettingBase {
  /** What it means to leave it unset, in the README's words (Markdown). */
  readonly unset: string;
  /** Turns the given text, or its absence, into the value; a mistake is a ConfigError naming `raw.source`. */
  parse(raw: RawSetting | undefined): T | Promise<T>;
}

/** One row of a settings table. */
export type Setting<T = unknown> = DefaultedSetting<T> | OptionalSetting<T>;

/** The value a setting yields. */
export type SettingValue<S> = S extends Setting<infer T> ? T : never;

/** The values of a table of settings, field by field. */
export type SettingValues<Table extends Record<string, Setting>> = {
  -readonly [K in keyof Table]: Awaited<SettingValue<Table[K]>>;
};

/** Flag values as util.parseArgs returns them. */
export type FlagValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

/** A setting with a default (typed by its parser). */
export function defaulted<T>(setting: DefaultedSetting<T>): DefaultedSetting<T> {
  return setting;
}

/** A setting without a default (typed by its parser). */
export function optional<T>(setting: OptionalSetting<T>): OptionalSetting<T> {
  return setting;
}

/** Reads one setting: its flag over its variable over its default. */
export async function readSetting<T>(setting: Setting<T>, flags: FlagValues, env: NodeJS.ProcessEnv): Promise<T> {
  const raw = await given(setting, flags, env);
  return "default" in setting ? setting.parse(raw ?? { value: setting.default, source: setting.env }) : setting.parse(raw);
}

/** Reads every setting of a table. */
export async function readSettings<Table extends Record<string, Setting>>(
  table: Table,
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
): Promise<SettingValues<Table>> {
  const entries = await Promise.all(Object.entries(table).map(async ([key, setting]) => [key, await readSetting(setting, flags, env)]));
  return Object.fromEntries(entries) as SettingValues<Table>;
}

async function given(setting: Setting, flags: FlagValues, env: NodeJS.ProcessEnv): Promise<RawSetting | undefined> {
  const flagValue = setting.flag === undefined ? undefined : flags[setting.flag];
  if (typeof flagValue === "string") {
    const flag = `--${setting.flag}`;
    return setting.secret === true
      ? { value: (await readConfigFile(flagValue, flag)).trim(), source: `${flag} ${flagValue}` }
      : { value: flagValue, source: flag };
  }
  const value = env[setting.env];
  if (value === undefined || (value === "" && setting.secret !== true)) {
    return undefined;
  }
  return { value, source: setting.env };
}

/** Reads a file a setting names; a failure is a ConfigError naming the setting, the path and the errno code, never the content. */
export async function readConfigFile(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError(`${flag}: cannot read ${path} (${code})`);
  }
}
