import { describe, expect, it } from "vitest";
import { authorizationHeaderValue } from "../../src/oauth/authorization-header.ts";

describe("authorizationHeaderValue", () => {
  it.each([
    ["bearer", "Bearer abc"],
    ["Bearer", "Bearer abc"],
    ["BEARER", "Bearer abc"],
    ["N_A", "N_A abc"],
  ])("writes token type %s as %s", (tokenType, header) => {
    expect(authorizationHeaderValue({ accessToken: "abc", tokenType })).toBe(header);
  });
});
