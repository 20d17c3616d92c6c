import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Mode, SecretType, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { CreateSecretRequestSchema } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { reasonOf } from "../support/error-code.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

type CredentialsInit = NonNullable<MessageInitShape<typeof CreateSecretRequestSchema>["credentials"]>;

const bearer = (token: string): CredentialsInit => ({ kind: { case: "bearerToken", value: { token } } });

describe("SecretService through createRouterTransport, real LMDB", () => {
  let svc: TestServices;

  const createSecret = (mode: Mode, name: string, credentials: CredentialsInit, description = "") =>
    svc.secretsClient.createSecret({ mode, name, description, credentials });
  const injectedToken = async (mode: Mode, name: string) => {
    const res = await svc.injectClient.inject({ mode, name, step: StepKind.CODE });
    return res.material?.case === "code" ? res.material.value.fields?.["token"] : undefined;
  };

  beforeEach(async () => {
    svc = await createTestServices();
  });
  afterEach(async () => {
    await svc.close();
  });

  it("creates a secret at version 1 and returns metadata only", async () => {
    const res = await createSecret(Mode.TEST, "github-token", bearer("canary-gh-token-71c2"), "GitHub");
    expect(res.secret).toMatchObject({ name: "github-token", mode: Mode.TEST, type: SecretType.BEARER_TOKEN, description: "GitHub", version: 1n });
    expect(res.secret?.createTime).toEqual(res.secret?.updateTime);
    expect(JSON.stringify(res, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain("canary");
  });

  it("answers ALREADY_EXISTS for a name taken in that mode, while the other mode is free", async () => {
    await createSecret(Mode.TEST, "dup", bearer("a"));
    expect(await reasonOf(createSecret(Mode.TEST, "dup", bearer("b")))).toBe("ERR_SECRET_EXISTS");
    await createSecret(Mode.LIVE, "dup", bearer("live-value"));
    expect(await injectedToken(Mode.TEST, "dup")).toBe("a");
    expect(await injectedToken(Mode.LIVE, "dup")).toBe("live-value");
  });

  it("gets a secret, or NOT_FOUND", async () => {
    await createSecret(Mode.TEST, "x", bearer("t"));
    const got = await svc.secretsClient.getSecret({ mode: Mode.TEST, name: "x" });
    expect(got.secret?.version).toBe(1n);
    expect(await reasonOf(svc.secretsClient.getSecret({ mode: Mode.LIVE, name: "x" }))).toBe(
      "ERR_SECRET_NOT_FOUND",
    );
  });

  it("lists by name in pages with opaque tokens, empty token on the last page", async () => {
    const names = Array.from({ length: 7 }, (_, i) => `s${String(6 - i).padStart(2, "0")}`);
    for (const name of names) {
      await createSecret(Mode.TEST, name, bearer("t"));
    }
    await createSecret(Mode.LIVE, "zz-live-only", bearer("t"));
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await svc.secretsClient.listSecrets({ mode: Mode.TEST, pageSize: 3, pageToken });
      seen.push(...page.secrets.map((s) => s.name));
      pageToken = page.nextPageToken;
      pages++;
      expect(pageToken).not.toContain("s0");
    } while (pageToken !== "");
    expect(pages).toBe(3);
    expect(seen).toEqual([...names].sort());
    const all = await svc.secretsClient.listSecrets({ mode: Mode.TEST });
    expect(all.secrets).toHaveLength(7);
    expect(all.nextPageToken).toBe("");
  });

  it("caps the page size at 1000 and defaults it to 50", async () => {
    for (let i = 0; i < 55; i++) {
      await createSecret(Mode.TEST, `n${String(i).padStart(3, "0")}`, bearer("t"));
    }
    const first = await svc.secretsClient.listSecrets({ mode: Mode.TEST });
    expect(first.secrets).toHaveLength(50);
    expect(first.nextPageToken).not.toBe("");
    const big = await svc.secretsClient.listSecrets({ mode: Mode.TEST, pageSize: 5000 });
    expect(big.secrets).toHaveLength(55);
  });

  it("updates description and credentials, bumping the version each time", async () => {
    await createSecret(Mode.TEST, "u", bearer("one"), "first");
    const described = await svc.secretsClient.updateSecret({ mode: Mode.TEST, name: "u", description: "second" });
    expect(described.secret).toMatchObject({ version: 2n, description: "second" });
    expect(await injectedToken(Mode.TEST, "u")).toBe("one");
    const rotated = await svc.secretsClient.updateSecret({ mode: Mode.TEST, name: "u", credentials: bearer("two"), expectedVersion: 2n });
    expect(rotated.secret).toMatchObject({ version: 3n, description: "second" });
    expect(rotated.secret?.createTime).toEqual(described.secret?.createTime);
    expect(await injectedToken(Mode.TEST, "u")).toBe("two");
  });

  it("refuses a stale expectedVersion (ABORTED) and a type change (FAILED_PRECONDITION), leaving the secret as it was", async () => {
    await createSecret(Mode.TEST, "u", bearer("one"));
    expect(
      await reasonOf(svc.secretsClient.updateSecret({ mode: Mode.TEST, name: "u", credentials: bearer("x"), expectedVersion: 7n })),
    ).toBe("ERR_VERSION_MISMATCH");
    expect(
      await reasonOf(
        svc.secretsClient.updateSecret({ mode: Mode.TEST, name: "u", credentials: { kind: { case: "basicAuth", value: { username: "a", password: "b" } } } }),
      ),
    ).toBe("ERR_TYPE_CHANGE");
    expect(await reasonOf(svc.secretsClient.updateSecret({ mode: Mode.TEST, name: "absent", description: "d" }))).toBe(
      "ERR_SECRET_NOT_FOUND",
    );
    expect(svc.store.get(Mode.TEST, "u")?.secret?.version).toBe(1n);
    expect(await injectedToken(Mode.TEST, "u")).toBe("one");
  });

  it("lets only one of two racing updates with the same expectedVersion win", async () => {
    await createSecret(Mode.TEST, "race", bearer("zero"));
    const update = (token: string) =>
      svc.secretsClient.updateSecret({ mode: Mode.TEST, name: "race", credentials: bearer(token), expectedVersion: 1n });
    const results = await Promise.all([reasonOf(update("left")), reasonOf(update("right"))]);
    expect(results.sort()).toEqual(["ERR_VERSION_MISMATCH", "ok"]);
    expect(svc.store.get(Mode.TEST, "race")?.secret?.version).toBe(2n);
  });

  it("deletes in test only, for good; a deleted secret is NOT_FOUND at Inject", async () => {
    await createSecret(Mode.TEST, "d", bearer("t"));
    await createSecret(Mode.LIVE, "d", bearer("t"));
    expect(await reasonOf(svc.secretsClient.deleteSecret({ mode: Mode.LIVE, name: "d" }))).toBe("ERR_LIVE_DELETE");
    await svc.secretsClient.deleteSecret({ mode: Mode.TEST, name: "d" });
    expect(svc.store.get(Mode.TEST, "d")).toBeUndefined();
    expect(svc.store.get(Mode.LIVE, "d")?.secret?.version).toBe(1n);
    expect(await reasonOf(injectedToken(Mode.TEST, "d"))).toBe("ERR_SECRET_NOT_FOUND");
    expect(await reasonOf(svc.secretsClient.deleteSecret({ mode: Mode.TEST, name: "d" }))).toBe(
      "ERR_SECRET_NOT_FOUND",
    );
  });

  it("deploys chosen test secrets to live, creating or replacing, each live copy with its own versions", async () => {
    await createSecret(Mode.TEST, "a", bearer("test-a"), "A");
    await createSecret(Mode.TEST, "b", bearer("test-b"));
    await createSecret(Mode.TEST, "not-chosen", bearer("x"));
    await createSecret(Mode.LIVE, "b", bearer("old-live-b"));
    await svc.secretsClient.updateSecret({ mode: Mode.LIVE, name: "b", description: "live edit" });
    const res = await svc.secretsClient.deploySecrets({ names: ["b", "a"] });
    expect(res.secrets.map((s) => [s.name, s.mode, s.version, s.description])).toEqual([
      ["b", Mode.LIVE, 3n, ""],
      ["a", Mode.LIVE, 1n, "A"],
    ]);
    expect(await injectedToken(Mode.LIVE, "a")).toBe("test-a");
    expect(await injectedToken(Mode.LIVE, "b")).toBe("test-b");
    expect(svc.store.get(Mode.LIVE, "not-chosen")).toBeUndefined();
    expect(svc.store.get(Mode.TEST, "b")?.secret?.version).toBe(1n);
  });

  it("deploys nothing when any name is missing in test (NOT_FOUND)", async () => {
    await createSecret(Mode.TEST, "a", bearer("test-a"));
    await createSecret(Mode.LIVE, "a", bearer("live-a"));
    expect(await reasonOf(svc.secretsClient.deploySecrets({ names: ["a", "missing"] }))).toBe(
      "ERR_SECRET_NOT_FOUND",
    );
    expect(svc.store.get(Mode.LIVE, "a")?.secret?.version).toBe(1n);
    expect(await injectedToken(Mode.LIVE, "a")).toBe("live-a");
  });

  it("keeps credentials sealed in the store: the LMDB bytes hold no plaintext", async () => {
    await createSecret(Mode.TEST, "sealed", bearer("canary-lmdb-bytes-4f0a"));
    await svc.secretsClient.deploySecrets({ names: ["sealed"] });
    const record = svc.store.get(Mode.LIVE, "sealed");
    expect(Buffer.from(record?.payload?.ciphertext ?? []).toString("latin1")).not.toContain("canary");
  });
});
