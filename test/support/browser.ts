import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`); nothing downloads a browser of its own here. */
export const chromiumPath = "/usr/bin/chromium";

let axe: Promise<string> | undefined;

/** axe-core's browser build, read once. */
function axeSource(): Promise<string> {
  axe ??= readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  return axe;
}

/** Whether Chromium is installed; under CI=true a missing browser is an error, not a skip. */
export function browserAvailable(): { available: true } | { available: false; reason: string } {
  if (existsSync(chromiumPath)) {
    return { available: true };
  }
  const reason = `${chromiumPath} is missing (apt-get install chromium)`;
  if (process.env["CI"] === "true") {
    throw new Error(`browser tests cannot run in CI: ${reason}`);
  }
  return { available: false, reason };
}

/** Where screenshots of the browser tests go (gitignored). */
export const screenshotDir = new URL("../../test-results/ui/", import.meta.url);

/** A headless Chromium with a fresh profile, and what its pages printed to the console. */
export interface TestBrowser {
  readonly context: BrowserContext;
  /** Every console message and page error so far, as `type: text`. */
  consoleLines(): string[];
  newPage(): Promise<Page>;
  /** Saves a full-page screenshot as test-results/ui/<name>.png. */
  screenshot(page: Page, name: string): Promise<void>;
  /**
   * What axe-core finds wrong with the page as it is now (WCAG 2.1 A and AA
   * and axe's best practices): one line per rule, with the elements at fault.
   */
  accessibilityViolations(page: Page): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Launches Chromium as root can run it on CI: no sandbox, no GPU, and none of
 * the background networking that would flood a closed network with refused
 * connections; a new empty user-data dir each time.
 */
export async function launchBrowser(options: { ignoreHttpsErrors?: boolean } = {}): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), "credbroker-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1200, height: 800 },
    // for a listener whose certificate comes from a test CA that Chromium's profile does not trust
    ignoreHTTPSErrors: options.ignoreHttpsErrors ?? false,
  });
  const lines: string[] = [];
  const watch = (page: Page) => {
    page.on("console", (message) => lines.push(`${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => lines.push(`pageerror: ${error.message}`));
  };
  context.pages().forEach(watch);
  context.on("page", watch);
  await mkdir(screenshotDir, { recursive: true });
  return {
    context,
    consoleLines: () => [...lines],
    newPage: () => context.newPage(),
    async screenshot(page, name) {
      await page.screenshot({ path: new URL(`${name}.png`, screenshotDir).pathname, fullPage: true });
    },
    async accessibilityViolations(page) {
      // through the DevTools protocol, which the page's CSP does not govern
      await page.evaluate(await axeSource());
      return page.evaluate<string[]>(`axe
        .run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] })
        .then((result) => result.violations.map((v) => v.id + ": " + v.help + " at " + v.nodes.map((n) => n.target.join(" ")).join(", ")))`);
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
