import type { Setting } from "./setting.ts";

/** The width of the flag column of a help text. */
const flagColumn = 32;

/**
 * The help lines of some settings, in their order: the flag and its
 * variable, then what the setting is and its default, indented. Settings
 * without a flag come after the others, under a heading of their own.
 */
export function settingsHelp(settings: readonly Setting[]): string {
  const withFlag = settings.filter((setting) => setting.flag !== undefined);
  const envOnly = settings.filter((setting) => setting.flag === undefined);
  const lines = withFlag.flatMap((setting) => entry(`--${setting.flag}${setting.arg === undefined ? "" : ` ${setting.arg}`}`, setting));
  if (envOnly.length > 0) {
    lines.push("", "From the environment only:", ...envOnly.flatMap((setting) => entry(setting.env, setting)));
  }
  return `${lines.join("\n")}\n`;
}

function entry(head: string, setting: Setting): string[] {
  const first = setting.flag === undefined ? `  ${head}` : `  ${head.padEnd(flagColumn - 3)} ${setting.env}`;
  const described = `      ${setting.help} (default: ${defaultText(setting)})`;
  // a long default goes on a line of its own rather than past 80 columns
  return described.length <= 80 ? [first, described] : [first, `      ${setting.help}`, `      (default: ${defaultText(setting)})`];
}

/** The default as help prints it: the README's words without their Markdown code marks. */
function defaultText(setting: Setting): string {
  return "default" in setting ? setting.default : setting.unset.replaceAll("`", "");
}
