import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import type { Config } from "../../src/config/config.ts";
import { startTestBroker, type TestBroker } from "./broker.ts";

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

/** The admin page as built for a broker to serve (`npm run build:ui`; npm test builds it first). */
export const uiDir = fileURLToPath(new URL("../../dist/ui/", import.meta.url));

/** Throws unless the admin page is built: a test of it without the page would test nothing. */
export function expectBuiltPage(): void {
  if (!existsSync(join(uiDir, "index.html"))) {
    throw new Error(`the admin page is not built in ${uiDir}: run npm run build:ui (npm test does)`);
  }
}

/** What useAdminPage sets up for a describe: a real broker serving the built page, Chromium, and one page. */
export interface AdminPageFixture {
  readonly broker: TestBroker;
  readonly browser: TestBrowser;
  readonly page: Page;
  /** The HTTP listener's origin, `http://host:port`. */
  readonly base: string;
  /** The screen's h1. */
  heading(on?: Page): Locator;
  /** The row of the secrets table whose name cell is `name`. */
  row(name: string, on?: Page): Locator;
  /** A screenshot of the screen into test-results/ui, and axe-core's verdict on it, which must find nothing. */
  screen(name: string, on?: Page): Promise<void>;
  /** Signs in with the broker's admin token. */
  signIn(on?: Page): Promise<void>;
}

/** Options of useAdminPage. */
export interface AdminPageOptions {
  /** Settings of the broker, besides serving the built page. */
  config?: Partial<Config>;
  /** Runs once the broker serves and before the browser starts: the secrets a describe begins with. */
  seed?: (broker: TestBroker) => Promise<unknown>;
  /** The page's viewport (default the browser's 1200x800). */
  viewport?: { width: number; height: number };
  /** How long the set-up may take, in ms (default 60 s). */
  timeoutMs?: number;
}

/**
 * Starts, in the describe's beforeAll, a broker serving the built admin page,
 * Chromium and a page; closes them in its afterAll. The fixture's fields are
 * there from the beforeAll on.
 */
export function useAdminPage(options: AdminPageOptions = {}): AdminPageFixture {
  let broker: TestBroker | undefined;
  let browser: TestBrowser | undefined;
  let page: Page | undefined;
  const set = <T>(value: T | undefined): T => {
    if (value === undefined) {
      throw new Error("useAdminPage's fixture is used before its beforeAll ran");
    }
    return value;
  };
  beforeAll(async () => {
    expectBuiltPage();
    broker = await startTestBroker({ uiDir, ...options.config });
    await options.seed?.(broker);
    browser = await launchBrowser();
    page = await browser.newPage();
    if (options.viewport !== undefined) {
      await page.setViewportSize(options.viewport);
    }
  }, options.timeoutMs ?? 60_000);
  afterAll(async () => {
    await browser?.close();
    await broker?.close();
  });
  const fixture: AdminPageFixture = {
    get broker() {
      return set(broker);
    },
    get browser() {
      return set(browser);
    },
    get page() {
      return set(page);
    },
    get base() {
      return `http://${set(broker).broker.httpAddress}`;
    },
    heading: (on = fixture.page) => on.getByRole("heading", { level: 1 }),
    row: (name, on = fixture.page) => on.getByRole("row").filter({ has: on.getByRole("rowheader", { name, exact: true }) }),
    async screen(name, on = fixture.page) {
      await fixture.browser.screenshot(on, name);
      expect(await fixture.browser.accessibilityViolations(on), `accessibility of ${name}`).toEqual([]);
    },
    async signIn(on = fixture.page) {
      await on.getByLabel("Admin token").fill(fixture.broker.adminToken);
      await on.getByRole("button", { name: "Sign in" }).click();
    },
  };
  return fixture;
}
