/**
 * ListSecrets filters (name search, types, step), orders, total_size and
 * page tokens bound to their listing, through a real broker with Connect
 * and classic grpc-js clients.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { Mode, SecretType, StepKind, type Secret } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import {
  ListSecretsRequestSchema,
  ListSecretsResponseSchema,
  SecretOrder,
  SecretService,
  type ListSecretsRequest,
} from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { canarySecrets } from "../support/canary-credentials.ts";
import { detailsOfConnectError, detailsOfGrpcTrailer } from "../support/error-details.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";

type ListInit = MessageInitShape<typeof ListSecretsRequestSchema>;

let tb: TestBroker;
let admin: Client<typeof SecretService>;
let grpcJs: ReturnType<typeof createGrpcJsClient>;

/** Every page of a listing, walked with both clients alternately: names in order, and each page's total_size. */
async function walk(req: ListInit, pageSize: number): Promise<{ names: string[]; totals: number[] }> {
  const names: string[] = [];
  const totals: number[] = [];
  let pageToken = "";
  let turn = 0;
  do {
    const request = { ...req, pageSize, pageToken };
    let page: { secrets: Secret[]; nextPageToken: string; totalSize: number };
    if (turn++ % 2 === 0) {
      page = await admin.listSecrets(request);
    } else {
      const result = await grpcJs.call("ListSecrets", ListSecretsRequestSchema, ListSecretsResponseSchema, request);
      if (!result.ok) throw new Error(`grpc-js ListSecrets: ${result.details}`);
      page = result.message;
    }
    names.push(...page.secrets.map((secret) => secret.name));
    totals.push(page.totalSize);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return { names, totals };
}

const plain = ["stripe-api-key", "stripe-webhook", "sftp-production", "github-token", "analytics.json"];

beforeAll(async () => {
  tb = await startTestBroker();
  admin = tb.connect(SecretService, tb.adminToken);
  grpcJs = createGrpcJsClient(SecretService, tb.broker.grpcAddress, tb.adminToken);
  for (const secret of canarySecrets) {
    await admin.createSecret({ mode: Mode.TEST, name: secret.name, credentials: secret.credentials });
  }
  const byName: Record<string, (typeof canarySecrets)[number]["credentials"]> = {
    "stripe-api-key": { kind: { case: "apiKey", value: { keyName: "Authorization", keyValue: "k" } } },
    "stripe-webhook": { kind: { case: "bearerToken", value: { token: "t" } } },
    "sftp-production": { kind: { case: "sftpPassword", value: { username: "u", password: "p" } } },
    "github-token": { kind: { case: "bearerToken", value: { token: "t" } } },
    "analytics.json": { kind: { case: "jsonCredentials", value: { json: "{}" } } },
  };
  for (const name of plain) {
    await admin.createSecret({ mode: Mode.TEST, name, credentials: byName[name]! });
  }
});
afterAll(async () => {
  grpcJs?.close();
  await tb?.close();
});

const allNames = () => [...canarySecrets.map((secret) => secret.name), ...plain].sort();

describe("filters", () => {
  it("no filter: every secret by name, total_size the mode's count on every page", async () => {
    const { names, totals } = await walk({ mode: Mode.TEST }, 4);
    expect(names).toEqual(allNames());
    expect(new Set(totals)).toEqual(new Set([13]));
    expect((await admin.listSecrets({ mode: Mode.LIVE })).totalSize).toBe(0);
  });

  it("name search: a substring, case-insensitive", async () => {
    expect((await walk({ mode: Mode.TEST, nameContains: "stripe" }, 1)).names).toEqual(["stripe-api-key", "stripe-webhook"]);
    expect((await walk({ mode: Mode.TEST, nameContains: "STRIPE" }, 1)).totals).toEqual([2, 2]);
    expect((await walk({ mode: Mode.TEST, nameContains: "oauth2" }, 10)).names).toEqual(["c-oauth2-dpop", "c-oauth2-jwt"]);
    expect((await walk({ mode: Mode.TEST, nameContains: ".json" }, 10)).names).toEqual(["analytics.json"]);
    const none = await admin.listSecrets({ mode: Mode.TEST, nameContains: "nothing-like-it" });
    expect([none.secrets.length, none.totalSize, none.nextPageToken]).toEqual([0, 0, ""]);
  });

  it("type filter: one or several types", async () => {
    expect((await walk({ mode: Mode.TEST, types: [SecretType.BEARER_TOKEN] }, 2)).names).toEqual(["c-bearer", "github-token", "stripe-webhook"]);
    const several = await walk({ mode: Mode.TEST, types: [SecretType.API_KEY, SecretType.JSON_CREDENTIALS] }, 3);
    expect(several.names).toEqual(["analytics.json", "c-api-key", "c-json", "stripe-api-key"]);
    expect(new Set(several.totals)).toEqual(new Set([4]));
  });

  it("combinations: name and type and step", async () => {
    expect((await walk({ mode: Mode.TEST, nameContains: "stripe", types: [SecretType.BEARER_TOKEN] }, 5)).names).toEqual(["stripe-webhook"]);
    expect((await walk({ mode: Mode.TEST, nameContains: "c-", step: StepKind.SFTP }, 1)).names).toEqual(["c-sftp-key", "c-sftp-password"]);
    const combined = await walk(
      { mode: Mode.TEST, nameContains: "o", types: [SecretType.OAUTH2_CLIENT_CREDENTIALS, SecretType.SFTP_PASSWORD], step: StepKind.CODE },
      1,
    );
    // the DPoP secret serves HTTP only; sftp-production and c-sftp-password serve Code
    expect(combined.names).toEqual(["c-oauth2-jwt", "c-sftp-password", "sftp-production"]);
    expect(new Set(combined.totals)).toEqual(new Set([3]));
    const ordered = await walk({ mode: Mode.TEST, step: StepKind.HTTP, orderBy: SecretOrder.UPDATE_TIME_DESC }, 2);
    expect(ordered.names.sort()).toEqual(["c-api-key", "c-basic", "c-bearer", "c-oauth2-dpop", "c-oauth2-jwt", "github-token", "stripe-api-key", "stripe-webhook"]);
  });
});

describe("the step filter's matrix", () => {
  // DESIGN.md: HTTP for Basic, Bearer, API Key, OAuth2; SFTP for the SFTP types; Code for all; a DPoP OAuth2 secret HTTP only
  const serves: Record<string, StepKind[]> = {
    "c-basic": [StepKind.HTTP, StepKind.CODE],
    "c-bearer": [StepKind.HTTP, StepKind.CODE],
    "c-api-key": [StepKind.HTTP, StepKind.CODE],
    "c-sftp-password": [StepKind.SFTP, StepKind.CODE],
    "c-sftp-key": [StepKind.SFTP, StepKind.CODE],
    "c-oauth2-jwt": [StepKind.HTTP, StepKind.CODE],
    "c-oauth2-dpop": [StepKind.HTTP],
    "c-json": [StepKind.CODE],
  };

  it.each([StepKind.HTTP, StepKind.SFTP, StepKind.CODE])("step %s lists exactly the secrets that serve it, and Secret.steps says so", async (step) => {
    const listed = await admin.listSecrets({ mode: Mode.TEST, nameContains: "c-", step, pageSize: 100 });
    const expected = Object.keys(serves).filter((name) => serves[name]!.includes(step)).sort();
    expect(listed.secrets.map((secret) => secret.name)).toEqual(expected);
    expect(listed.totalSize).toBe(expected.length);
    for (const secret of (await admin.listSecrets({ mode: Mode.TEST, nameContains: "c-", pageSize: 100 })).secrets) {
      expect(secret.steps, secret.name).toEqual(serves[secret.name]);
    }
  });

  it("agrees with Inject for every static type: listed for a step exactly when Inject serves it", async () => {
    const inject = tb.connect(InjectService);
    for (const name of ["c-basic", "c-bearer", "c-api-key", "c-sftp-password", "c-sftp-key", "c-json"]) {
      for (const step of [StepKind.HTTP, StepKind.SFTP, StepKind.CODE]) {
        const listed = (await admin.listSecrets({ mode: Mode.TEST, nameContains: name, step })).secrets.some((s) => s.name === name);
        const served = await inject.inject({ mode: Mode.TEST, name, step }).then(
          () => true,
          (error: unknown) => {
            expect(ConnectError.from(error).code).toBe(Code.FailedPrecondition);
            return false;
          },
        );
        expect(listed, `${name} step ${step}`).toBe(served);
      }
    }
  });
});

describe("order by update time", () => {
  it("most recently updated first, through every page, and the name order is unchanged", async () => {
    for (const name of ["github-token", "c-json", "stripe-webhook"]) {
      await admin.updateSecret({ mode: Mode.TEST, name, description: `touched ${name}` });
      // update times are to the millisecond: make each one later than the last
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const { names, totals } = await walk({ mode: Mode.TEST, orderBy: SecretOrder.UPDATE_TIME_DESC }, 2);
    expect(names.slice(0, 3)).toEqual(["stripe-webhook", "c-json", "github-token"]);
    expect([...names].sort()).toEqual(allNames());
    expect(new Set(totals)).toEqual(new Set([13]));
    const full = (await admin.listSecrets({ mode: Mode.TEST, orderBy: SecretOrder.UPDATE_TIME_DESC, pageSize: 100 })).secrets;
    const micros = full.map((s) => Number(s.updateTime!.seconds) * 1e6 + s.updateTime!.nanos / 1000);
    expect(micros).toEqual([...micros].sort((a, b) => b - a));
    expect((await walk({ mode: Mode.TEST, orderBy: SecretOrder.NAME }, 5)).names).toEqual(allNames());
  });
});

describe("page tokens are bound to their listing", () => {
  const first = async (req: ListInit) => (await admin.listSecrets({ ...req, pageSize: 1 })).nextPageToken;
  const cases: Array<[string, ListInit, Partial<ListSecretsRequest>]> = [
    ["another name search", { mode: Mode.TEST, nameContains: "stripe" }, { nameContains: "strip" }],
    ["another type filter", { mode: Mode.TEST, types: [SecretType.BEARER_TOKEN] }, { types: [SecretType.API_KEY] }],
    ["another step", { mode: Mode.TEST, step: StepKind.CODE }, { step: StepKind.HTTP }],
    ["another order", { mode: Mode.TEST }, { orderBy: SecretOrder.UPDATE_TIME_DESC }],
    ["no filter after a filter", { mode: Mode.TEST, nameContains: "c-" }, { nameContains: "" }],
    ["another mode", { mode: Mode.TEST }, { mode: Mode.LIVE }],
  ];

  it.each(cases)("%s: INVALID_ARGUMENT naming pageToken, on Connect and grpc-js", async (_label, issued, changed) => {
    const pageToken = await first(issued);
    expect(pageToken).not.toBe("");
    const request = { ...issued, ...changed, pageToken } as ListInit;
    const refused = await admin.listSecrets(request).then(
      () => undefined,
      (error: unknown) => detailsOfConnectError(error),
    );
    expect(refused?.code).toBe(Code.InvalidArgument);
    expect(refused?.fieldViolations.map((violation) => violation.field)).toEqual(["pageToken"]);
    const viaGrpc = await grpcJs.call("ListSecrets", ListSecretsRequestSchema, ListSecretsResponseSchema, request);
    expect(viaGrpc.ok).toBe(false);
    if (!viaGrpc.ok) {
      expect(detailsOfGrpcTrailer(viaGrpc.metadata)?.fieldViolations.map((violation) => violation.field)).toEqual(["pageToken"]);
    }
    // the same token goes on with its own listing; ORDER_NAME and unspecified are the same listing
    await expect(admin.listSecrets({ ...issued, pageSize: 1, pageToken })).resolves.toBeDefined();
  });

  it("unspecified and SECRET_ORDER_NAME are one listing: a token of one pages the other", async () => {
    const pageToken = await first({ mode: Mode.TEST });
    const next = await admin.listSecrets({ mode: Mode.TEST, orderBy: SecretOrder.NAME, pageSize: 1, pageToken });
    expect(next.secrets[0]?.name).toBe(allNames()[1]);
  });
});

describe("bad filter values: INVALID_ARGUMENT naming the field", () => {
  it.each<[string, ListInit]>([
    ["types[1]", { mode: Mode.TEST, types: [SecretType.BASIC_AUTH, SecretType.UNSPECIFIED] }],
    ["types[0]", { mode: Mode.TEST, types: [42 as SecretType] }],
    ["step", { mode: Mode.TEST, step: 9 as StepKind }],
    ["orderBy", { mode: Mode.TEST, orderBy: 7 as SecretOrder }],
    ["nameContains", { mode: Mode.TEST, nameContains: "x".repeat(64) }],
  ])("%s", async (field, request) => {
    const refused = await admin.listSecrets(request).then(
      () => undefined,
      (error: unknown) => detailsOfConnectError(error),
    );
    expect(refused?.code).toBe(Code.InvalidArgument);
    expect(refused?.fieldViolations.map((violation) => violation.field)).toEqual([field]);
  });
});
