/**
 * The README's Configuration table against the settings table: the same
 * variables in the same order, each with its flag and its default, so that
 * neither can change without the other.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { serveSettings } from "../../src/config/settings.ts";

interface Row {
  variable: string;
  flag: string;
  default: string;
}

/** The rows of the first table under "## Configuration": variable, flag and default, as written. */
async function readmeRows(): Promise<Row[]> {
  const readme = await readFile(join(import.meta.dirname, "../../README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Configuration\n"));
  const table = section.slice(section.indexOf("\n| variable |")).split("\n\n")[0]!;
  return table
    .trim()
    .split("\n")
    .slice(2)
    .map((line) => {
      // cells are split at pipes that are not escaped
      const [variable = "", flag = "", defaultCell = ""] = line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim());
      return { variable, flag, default: defaultCell };
    });
}

describe("the README's Configuration table", () => {
  it("lists every setting, in the table's order, with its flag and default", async () => {
    const rows = await readmeRows();
    const expected = Object.values(serveSettings).map((setting) => ({
      variable: `\`${setting.env}\``,
      flag: "flag" in setting ? `\`--${setting.flag}\`` : "",
      default: "default" in setting ? `\`${setting.default}\`` : setting.unset,
    }));
    expect(rows).toEqual(expected);
  });
});
