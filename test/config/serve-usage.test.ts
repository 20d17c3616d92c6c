/** `credbroker serve --help` is derived from the settings table: every setting with its flag, variable, help and default. */
import { describe, expect, it } from "vitest";
import { serveUsage } from "../../src/cli/serve.ts";
import { serveSettings } from "../../src/config/settings.ts";

describe("serve --help", () => {
  it("names every setting's flag and variable, says what it is and gives its default", () => {
    const lines = serveUsage.split("\n");
    for (const setting of Object.values(serveSettings)) {
      const head = "flag" in setting ? `  --${setting.flag} ${setting.arg}` : `  ${setting.env}`;
      const at = lines.findIndex((line) => line.startsWith(head) && line.includes(setting.env));
      expect(at, setting.env).toBeGreaterThan(0);
      const described = lines.slice(at + 1, at + 3).join(" ");
      expect(described).toContain(setting.help);
      expect(described).toContain(`(default: ${"default" in setting ? setting.default : setting.unset.replaceAll("`", "")})`);
    }
  });
});
