import { readFile } from "node:fs/promises";
import { join } from "node:path";

const readmePath = join(import.meta.dirname, "../../README.md");

/** The fenced blocks of a language in a README section (from its `## ` heading to the next). */
export async function readmeBlocks(heading: string, language: string): Promise<string[]> {
  const readme = await readFile(readmePath, "utf8");
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start === -1) {
    throw new Error(`README.md has no "## ${heading}" section`);
  }
  const end = readme.indexOf("\n## ", start + 4);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}
