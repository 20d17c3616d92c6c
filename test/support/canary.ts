import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import { create } from "@bufbuild/protobuf";
import { expect } from "vitest";
import { CredbrokerError } from "../../src/errors.ts";
import type { CredbrokerErrorCode } from "../../src/errors.ts";
import { OAuth2AuthMethod, OAuth2ClientCredentialsSchema } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { OAuth2ClientCredentials } from "../../src/gen/credbroker/v1/secret_pb.ts";

/** A unique string that must never show up where it does not belong. */
export const canary = (label: string): string => `canary-${label}-${randomUUID()}`;

/** Client credentials with client_secret_basic unless `post`. */
export function credentials(
  tokenUrl: string,
  clientId: string,
  clientSecret: string,
  more: { scopes?: string[]; audience?: string; resource?: string; post?: boolean } = {},
): OAuth2ClientCredentials {
  return create(OAuth2ClientCredentialsSchema, {
    tokenUrl,
    clientId,
    clientSecret,
    scopes: more.scopes ?? [],
    audience: more.audience ?? "",
    resource: more.resource ?? "",
    authMethod: more.post === true
      ? OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_POST
      : OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_BASIC,
  });
}

/** Everything of an error that could be logged: message, stack, own and hidden properties, the cause chain. */
export function everything(value: unknown): string {
  const parts = [inspect(value, { depth: 20, showHidden: true, getters: true })];
  for (let e: unknown = value, depth = 0; e instanceof Error && depth < 10; depth++) {
    parts.push(e.message, e.stack ?? "");
    e = e.cause;
  }
  return parts.join("\n");
}

/** Asserts that none of `canaries` appears anywhere in `value`. */
export function expectNoCanary(value: unknown, canaries: string[]): void {
  const text = everything(value);
  for (const c of canaries) {
    expect(text).not.toContain(c);
  }
}

/** Awaits a rejection and asserts it is a CredbrokerError with `code`. */
export async function expectCode(promise: Promise<unknown>, code: CredbrokerErrorCode): Promise<CredbrokerError> {
  const error: unknown = await promise.then(
    () => new Error("expected a rejection"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CredbrokerError);
  expect((error as CredbrokerError).code).toBe(code);
  return error as CredbrokerError;
}
