import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import { CliError, UsageError, type CliContext } from "./command.ts";
import { credentialsFromFields, credentialsFromText } from "./credentials-input.ts";
import { createPrompter } from "./prompt.ts";
import type { TypeSpec } from "./secret-types.ts";

/** Where credential values come from. Never argv: it shows in `ps` and shell history. */
export type ValueSource = { kind: "stdin" } | { kind: "file"; path: string } | { kind: "prompt" };

/** The flags that choose a ValueSource, for create and update. */
export const valueSourceOptions = {
  stdin: { type: "boolean" },
  "from-file": { type: "string" },
  prompt: { type: "boolean" },
} as const;

/** The usage lines of valueSourceOptions. */
export const valueSourceUsage = `  --stdin           read the values from stdin
  --from-file FILE  read the values from FILE
  --prompt          ask for each field on the terminal, hiding credential values`;

/** The largest input read (the broker refuses requests over 1 MiB anyway). */
const maxInputBytes = 1024 * 1024;

/** The source the flags choose, or undefined when none is given; more than one is a UsageError. */
export function chosenValueSource(values: { stdin?: boolean | undefined; "from-file"?: string | undefined; prompt?: boolean | undefined }): ValueSource | undefined {
  const chosen: ValueSource[] = [];
  if (values.stdin === true) chosen.push({ kind: "stdin" });
  if (values["from-file"] !== undefined) chosen.push({ kind: "file", path: values["from-file"] });
  if (values.prompt === true) chosen.push({ kind: "prompt" });
  if (chosen.length > 1) {
    throw new UsageError("give only one of --stdin, --from-file and --prompt");
  }
  return chosen[0];
}

/** Reads credentials of a type from a source. */
export async function readCredentials(spec: TypeSpec, source: ValueSource, ctx: CliContext): Promise<Credentials> {
  switch (source.kind) {
    case "stdin":
      return credentialsFromText(spec, await readAll(ctx.stdin, "stdin"), "stdin");
    case "file":
      return credentialsFromText(spec, await readInputFile(source.path), source.path);
    case "prompt":
      return promptCredentials(spec, ctx);
  }
}

async function promptCredentials(spec: TypeSpec, ctx: CliContext): Promise<Credentials> {
  if (ctx.stdin.isTTY !== true) {
    throw new UsageError("--prompt needs a terminal on stdin; use --stdin or --from-file");
  }
  // an optional one (the private_key_jwt key of OAuth2) may be left empty, or take a one-line JWK
  const multiline = spec.fields.find((f) => f.text === "lines" && !f.optional);
  if (multiline !== undefined) {
    throw new UsageError(`--type ${spec.name}: the ${multiline.name} spans lines; give the values with --from-file or --stdin`);
  }
  const prompter = createPrompter(ctx);
  const answers: Record<string, string> = {};
  try {
    for (const f of spec.fields) {
      answers[f.name] = await prompter.ask(`${f.name}${f.optional ? " (optional)" : ""}: `, { hidden: f.sensitive });
    }
  } finally {
    prompter.close();
  }
  return credentialsFromFields(spec, answers, "prompt");
}

async function readAll(stream: Readable, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > maxInputBytes) {
      throw new CliError("ERR_INPUT", `${name}: more than ${maxInputBytes} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function readInputFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new CliError("ERR_INPUT", `cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? "error"})`);
  }
  if (Buffer.byteLength(text) > maxInputBytes) {
    throw new CliError("ERR_INPUT", `${path}: more than ${maxInputBytes} bytes`);
  }
  return text;
}
