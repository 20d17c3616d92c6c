import { generateKeyPairSync, randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, SecretType, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { browserAvailable, launchBrowser, uiDir, useAdminPage, type TestBrowser } from "../support/browser.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { makePki } from "../support/pki.ts";

// The admin page in Debian's Chromium against a real broker serving the
// built page (dist/ui, `npm run build:ui`; npm test builds it first).
const injectToken = "inject-token-ui-e2e-7d41b9c06a2e58f3";

// values that must never reach the page after saving, the console or the log
const canary = `CANARY${randomBytes(6).toString("hex")}`;
const privateKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/** One secret of each type, as an operator types it in. */
const secretsToCreate = [
  { name: "crm-basic", type: "Basic Auth", fields: { Username: "crm-user", Password: `pw-${canary}` } },
  { name: "billing-bearer", type: "Bearer Token", fields: { Token: `tok-${canary}` } },
  { name: "maps-api-key", type: "API Key", fields: { "Key name": "X-API-Key", "Key value": `key-${canary}` } },
  { name: "files-sftp-password", type: "SFTP Password", fields: { Username: "deploy", Password: `sftp-${canary}` } },
  { name: "files-sftp-key", type: "SFTP Private Key", fields: { Username: "deploy", "Private key": privateKey } },
  {
    name: "erp-oauth2",
    type: "OAuth2 Client Credentials",
    fields: { "Client ID": "erp-client", "Client secret": `cs-${canary}`, "Token URL": "https://idp.example.com/oauth2/token" },
    scopes: ["orders.read", "orders.write"],
  },
  { name: "gcp-service-account", type: "JSON Credentials", fields: { "JSON content": `{"type":"service_account","private_key":"${canary}"}` } },
] as const;

const browserCheck = browserAvailable();
const title = browserCheck.available ? "admin page in a real browser" : `admin page in a real browser (skipped: ${browserCheck.reason})`;

describe.skipIf(!browserCheck.available)(title, () => {
  const ui = useAdminPage({ config: { injectToken: { value: injectToken, source: "test" } } });
  const { heading, row, screen } = ui;
  let broker: TestBroker;
  let browser: TestBrowser;
  let page: Page;
  let base: string;
  beforeAll(() => ({ broker, browser, page, base } = ui));

  it("serves the page with its security headers, and refuses a wrong token with a clear screen", async () => {
    const response = await page.goto(`${base}/ui/`);
    expect(response?.status()).toBe(200);
    const headers = response!.headers();
    expect(headers["content-security-policy"]).toContain("script-src 'self'");
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["x-content-type-options"]).toBe("nosniff");
    expect(headers["referrer-policy"]).toBe("no-referrer");
    expect(headers["x-frame-options"]).toBe("DENY");

    await page.getByLabel("Admin token").fill("not-the-admin-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await expect.poll(() => alert.textContent()).toContain("This is not the broker's admin token");
    expect(await page.getByLabel("Admin token").getAttribute("aria-invalid")).toBe("true");
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    await screen("01-sign-in-wrong-token");
  });

  it("signs in with the admin token, kept in sessionStorage only", async () => {
    await page.getByLabel("Admin token").fill(broker.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => heading().textContent()).toBe("Secrets in Test");
    expect(await page.evaluate("localStorage.length")).toBe(0);
    expect(await page.evaluate("Object.values(sessionStorage)")).toEqual([broker.adminToken]);
    expect(page.url()).not.toContain(broker.adminToken);
    await expect.poll(() => page.getByText("No secrets in this mode yet.").count()).toBe(1);
    await screen("02-secrets-empty");
  });

  it("checks fields in the page before sending, and names the field", async () => {
    await page.getByRole("button", { name: "Create secret" }).click();
    await expect.poll(() => heading().textContent()).toBe("Create a secret in Test");
    await page.getByLabel("Name").fill("Not A Name");
    await page.getByRole("button", { name: "Create secret" }).click();
    await expect.poll(() => page.locator("#secret-name-error").textContent()).toContain("lowercase letters");
    expect(await page.locator("#secret-type-error").textContent()).toBe("Choose a type.");
    // focus moves to the first field in error, and the summary is announced
    expect(await focusedId(page)).toBe("secret-name");
    expect(await page.getByRole("alert").textContent()).toContain("2 fields need attention");
    await screen("03-create-client-checks");
    await page.getByRole("button", { name: "Cancel" }).click();
  });

  it("shows a server-side validation error at the field it names", async () => {
    await page.getByRole("button", { name: "Create secret" }).click();
    await page.getByLabel("Name").fill("broken-key");
    await page.getByLabel("Type").selectOption({ label: "SFTP Private Key" });
    await page.getByLabel("Username").fill("deploy");
    // the page cannot parse keys; the broker can, and names the field
    await page.getByLabel("Private key").fill("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
    await page.getByRole("button", { name: "Create secret" }).click();
    const error = page.locator("#field-sftpPrivateKey-privateKey-error");
    await expect.poll(() => error.count()).toBe(1);
    expect(await error.textContent()).not.toBe("");
    expect(await page.getByLabel("Private key").getAttribute("aria-invalid")).toBe("true");
    expect(await focusedId(page)).toBe("field-sftpPrivateKey-privateKey");
    await screen("04-create-server-error-at-field");
    await page.getByRole("button", { name: "Cancel" }).click();
    await expectNotFound(() => broker.connect(SecretService, broker.adminToken).getSecret({ mode: Mode.TEST, name: "broken-key" }));
  });

  it("creates one secret of each type through the form", async () => {
    for (const secret of secretsToCreate) {
      await page.getByRole("button", { name: "Create secret" }).click();
      await page.getByLabel("Name").fill(secret.name);
      await page.getByLabel("Type").selectOption({ label: secret.type });
      await page.getByLabel("Description").fill(`${secret.type} for the e2e test`);
      for (const [label, value] of Object.entries(secret.fields)) {
        // an optional field's label ends in "(optional)" (the client secret is, for private_key_jwt)
        await page.getByLabel(label, { exact: true }).or(page.getByLabel(`${label} (optional)`, { exact: true })).fill(value);
      }
      if ("scopes" in secret) {
        for (const scope of secret.scopes) {
          await page.getByRole("textbox", { name: "Scopes" }).fill(scope);
          await page.getByRole("button", { name: "Add scope" }).click();
        }
        await page.getByLabel("Client authentication").selectOption({ label: "client_secret_post (request body)" });
        await screen("05-create-oauth2-form");
      }
      if (secret.type === "SFTP Private Key") {
        // masked until asked for
        expect(await page.getByLabel("Private key").getAttribute("class")).toBe("masked");
      }
      if (secret.type === "JSON Credentials") {
        // a JSON document holds keys: masked like a private key, with the same Show button
        expect(await page.getByLabel("JSON content").getAttribute("class")).toBe("masked");
        expect(await page.getByRole("button", { name: "Show JSON content" }).count()).toBe(1);
      }
      await page.getByRole("button", { name: "Create secret" }).click();
      await expect.poll(() => page.getByRole("status").first().textContent()).toBe(`Created ${secret.name} in Test.`);
    }
    const stored = await broker.connect(SecretService, broker.adminToken).listSecrets({ mode: Mode.TEST });
    expect(stored.secrets.map((s) => [s.name, s.type]).sort()).toEqual(
      [
        ["billing-bearer", SecretType.BEARER_TOKEN],
        ["crm-basic", SecretType.BASIC_AUTH],
        ["erp-oauth2", SecretType.OAUTH2_CLIENT_CREDENTIALS],
        ["files-sftp-key", SecretType.SFTP_PRIVATE_KEY],
        ["files-sftp-password", SecretType.SFTP_PASSWORD],
        ["gcp-service-account", SecretType.JSON_CREDENTIALS],
        ["maps-api-key", SecretType.API_KEY],
      ].sort(),
    );
    // the key pasted into the form is one the broker can hand to an SFTP step
    const sftp = await broker.connect(InjectService, injectToken).inject({ mode: Mode.TEST, name: "files-sftp-key", step: StepKind.SFTP });
    expect(sftp.material.case === "sftp" && sftp.material.value.username).toBe("deploy");
  });

  it("lists the secrets with type, description, version and update time", async () => {
    await expect.poll(() => page.getByRole("row").count()).toBe(1 + secretsToCreate.length);
    const cells = await row("maps-api-key").getByRole("cell").allTextContents();
    // checkbox, type, description, in Live, version, updated, last used, actions
    expect(cells.slice(1, 5)).toEqual(["API Key", "API Key for the e2e test", "Not in Live", "1"]);
    expect(cells[5]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    expect(cells[6]).toBe("Never");
    expect(await page.getByText("7 secrets; showing 1-7").count()).toBe(1);
    await screen("06-secrets-list-test");
  });

  it("edits a secret: the readable fields pre-filled, the password unchanged until replaced, the type fixed", async () => {
    await page.getByRole("button", { name: "Edit crm-basic" }).click();
    await expect.poll(() => heading().textContent()).toBe("Edit crm-basic");
    expect(await page.getByLabel("Type").isDisabled()).toBe(true);
    expect(await page.getByLabel("Name", { exact: true }).getAttribute("readonly")).not.toBeNull();
    await expect.poll(() => page.getByLabel("Username").inputValue()).toBe("crm-user");
    expect(await page.getByLabel("Password").inputValue()).toBe("");
    expect(await page.locator("#field-basicAuth-password-unchanged").textContent()).toContain("Unchanged");
    await page.getByLabel("Description").fill("CRM login, rotated");
    await page.getByLabel("Password").fill(`pw2-${canary}`);
    expect(await page.locator("#field-basicAuth-password-unchanged").textContent()).toBe("Replaced on save.");
    await screen("07-edit");
    await page.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toBe("Saved crm-basic in Test.");
    await expect.poll(() => row("crm-basic").getByRole("cell").nth(4).textContent()).toBe("2");
  });

  it("deploys two chosen test secrets to Live, which Inject then serves", async () => {
    const client = broker.connect(SecretService, broker.adminToken);
    // one of the two exists in Live already: the page says which was created and which replaced
    await client.deploySecrets({ names: ["maps-api-key"] });
    await page.getByRole("checkbox", { name: "Select crm-basic for deploy" }).check();
    await page.getByRole("checkbox", { name: "Select maps-api-key for deploy" }).check();
    await page.getByRole("button", { name: "Deploy selected to Live (2)" }).click();
    const dialog = page.getByRole("dialog");
    await expect.poll(() => dialog.getByRole("heading", { level: 2 }).textContent()).toBe("Deploy 2 secrets to Live?");
    // the dry run says which Live secret is replaced and which created, before anything is written
    await expect.poll(() => dialog.locator(".name-list.replaced li").allTextContents()).toEqual(["maps-api-key"]);
    expect(await dialog.locator(".name-list.created li").allTextContents()).toEqual(["crm-basic"]);
    expect(await dialog.getByRole("heading", { level: 3 }).allTextContents()).toEqual(["Replaced in Live (1)", "Created in Live (1)"]);
    await screen("08-deploy-confirm");
    await dialog.getByRole("button", { name: "Deploy to Live" }).click();
    await expect.poll(() => heading().textContent()).toBe("Deployed to Live");
    expect(await row("crm-basic").getByRole("cell").allTextContents()).toEqual(["Created", "1"]);
    expect(await row("maps-api-key").getByRole("cell").allTextContents()).toEqual(["Replaced", "2"]);
    await screen("09-deploy-result");

    const inject = broker.connect(InjectService, injectToken);
    const basic = await inject.inject({ mode: Mode.LIVE, name: "crm-basic", step: StepKind.HTTP });
    const apiKey = await inject.inject({ mode: Mode.LIVE, name: "maps-api-key", step: StepKind.HTTP });
    expect(basic.material.case === "http" && basic.material.value.headers).toEqual([
      { $typeName: "credbroker.v1.HttpHeader", name: "Authorization", value: `Basic ${Buffer.from(`crm-user:pw2-${canary}`).toString("base64")}` },
    ]);
    expect(apiKey.material.case === "http" && apiKey.material.value.headers.map((h) => [h.name, h.value])).toEqual([["X-API-Key", `key-${canary}`]]);
  });

  it("shows Live without delete or deploy", async () => {
    await page.getByRole("button", { name: "Show Live secrets" }).click();
    await expect.poll(() => heading().textContent()).toBe("Secrets in Live");
    await expect.poll(() => page.getByRole("row").count()).toBe(3);
    expect(await page.getByRole("button", { name: /^Delete/ }).count()).toBe(0);
    expect(await page.getByRole("button", { name: /^Deploy/ }).count()).toBe(0);
    expect(await page.getByRole("checkbox").count()).toBe(0);
    expect(await page.getByRole("button", { name: "Edit crm-basic" }).count()).toBe(1);
    // why there is no Delete, in the product's words
    expect(await page.locator(".live-rule").textContent()).toContain("delete a secret in Test, and a deploy from Test replaces the Live secret");
    await screen("10-secrets-list-live");
  });

  it("deletes in Test only after a confirmation that says what it means", async () => {
    await page.getByRole("radio", { name: "Test" }).check();
    await expect.poll(() => heading().textContent()).toBe("Secrets in Test");
    await page.getByRole("button", { name: "Delete gcp-service-account" }).click();
    const dialog = page.getByRole("dialog");
    const text = await dialog.textContent();
    expect(text).toContain("permanently deletes gcp-service-account from Test");
    expect(text).toContain("every step that uses it in Test will fail");
    // the safe choice has the focus
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Cancel");
    await screen("11-delete-confirm");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(await row("gcp-service-account").count()).toBe(1);

    await page.getByRole("button", { name: "Delete gcp-service-account" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete permanently" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toBe("Deleted gcp-service-account from Test.");
    await expect.poll(() => row("gcp-service-account").count()).toBe(0);
    await expectNotFound(() => broker.connect(SecretService, broker.adminToken).getSecret({ mode: Mode.TEST, name: "gcp-service-account" }));
    await screen("12-after-delete");
  });

  it("works from the keyboard alone: create, then a delete dialog closed with Escape", async () => {
    const keyboard = await browser.newPage();
    await keyboard.goto(`${base}/ui/`);
    // a new tab has no token: sign in by typing and Enter
    await expect.poll(() => focusedId(keyboard)).toBe("admin-token");
    await keyboard.keyboard.type(broker.adminToken);
    await keyboard.keyboard.press("Enter");
    await expect.poll(() => keyboard.getByRole("heading", { level: 1 }).textContent()).toBe("Secrets in Test");
    await tabTo(keyboard, "Create secret");
    await keyboard.keyboard.press("Enter");
    await expect.poll(() => keyboard.getByRole("heading", { level: 1 }).textContent()).toBe("Create a secret in Test");
    await tabTo(keyboard, "Name");
    await keyboard.keyboard.type("keyboard-token");
    await keyboard.keyboard.press("Tab");
    await keyboard.keyboard.press("ArrowDown");
    await keyboard.keyboard.press("ArrowDown");
    expect(await keyboard.getByLabel("Type").inputValue()).toBe("SECRET_TYPE_BEARER_TOKEN");
    await tabTo(keyboard, "Token");
    await keyboard.keyboard.type(`kb-${canary}`);
    await keyboard.keyboard.press("Enter");
    await expect.poll(() => keyboard.getByRole("status").first().textContent()).toBe("Created keyboard-token in Test.");
    await expect.poll(() => keyboard.getByRole("rowheader", { name: "keyboard-token" }).count()).toBe(1);
    await tabTo(keyboard, "Delete keyboard-token");
    await keyboard.keyboard.press("Enter");
    await expect.poll(() => keyboard.getByRole("dialog").count()).toBe(1);
    await keyboard.keyboard.press("Escape");
    await expect.poll(() => keyboard.getByRole("dialog").count()).toBe(0);
    expect(await keyboard.getByRole("rowheader", { name: "keyboard-token" }).count()).toBe(1);
    // signing out forgets the token
    await tabTo(keyboard, "Sign out");
    await keyboard.keyboard.press("Enter");
    await expect.poll(() => focusedId(keyboard)).toBe("admin-token");
    expect(await keyboard.evaluate("sessionStorage.length")).toBe(0);
    await keyboard.close();
  });

  it("refuses to overwrite a secret that changed after the page read it", async () => {
    await page.getByRole("button", { name: "Edit billing-bearer" }).click();
    await page.getByLabel("Description").fill("edited in the page");
    // meanwhile, another operator changes it
    await broker.connect(SecretService, broker.adminToken).updateSecret({ mode: Mode.TEST, name: "billing-bearer", description: "edited elsewhere" });
    await page.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("changed since this page read it");
    const stored = await broker.connect(SecretService, broker.adminToken).getSecret({ mode: Mode.TEST, name: "billing-bearer" });
    expect(stored.secret?.description).toBe("edited elsewhere");
    await page.getByRole("button", { name: "Cancel" }).click();
  });

  it("pages through more secrets than fit on one page", async () => {
    const client = broker.connect(SecretService, broker.adminToken);
    for (let i = 0; i < 15; i++) {
      await client.createSecret({
        mode: Mode.TEST,
        name: `zz-bulk-${String(i).padStart(2, "0")}`,
        credentials: { kind: { case: "bearerToken", value: { token: `bulk-${canary}` } } },
      });
    }
    // 6 left from the flows above, and the keyboard one: 22 in all, 20 to a page
    await page.getByRole("radio", { name: "Live" }).check();
    await page.getByRole("radio", { name: "Test" }).check();
    await expect.poll(() => page.getByRole("row").count()).toBe(1 + 20);
    // a pager above the list and one below it
    expect(await page.getByRole("navigation", { name: /^Pages/ }).count()).toBe(2);
    expect(await page.getByRole("button", { name: "Previous page" }).first().isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Next page" }).last().click();
    await expect.poll(() => page.getByText("Page 2 of 2").count()).toBe(1);
    await expect.poll(() => page.getByRole("row").count()).toBe(1 + 2);
    expect(await page.getByRole("rowheader").allTextContents()).toEqual(["zz-bulk-13", "zz-bulk-14"]);
    expect(await page.getByRole("button", { name: "Next page" }).first().isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Previous page" }).first().click();
    await expect.poll(() => page.getByRole("row").count()).toBe(1 + 20);
    expect(await page.getByText("Page 1 of 2").count()).toBe(2);
  });

  it("cannot be framed by another origin, and another origin's page cannot call the API even with the token", async () => {
    // a page of another origin (another port), holding the admin token as if it had stolen it
    const other = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><title>other origin</title><iframe src="${base}/ui/"></iframe><script>
        window.apiCall = fetch("${base}/credbroker.v1.SecretService/ListSecrets", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer ${broker.adminToken}" },
          body: "{}",
        }).then((r) => "answered " + r.status, (e) => "refused: " + e.name);
      </script>`);
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const otherPage = await browser.newPage();
    try {
      await otherPage.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
      // the browser's CORS check: the broker never allows another origin, so the call is not made
      expect(await otherPage.evaluate("window.apiCall")).toBe("refused: TypeError");
      // frame-ancestors 'none' and X-Frame-Options: DENY keep the page out of the frame
      await expect.poll(() => otherPage.frames()[1]?.url()).toMatch(/^chrome-error:/);
    } finally {
      await otherPage.close();
      other.closeAllConnections();
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it("never shows, logs or prints a credential value", async () => {
    expect(await page.content()).not.toContain(canary);
    expect(browser.consoleLines().join("\n")).not.toContain(canary);
    // no CSP violation, no React error: only Chromium's own notes on the answers the tests provoked
    // (the wrong token's 401, the broken key's 400, the stale edit's 409), the other origin's refused
    // frame and CORS call, and its verbose DOM hints
    const expected =
      /^(verbose: |error: Failed to load resource: the server responded with a status of (400|401|409) |error: Framing '[^']*' violates the following Content Security Policy directive: "frame-ancestors 'none'"|error: Access to fetch at |error: Failed to load resource: net::ERR_FAILED)/;
    expect(browser.consoleLines().filter((line) => !expected.test(line))).toEqual([]);
    expect(broker.logs()).not.toContain(canary);
    expect(broker.logs()).not.toContain(broker.adminToken);
  });

  it("sends a user whose token stops working back to sign-in", async () => {
    await page.evaluate(`sessionStorage.setItem("credbroker.adminToken", "revoked-token")`);
    await page.reload();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("not accepted any more");
    expect(await page.getByLabel("Admin token").count()).toBe(1);
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
  });
});

describe.skipIf(!browserCheck.available)(`${title}, over TLS`, () => {
  it("serves the page and its API over the TLS listener, on the listener's own https origin", async () => {
    const pki = await makePki();
    const broker = await startTestBroker({ uiDir, tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: undefined } });
    const browser = await launchBrowser({ ignoreHttpsErrors: true });
    try {
      const page = await browser.newPage();
      const response = await page.goto(`https://${broker.broker.httpAddress}/ui/`);
      expect(response?.status()).toBe(200);
      expect(response?.headers()["content-security-policy"]).toContain("connect-src 'self'");
      await page.getByLabel("Admin token").fill(broker.adminToken);
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Secrets in Test");
      await page.getByRole("button", { name: "Create secret" }).click();
      await page.getByLabel("Name").fill("over-tls");
      await page.getByLabel("Type").selectOption({ label: "Bearer Token" });
      await page.getByLabel("Token", { exact: true }).fill(`tls-${canary}`);
      await page.getByRole("button", { name: "Create secret" }).click();
      await expect.poll(() => page.getByRole("rowheader", { name: "over-tls" }).count()).toBe(1);
      expect(page.url()).toMatch(/^https:/);
    } finally {
      await browser.close();
      await broker.close();
      await rm(pki.dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!browserCheck.available)(`${title}, when the broker goes away`, () => {
  it("says the broker cannot be reached, in an alert with a way to try again, and keeps the token", async () => {
    const broker = await startTestBroker({ uiDir });
    let brokerUp = true;
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`http://${broker.broker.httpAddress}/ui/`);
      await page.getByLabel("Admin token").fill(broker.adminToken);
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Secrets in Test");
      await broker.close();
      brokerUp = false;
      await page.getByRole("radio", { name: "Live" }).check();
      const alert = page.getByRole("alert");
      await expect.poll(() => alert.textContent()).toContain("Could not load the secrets: The broker could not be reached");
      expect(await alert.getByRole("button", { name: "Try again" }).count()).toBe(1);
      // an outage is no reason to sign out
      expect(await page.evaluate("sessionStorage.length")).toBe(1);
      await browser.screenshot(page, "13-broker-unreachable");
    } finally {
      await browser.close();
      if (brokerUp) {
        await broker.close();
      }
    }
  });
});

/** Presses Tab until the focused element's accessible name (label or aria-label) is `name`. */
async function tabTo(page: Page, name: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    // the focused element's aria-label, or the text of its <label> (without "(optional)")
    const focused = await page.evaluate<string>(`(() => {
      const element = document.activeElement;
      const label = element?.id ? document.querySelector('label[for="' + element.id + '"]') : null;
      return (element?.getAttribute("aria-label") ?? label?.firstChild?.textContent ?? element?.textContent ?? "").trim();
    })()`);
    if (focused === name) {
      return;
    }
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached "${name}"`);
}

/** The id of the element that has the focus. */
function focusedId(page: Page): Promise<string | undefined> {
  return page.evaluate<string | undefined>("document.activeElement?.id");
}

async function expectNotFound(call: () => Promise<unknown>): Promise<void> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(ConnectError.from(error).code).toBe(Code.NotFound);
}
