import { describe, expect, it } from "vitest";
import { authorizationHeaderProblem, authorizationHeaderValue } from "../../src/oauth/authorization-header.ts";

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

describe("authorizationHeaderProblem", () => {
  it.each([
    ["bearer", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_~+/"],
    ["bearer", "opaque=="],
    ["N_A", "any!visible\"ascii"],
  ])("accepts a %s token %s", (tokenType, accessToken) => {
    expect(authorizationHeaderProblem({ tokenType, accessToken })).toBeUndefined();
  });

  it.each([
    ["bearer", "AT\r\nX-Injected: yes"],
    ["bearer", "a b"],
    ["bearer", "a=b"],
    ["bearer", "a\"b"],
    ["bearer", ""],
    ["N_A", "a b"],
    ["N_A", "a\u0000b"],
    ["N_A", "a\u00e9b"],
    ["N_A", ""],
    ["bearer\r\nX-Injected: yes", "abc"],
    ["Bearer x", "abc"],
    ["", "abc"],
  ])("refuses a %j token %j, without quoting it", (tokenType, accessToken) => {
    const problem = authorizationHeaderProblem({ tokenType, accessToken });
    expect(problem).toBeDefined();
    expect(problem).not.toContain("X-Injected");
  });
});
