import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basicCredentialEncoding } from "../../src/oauth/client-auth.ts";
import { createTokenFetcher } from "../../src/oauth/token-fetch.ts";
import { canary, credentials, expectCode, expectNoCanary } from "../support/canary.ts";
import { json, startFakeEndpoint } from "../support/fake-endpoint.ts";
import type { FakeEndpoint } from "../support/fake-endpoint.ts";
import { startTokenServer } from "../support/oidc-server.ts";
import { debianPython, pythonModule } from "../support/python.ts";
import type { TokenServer } from "../support/oidc-server.ts";

const guid = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
// the characters that pass unencoded, around a unique part: what an Entra ID or Okta secret looks like
const plainSecret = `Ab8Q~x.y_z-${canary("plain").replaceAll("-", "")}`;
// every character an encoding changes
const specialSecret = `CS_s3cr3t+/=&% \u00fc\u20ac:!'()-${canary("special")}`;
// the same, in the printable ASCII (VSCHAR) that RFC 6749 allows and oidc-provider insists on
const asciiSecret = `CS_s3cr3t+/=&% :!'()*~-${canary("ascii")}`;
const fetchToken = createTokenFetcher({ timeoutMs: 3_000, retryBackoff: { baseMs: 20, maxMs: 50 } });

describe("basicCredentialEncoding", () => {
  it("leaves letters, digits and *-._~ as they are, and form-encodes the rest", () => {
    expect(basicCredentialEncoding(guid)).toBe(guid);
    expect(basicCredentialEncoding("a*b-c.d_e~f")).toBe("a*b-c.d_e~f");
    expect(basicCredentialEncoding("a b+c%d:e/f=g&h!i'j(k)l\u00fc")).toBe("a+b%2Bc%25d%3Ae%2Ff%3Dg%26h%21i%27j%28k%29l%C3%BC");
  });

  it("reads back as the original to an endpoint that form-decodes", () => {
    expect(new URLSearchParams(`s=${basicCredentialEncoding(specialSecret)}`).get("s")).toBe(specialSecret);
  });
});

describe("client_secret_basic against an endpoint that compares the Basic credentials without decoding them", () => {
  let endpoint: FakeEndpoint;
  const issued = canary("issued");
  beforeAll(async () => {
    const expected = `${guid}:${plainSecret}`;
    endpoint = await startFakeEndpoint((_n, req, res) => {
      const header = req.headers.authorization ?? "";
      const raw = header.startsWith("Basic ") ? Buffer.from(header.slice(6), "base64").toString("utf8") : "";
      if (raw === expected) {
        json(res, 200, { access_token: issued, token_type: "Bearer", expires_in: 60 });
      } else {
        json(res, 401, { error: "invalid_client" });
      }
    });
  });
  afterAll(() => endpoint.stop());

  it("is accepted for a GUID client id and a secret of unreserved characters, as curl -u is", async () => {
    const token = await fetchToken(credentials(endpoint.url, guid, plainSecret));
    expect(token.accessToken).toBe(issued);
  });
});

describe("client_secret_basic against oidc-provider, which form-decodes the Basic credentials", () => {
  let server: TokenServer;
  const id = "client:with space+plus";
  beforeAll(async () => {
    server = await startTokenServer({
      clients: [{ client_id: id, client_secret: asciiSecret, grant_types: ["client_credentials"], redirect_uris: [], response_types: [] }],
    });
  });
  afterAll(() => server.stop());

  it("is accepted for an id and a secret full of characters that must be encoded", async () => {
    const token = await fetchToken(credentials(server.tokenUrl, id, asciiSecret));
    expect(token.tokenType).toBe("bearer");
    expect(server.requests.at(-1)).toMatchObject({ clientAuth: "basic", clientId: id, status: 200 });
  });
});

const authlib = pythonModule("authlib", "python3-authlib");

describe.skipIf(!authlib.available)(
  `against Authlib 1.2's token endpoint${authlib.available ? "" : ` (skipped: ${authlib.reason})`}`,
  () => {
    let child: ChildProcess;
    let tokenUrl: string;
    beforeAll(async () => {
      child = spawn(debianPython, [fileURLToPath(new URL("../support/authlib-token-endpoint.py", import.meta.url))], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      child.stdin!.end(JSON.stringify({
        clients: [
          { client_id: guid, client_secret: plainSecret },
          { client_id: "special-client", client_secret: specialSecret },
        ],
      }));
      const [line] = (await once(child.stdout!, "data")) as [Buffer];
      tokenUrl = `http://127.0.0.1:${line.toString("utf8").trim()}/token`;
    });
    afterAll(() => {
      child.kill();
    });

    it("issues a token over client_secret_basic for a GUID client id", async () => {
      const token = await fetchToken(credentials(tokenUrl, guid, plainSecret));
      expect(token).toMatchObject({ tokenType: "bearer", expiresIn: 300 });
    });

    it("issues a token over client_secret_post for a secret with + / = & % space and non-ASCII", async () => {
      const token = await fetchToken(credentials(tokenUrl, "special-client", specialSecret, { post: true }));
      expect(token.tokenType).toBe("bearer");
    });

    it("refuses that secret over client_secret_basic (it does not form-decode): the README's reason for client_secret_post", async () => {
      const error = await expectCode(fetchToken(credentials(tokenUrl, "special-client", specialSecret)), "ERR_OAUTH_REJECTED");
      expect(error.message).toContain("invalid_client");
      expectNoCanary(error, [specialSecret, encodeURIComponent(specialSecret), basicCredentialEncoding(specialSecret)]);
    });
  },
);
