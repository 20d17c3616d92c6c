import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { canary } from "../support/canary.ts";
import { json, startFakeEndpoint, type FakeEndpoint } from "../support/fake-endpoint.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

describe("OAuth2 Inject while its secret is deleted and created again (real token cache)", () => {
  let svc: TestServices;
  let endpoint: FakeEndpoint;
  /** The client id each issued access token went to. */
  const issuedTo = new Map<string, string>();
  let firstArrived: Promise<void>;
  let releaseFirst: () => void;
  const oauth2 = (clientId: string) => ({
    kind: { case: "oauth2ClientCredentials" as const, value: { clientId, clientSecret: canary(clientId), tokenUrl: endpoint.url } },
  });

  beforeEach(async () => {
    svc = await createTestServices();
    let arrived!: () => void;
    firstArrived = new Promise((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (releaseFirst = resolve));
    // the first token request is held until the test lets it go; every other one is answered at once
    endpoint = await startFakeEndpoint((n, req, res) => {
      const basic = Buffer.from((req.headers.authorization ?? "").slice("Basic ".length), "base64").toString("utf8");
      issuedTo.set(`token-${n}`, basic.slice(0, basic.indexOf(":")));
      const answer = () => json(res, 200, { access_token: `token-${n}`, token_type: "Bearer", expires_in: 600 });
      if (n === 1) {
        arrived();
        void released.then(answer);
      } else {
        answer();
      }
    });
  });
  afterEach(async () => {
    releaseFirst();
    await endpoint.stop();
    await svc.close();
  });

  it("never serves a token fetched with a deleted secret's credentials to the secret created again at the same version", async () => {
    await svc.secretsClient.createSecret({ mode: Mode.TEST, name: "recreated", credentials: oauth2("deleted-client") });
    const pending = svc.injectClient.inject({ mode: Mode.TEST, name: "recreated", step: StepKind.CODE });
    await firstArrived;
    await svc.secretsClient.deleteSecret({ mode: Mode.TEST, name: "recreated" });
    const again = await svc.secretsClient.createSecret({ mode: Mode.TEST, name: "recreated", credentials: oauth2("new-client") });
    expect(again.secret?.version).toBe(1n);
    releaseFirst();

    const answer = await pending;
    const token = answer.material.case === "code" ? answer.material.value.fields["accessToken"] : undefined;
    expect(issuedTo.get(token ?? "")).toBe("new-client");
    expect(answer.secret?.generation).toBe(again.secret?.generation);
    expect(endpoint.requests).toBe(2);
  });
});
