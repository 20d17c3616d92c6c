import { randomBytes } from "node:crypto";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { browserAvailable, useAdminPage } from "../support/browser.ts";
import type { TestBroker } from "../support/broker.ts";
import { startTokenServer, type TokenServer } from "../support/oidc-server.ts";
import { sshdAvailable, startSshd, type RunningSshd } from "../support/sshd.ts";

// The Test button of the admin page in Debian's Chromium against a real
// broker serving the built page (dist/ui, `npm run build:ui`), oidc-provider
// and OpenSSH sshd.
const clientSecret = `CANARY${randomBytes(6).toString("hex")}`;
const password = `CANARY${randomBytes(6).toString("hex")}`;
const wrongPassword = `CANARY${randomBytes(6).toString("hex")}`;

const browserCheck = browserAvailable();
const sshd = sshdAvailable();
const ready = browserCheck.available && sshd.available;
const title = ready
  ? "the admin page's Test button in a real browser"
  : `the admin page's Test button (skipped: ${!browserCheck.available ? browserCheck.reason : sshd.available ? "" : sshd.reason})`;

describe.skipIf(!ready)(title, () => {
  const ui = useAdminPage();
  const { screen } = ui;
  let broker: TestBroker;
  let idp: TokenServer;
  let server: RunningSshd;
  let page: Page;

  beforeAll(async () => {
    ({ broker, page } = ui);
    idp = await startTokenServer({
      clients: [{ grant_types: ["client_credentials"], redirect_uris: [], response_types: [], client_id: "erp-client", client_secret: clientSecret, scope: "orders.read" }],
      scopes: ["orders.read"],
      ttlSeconds: 900,
    });
    server = await startSshd({ password });
    // a missing element fails its step within seconds, not at the test's timeout
    page.setDefaultTimeout(8000);
    await page.goto(`${ui.base}/ui/`);
    await ui.signIn();
    await page.getByRole("button", { name: "Create secret" }).waitFor();
  }, 60_000);

  // before the fixture closes the browser and the broker
  afterAll(async () => {
    const seen = [...(page === undefined ? [] : ui.browser.consoleLines()), broker?.logs() ?? ""].join("\n");
    for (const value of [clientSecret, password, wrongPassword]) {
      expect(seen).not.toContain(value);
    }
    await server?.close();
    await idp?.stop();
  });

  const result = () => page.getByRole("status").filter({ hasText: /Test (passed|failed)/ });

  it("tests OAuth2 values on the create screen: a token from oidc-provider, with its scopes and lifetime, and nothing saved", async () => {
    await page.getByRole("button", { name: "Create secret" }).click();
    await page.getByLabel("Name").fill("erp-oauth2");
    await page.getByLabel("Type").selectOption("SECRET_TYPE_OAUTH2_CLIENT_CREDENTIALS");
    await page.locator("#field-oauth2ClientCredentials-clientId").fill("erp-client");
    await page.locator("#field-oauth2ClientCredentials-clientSecret").fill(clientSecret);
    await page.locator("#field-oauth2ClientCredentials-tokenUrl").fill(idp.tokenUrl);
    await page.getByRole("textbox", { name: "Scopes" }).fill("orders.read");
    await page.getByRole("button", { name: "Add scope" }).click();
    const before = idp.arrivals;
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await expect.poll(() => result().textContent()).toContain("Test passed");
    const text = (await result().textContent()) ?? "";
    console.log("page shows:", text);
    expect(text).toContain("Token typebearer");
    expect(text).toContain("Scopesorders.read");
    expect(text).toContain("Lifetime900 s");
    expect(idp.arrivals).toBe(before + 1);
    expect(await page.content()).not.toContain(idp.requests.at(-1)!.accessToken!);
    await screen("test-button-oauth2-passed");
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect(broker.connect(SecretService, broker.adminToken).getSecret({ mode: Mode.TEST, name: "erp-oauth2" })).rejects.toThrow();
  });

  it("tests an SFTP password on the create screen: a wrong one is a refused login, the right one accepted", async () => {
    await page.getByRole("button", { name: "Create secret" }).click();
    await page.getByLabel("Name").fill("files-sftp");
    await page.getByLabel("Type").selectOption("SECRET_TYPE_SFTP_PASSWORD");
    await page.locator("#field-sftpPassword-username").fill(server.username);
    await page.locator("#field-sftpPassword-password").fill(wrongPassword);
    await page.getByLabel("Host", { exact: true }).fill(server.host);
    await page.getByLabel("Port").fill(String(server.port));
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await expect.poll(() => result().textContent()).toContain("Test failed");
    const text = (await result().textContent()) ?? "";
    console.log("page shows:", text);
    expect(text).toContain("login refused");
    expect(text).toContain("Loginrefused");
    await screen("test-button-sftp-wrong-password");
    // the fingerprint the test showed is pinned with one click, and the right password is accepted
    await page.getByRole("button", { name: "Pin this host key" }).click();
    expect(await page.getByLabel("Host key fingerprint").inputValue()).toMatch(/^SHA256:/);
    await page.locator("#field-sftpPassword-password").fill(password);
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await expect.poll(() => result().textContent()).toContain("Test passed");
    expect(await result().textContent()).toContain("Pinned keymatches");
    await page.getByRole("button", { name: "Cancel" }).click();
  });

  it("tests the saved secret from the edit screen while no value is changed", async () => {
    await broker.connect(SecretService, broker.adminToken).createSecret({
      mode: Mode.TEST,
      name: "erp-saved",
      credentials: { kind: { case: "oauth2ClientCredentials", value: { clientId: "erp-client", clientSecret, tokenUrl: idp.tokenUrl } } },
    });
    await page.reload();
    await page.getByRole("button", { name: "Edit erp-saved" }).click();
    expect(await page.locator("#test-hint").textContent()).toContain("Tries the saved erp-saved");
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await expect.poll(() => result().textContent()).toContain("Test passed");
    await screen("test-button-edit-saved");
    await page.getByRole("button", { name: "Cancel" }).click();
  });
});
