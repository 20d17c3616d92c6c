import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkImports, importSpecifiers } from "./import-rules.ts";

describe("the import-rules check", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function tree(files: Record<string, string>): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), "credbroker-imports-"));
    dirs.push(root);
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), text);
    }
    return root;
  }

  it("finds static, type-only, re-export, side-effect and dynamic imports, not commented ones", () => {
    const source = [
      'import { a } from "./a.ts";',
      'import type {\n  B,\n} from "../b.ts";',
      'export { c } from "./c.ts";',
      'import "./d.ts";',
      'const e = await import("./e.ts");',
      '// import { f } from "./f.ts";',
      '/* import { g } from "./g.ts"; */',
    ].join("\n");
    expect(importSpecifiers(source).sort()).toEqual(["../b.ts", "./a.ts", "./c.ts", "./d.ts", "./e.ts"]);
  });

  it("passes a tree that keeps the arrows", async () => {
    const root = await tree({
      "src/errors.ts": "export const x = 1;\n",
      "src/gen/x_pb.ts": "export const y = 1;\n",
      "src/store/lmdb-store.ts": 'import { open } from "lmdb";\nimport { x } from "../errors.ts";\nimport { y } from "../gen/x_pb.ts";\nimport { z } from "./record.ts";\n',
      "src/seal/sealer.ts": 'import { x } from "../errors.ts";\n',
      "src/server/listener.ts": 'import { s } from "../store/lmdb-store.ts";\n',
      "src/broker/start-broker.ts": 'import { l } from "../server/listener.ts";\n',
      "src/cli/serve.ts": 'const { startBroker } = await import("../broker/start-broker.ts");\n',
      "src/credentials/registry.ts": 'import { create } from "@bufbuild/protobuf";\n',
    });
    expect(checkImports(root)).toEqual([]);
  });

  it("fails on each rule broken", async () => {
    const root = await tree({
      "src/store/lmdb-store.ts": 'import { seal } from "../seal/sealer.ts";\n',
      "src/seal/sealer.ts": 'import type { SecretStore } from "../store/secret-store.ts";\n',
      "src/audit/interceptor.ts": 'import { key } from "../server/call-context.ts";\n',
      "src/credentials/registry.ts": 'import { readFileSync } from "node:fs";\nimport { join } from "path";\n',
      "src/server/listener.ts": 'import { startBroker } from "../broker/start-broker.ts";\n',
    });
    expect(checkImports(root).map(({ file, specifier }) => `${file} ${specifier}`).sort()).toEqual([
      "src/audit/interceptor.ts ../server/call-context.ts",
      "src/credentials/registry.ts node:fs",
      "src/credentials/registry.ts path",
      "src/seal/sealer.ts ../store/secret-store.ts",
      "src/server/listener.ts ../broker/start-broker.ts",
      "src/store/lmdb-store.ts ../seal/sealer.ts",
    ]);
  });
});
