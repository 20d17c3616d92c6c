import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { InjectResponseSchema } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, SecretSchema, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { createMaterialCache } from "../../src/material/material-cache.ts";
import { reasonOf } from "../support/error-code.ts";
import { createTestServices } from "../support/services.ts";

const entry = (name: string, version: bigint, value = "v") => ({
  version,
  response: create(InjectResponseSchema, {
    secret: create(SecretSchema, { name, mode: Mode.TEST, version }),
    material: { case: "code", value: { fields: { token: value } } },
  }),
});

describe("material cache", () => {
  it("answers per mode, name and requested step, and drops every step of a secret", () => {
    const cache = createMaterialCache(10);
    cache.set(Mode.TEST, "a", StepKind.CODE, entry("a", 2n));
    cache.set(Mode.TEST, "a", StepKind.UNSPECIFIED, entry("a", 2n));
    cache.set(Mode.TEST, "b", StepKind.CODE, entry("b", 1n));
    expect(cache.get(Mode.TEST, "a", StepKind.CODE)?.version).toBe(2n);
    expect(cache.get(Mode.LIVE, "a", StepKind.CODE)).toBeUndefined();
    expect(cache.get(Mode.TEST, "a", StepKind.SFTP)).toBeUndefined();
    cache.drop(Mode.TEST, "a");
    expect(cache.get(Mode.TEST, "a", StepKind.UNSPECIFIED)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it("is bounded, evicting the least recently used", () => {
    const cache = createMaterialCache(2);
    cache.set(Mode.TEST, "a", StepKind.CODE, entry("a", 1n));
    cache.set(Mode.TEST, "b", StepKind.CODE, entry("b", 1n));
    cache.get(Mode.TEST, "a", StepKind.CODE);
    cache.set(Mode.TEST, "c", StepKind.CODE, entry("c", 1n));
    expect(cache.size).toBe(2);
    expect(cache.get(Mode.TEST, "b", StepKind.CODE)).toBeUndefined();
    expect(cache.get(Mode.TEST, "a", StepKind.CODE)).toBeDefined();
  });

  it("holds nothing when its size is 0", () => {
    const cache = createMaterialCache(0);
    cache.set(Mode.TEST, "a", StepKind.CODE, entry("a", 1n));
    expect(cache.size).toBe(0);
  });

  it.each([0, 100])("serves the current value through update, deploy and delete (cache size %i)", async (materialCacheSize) => {
    const svc = await createTestServices({ materialCacheSize });
    try {
      const token = async (mode: Mode) => {
        const res = await svc.injectClient.inject({ mode, name: "s", step: StepKind.CODE });
        return res.material.case === "code" ? res.material.value.fields["token"] : undefined;
      };
      await svc.secretsClient.createSecret({ mode: Mode.TEST, name: "s", credentials: { kind: { case: "bearerToken", value: { token: "one" } } } });
      expect(await token(Mode.TEST)).toBe("one");
      await svc.secretsClient.updateSecret({ mode: Mode.TEST, name: "s", credentials: { kind: { case: "bearerToken", value: { token: "two" } } } });
      expect(await token(Mode.TEST)).toBe("two");
      await svc.secretsClient.createSecret({ mode: Mode.LIVE, name: "s", credentials: { kind: { case: "bearerToken", value: { token: "live" } } } });
      expect(await token(Mode.LIVE)).toBe("live");
      await svc.secretsClient.deploySecrets({ names: ["s"] });
      expect(await token(Mode.LIVE)).toBe("two");
      await svc.secretsClient.deleteSecret({ mode: Mode.TEST, name: "s" });
      expect(await reasonOf(token(Mode.TEST))).toBe("ERR_SECRET_NOT_FOUND");
    } finally {
      await svc.close();
    }
  });
});
