import { describe, expect, it } from "vitest";
import { credentialEchoCheck } from "../../src/oauth/credential-echo.ts";

const id = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
const secret = "CS_s3cr3t+/=&% \u00fc\u20ac~!*'()-tail";
const echoes = credentialEchoCheck(id, secret);

describe("credentialEchoCheck", () => {
  it.each([
    ["raw", secret],
    ["percent-encoded", encodeURIComponent(secret)],
    ["percent-encoded, lowercase hex", encodeURIComponent(secret).toLowerCase()],
    ["form-encoded", new URLSearchParams({ s: secret }).toString().slice(2)],
    ["Basic, raw", Buffer.from(`${id}:${secret}`).toString("base64")],
    ["Basic, base64url", Buffer.from(`${id}:${secret}`).toString("base64url")],
    ["Basic, form-encoded", Buffer.from(`${id}:${new URLSearchParams({ s: secret }).toString().slice(2)}`).toString("base64")],
    ["a piece of it", secret.slice(3, 12)],
  ])("finds the secret %s inside other text", (_form, text) => {
    expect(echoes(`error near ${text} here`)).toBe(true);
  });

  it("passes text that carries no credential, the client id alone included", () => {
    expect(echoes(`client ${id} is disabled`)).toBe(false);
    expect(echoes("invalid_client")).toBe(false);
  });
});
