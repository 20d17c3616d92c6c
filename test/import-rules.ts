import { builtinModules } from "node:module";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** One import that breaks a rule of DESIGN.md's arrows. */
export interface ImportViolation {
  /** The importing file, relative to the root. */
  readonly file: string;
  /** The specifier as written. */
  readonly specifier: string;
  /** The rule it breaks. */
  readonly rule: string;
}

/** Rooms below the listeners: none of them imports src/server. */
const belowServer = ["api", "audit", "store", "seal", "keys", "material", "oauth", "credentials", "config"];
/** Leaves: they import nothing of ours but errors and generated types. */
const leaves = ["store", "seal"];
const nodeBuiltins = new Set(builtinModules);

/** Every static, re-export and dynamic import specifier of a TypeScript source. */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: string[] = [];
  for (const pattern of [/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm, /^\s*import\s*["']([^"']+)["']/gm, /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g]) {
    for (const match of code.matchAll(pattern)) {
      found.push(match[1]!);
    }
  }
  return found;
}

/** The import rules over `root`'s src/: store and seal are leaves, nothing below src/server imports it, src/credentials is Node-free, only src/cli imports src/broker. */
export function checkImports(root: string): ImportViolation[] {
  const src = join(root, "src");
  const violations: ImportViolation[] = [];
  for (const path of sourceFiles(src)) {
    const file = relative(root, path);
    const room = relative(src, path).split("/")[0]!;
    if (room === "gen") {
      continue;
    }
    for (const specifier of importSpecifiers(readFileSync(path, "utf8"))) {
      const target = specifier.startsWith(".") ? relative(src, resolve(dirname(path), specifier)) : undefined;
      const targetRoom = target?.includes("/") === true ? target.split("/")[0] : target;
      const broken = (rule: string) => violations.push({ file, specifier, rule });
      if (leaves.includes(room) && target !== undefined && targetRoom !== room && target !== "errors.ts" && targetRoom !== "gen") {
        broken(`src/${room} is a leaf: it imports nothing of ours but errors and generated types`);
      }
      if (belowServer.includes(room) && targetRoom === "server") {
        broken(`src/${room} is below src/server and does not import it`);
      }
      if (room === "credentials" && (specifier.startsWith("node:") || nodeBuiltins.has(specifier.split("/")[0]!))) {
        broken("src/credentials imports no Node module (the admin page uses it)");
      }
      if (targetRoom === "broker" && room !== "broker" && room !== "cli") {
        broken("src/broker is the composition root: only src/cli imports it");
      }
    }
  }
  return violations;
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

if (import.meta.main) {
  const violations = checkImports(join(import.meta.dirname, ".."));
  for (const { file, specifier, rule } of violations) {
    process.stderr.write(`${file}: import "${specifier}": ${rule}\n`);
  }
  process.stdout.write(violations.length === 0 ? "import rules hold\n" : `${violations.length} import(s) break the rules\n`);
  process.exitCode = violations.length === 0 ? 0 : 1;
}
