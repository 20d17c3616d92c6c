import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { StepKind, type Credentials, type Secret, type SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import {
  HttpTestResultSchema,
  JsonTestResultSchema,
  type JsonTestResult,
  TestSecretResponseSchema,
  type TestSecretRequest,
  type TestSecretResponse,
} from "../gen/credbroker/v1/secret_service_pb.ts";
import { invalidField } from "../errors.ts";
import { probeHttp } from "../material/http-probe.ts";
import type { ProbeOutcome } from "../material/probe-outcome.ts";
import { probeSftp } from "../material/sftp-probe.ts";
import { buildStaticMaterial } from "../material/static-material.ts";
import { settleDpopKey } from "../oauth/dpop-key.ts";
import { createTokenFetcher } from "../oauth/token-fetch.ts";
import { probeToken } from "../oauth/token-probe.ts";
import { bindingOf } from "../seal/record-binding.ts";
import type { Sealer } from "../seal/sealer.ts";
import type { SecretStore } from "../store/secret-store.ts";
import { openCredentials, requireRecord } from "./records.ts";
import { checkTestTarget, type TestTarget } from "./test-targets.ts";
import { checkCredentials } from "./validate-credentials.ts";
import { checkMode, checkName } from "./validate-request.ts";

/** What TestSecret needs. */
export interface TestSecretDeps {
  /** Where stored secrets are read. */
  store: SecretStore;
  /** Opens a stored secret's credentials. */
  sealer: Sealer;
  /** The most a test's token request may take, in ms: the broker's OAuth2 timeout. */
  oauthTimeoutMs: number;
}

/** The most an SFTP login or an HTTP request of a test may take: an operator is waiting. */
export const probeTimeoutMs = 10_000;

/**
 * TestSecret: tries a stored secret, or credentials before they are saved,
 * once, now, and says what came of it. Bad input (the request's shape, the
 * credentials' rules, the target's) is an error naming the field; whatever
 * the far side does, refusals and silence included, is the answer. The
 * token request goes around the token cache: nothing is cached, and a
 * cached token of the secret stays as it is.
 */
export function createTestSecret({ store, sealer, oauthTimeoutMs }: TestSecretDeps): (req: TestSecretRequest, context: HandlerContext) => Promise<TestSecretResponse> {
  // one attempt: a test reports what the endpoint said, not what a retry got
  const fetchToken = createTokenFetcher({ timeoutMs: oauthTimeoutMs, maxAttempts: 1 });

  function subjectOf(req: TestSecretRequest): { credentials: () => Credentials; type: SecretType; secret?: Secret } {
    const mode = checkMode(req.mode);
    if (req.name !== "" && req.credentials !== undefined) {
      throw invalidField("credentials", "set name (a stored secret) or credentials (unsaved values), not both");
    }
    if (req.credentials !== undefined) {
      const type = checkCredentials(req.credentials);
      const credentials = req.credentials;
      // a DPoP secret not yet saved has no key: one made for this test, and dropped with it
      return { credentials: () => settleDpopKey(credentials, () => undefined), type };
    }
    if (req.name === "") {
      throw invalidField("name", "is required: set name (a stored secret) or credentials (unsaved values)");
    }
    const { record, secret } = requireRecord(store, mode, checkName(req.name));
    return { credentials: () => openCredentials(sealer, bindingOf(secret), record.payload!), type: secret.type, secret };
  }



  async function probe(credentials: Credentials, target: TestTarget): Promise<{ outcome: ProbeOutcome<unknown>; result: TestSecretResponse["result"] }> {
    const kind = credentials.kind;
    switch (kind.case) {
      case "oauth2ClientCredentials": {
        const outcome = await probeToken(kind.value, fetchToken);
        return { outcome, result: { case: "oauth2", value: outcome.result } };
      }
      case "sftpPassword":
      case "sftpPrivateKey": {
        const material = buildStaticMaterial(credentials, StepKind.SFTP);
        if (material.case !== "sftp" || target.case !== "sftp") {
          throw new Error("an SFTP secret without SFTP material or target");
        }
        const outcome = await probeSftp(material.value, target.value, probeTimeoutMs);
        return { outcome, result: { case: "sftp", value: outcome.result } };
      }
      case "basicAuth":
      case "bearerToken":
      case "apiKey": {
        const material = buildStaticMaterial(credentials, StepKind.HTTP);
        if (material.case !== "http" || target.case !== "http") {
          const outcome = { ok: true, summary: "the values pass every check; give http.url to send a request with them", result: create(HttpTestResultSchema) };
          return { outcome, result: { case: "http", value: outcome.result } };
        }
        const outcome = await probeHttp(material.value.headers, target.url, probeTimeoutMs);
        return { outcome, result: { case: "http", value: outcome.result } };
      }
      case "jsonCredentials": {
        const outcome = probeJson(kind.value.json);
        return { outcome, result: { case: "json", value: outcome.result } };
      }
      default:
        throw invalidField("credentials", "is required: set exactly one credential type");
    }
  }

  return async (req) => {
    const subject = subjectOf(req);
    // the target is checked before any value is opened or anything is sent
    const target = checkTestTarget(subject.type, req.target);
    const { outcome, result } = await probe(subject.credentials(), target);
    return create(TestSecretResponseSchema, {
      ...(subject.secret === undefined ? {} : { secret: subject.secret }),
      type: subject.type,
      ok: outcome.ok,
      summary: outcome.summary,
      result,
    });
  };
}

/** Whether a JSON secret parses to an object; the parser's message is not repeated, since it quotes the text. */
function probeJson(text: string): ProbeOutcome<JsonTestResult> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, summary: "the JSON does not parse", result: create(JsonTestResultSchema) };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, summary: "the JSON parses, but not to an object", result: create(JsonTestResultSchema) };
  }
  const memberCount = Object.keys(value).length;
  return { ok: true, summary: `parses to an object of ${memberCount} member${memberCount === 1 ? "" : "s"}`, result: create(JsonTestResultSchema, { memberCount }) };
}
