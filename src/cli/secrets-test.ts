import type { MessageInitShape } from "@bufbuild/protobuf";
import { TestSecretResponseSchema, type TestSecretRequestSchema, type TestSecretResponse } from "../gen/credbroker/v1/secret_service_pb.ts";
import { parseCommandArgs, printHelp, requiredMode, UsageError, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { formatPairs, printJson } from "./output.ts";
import { chosenValueSource, readCredentials, valueSourceOptions, valueSourceUsage, type ValueSource } from "./read-credentials.ts";
import { typeName, typeNames, typeSpecByName } from "./secret-types.ts";

export const secretsTestUsage = `Usage: credbroker secrets test NAME --mode test|live [flags]
       credbroker secrets test --type TYPE --mode test|live [flags]

Tests a stored secret (NAME), or values before they are saved (--type, read
like \`secrets create\` reads them: stdin, a file or a hidden prompt, never
arguments), once, now, and prints what happened without any value:
  oauth2                 a token request (not cached): scopes, type, lifetime or the OAuth error
  sftp-password|sftp-key a login to --host: the host key fingerprint, whether the login was accepted
  basic|bearer|api-key   with --url, one GET with the secret's header: the status code
  json                   whether it parses to an object

  --mode test|live      the stored secret's mode, or the mode the values are for (required)
  --type TYPE           test unsaved values: ${typeNames}
${valueSourceUsage}
  --host HOST           SFTP: the server (a host name or IP address)
  --port PORT           SFTP: its port (default 22)
  --host-key SHA256:..  SFTP: the host key fingerprint to pin (ssh-keygen -l); a
                        host that is not loopback gets no login without it, and
                        the fingerprint is printed for you to pin
  --url URL             Basic, Bearer, API Key: https, or http to a loopback host

Exit code 0 when the test passed, 1 when it did not (the summary says why).

Examples:
  credbroker secrets test crm-api --mode live
  credbroker secrets test sftp-production --mode live --host sftp.example.com --host-key SHA256:...
  printf '%s' '{"token":"..."}' | credbroker secrets test --type bearer --mode test --url https://api.example.com/me
`;

type TestRequest = MessageInitShape<typeof TestSecretRequestSchema>;

const options = {
  mode: { type: "string" },
  type: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  "host-key": { type: "string" },
  url: { type: "string" },
  ...valueSourceOptions,
} as const;

/** `credbroker secrets test`: TestSecret of a stored secret or of values read like create reads them. */
export async function secretsTest(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, options);
  if (values.help === true) {
    return printHelp(ctx, secretsTestUsage);
  }
  if (positionals.length > 1) {
    throw new UsageError(`expected at most one NAME, got ${positionals.length}`);
  }
  const name = positionals[0];
  const mode = requiredMode(values.mode);
  const chosen = chosenValueSource(values);
  if (name !== undefined && (values.type !== undefined || chosen !== undefined)) {
    throw new UsageError("give NAME (a stored secret) or --type with values, not both");
  }
  const spec = name === undefined ? typeSpecByName(values.type) : undefined;
  const source: ValueSource = chosen ?? (ctx.stdin.isTTY === true ? { kind: "prompt" } : { kind: "stdin" });
  const target = targetOf(values);
  // the token is looked up before anyone types a password
  const res = await withClient(values, ctx, "admin", async (client) => {
    const request: TestRequest =
      spec === undefined ? { mode, name: name ?? "", target } : { mode, credentials: await readCredentials(spec, source, ctx), target };
    return client.secrets.testSecret(request);
  });
  if (values.json === true) {
    printJson(ctx, TestSecretResponseSchema, res);
  } else {
    ctx.stdout.write(formatTestAnswer(res));
  }
  return res.ok ? 0 : 1;
}

function targetOf(values: { host?: string | undefined; port?: string | undefined; "host-key"?: string | undefined; url?: string | undefined }): NonNullable<TestRequest["target"]> {
  const sftp = values.host !== undefined || values.port !== undefined || values["host-key"] !== undefined;
  if (sftp && values.url !== undefined) {
    throw new UsageError("--url is for HTTP secrets, --host/--port/--host-key for SFTP ones: not both");
  }
  if (values.url !== undefined) {
    return { case: "http", value: { url: values.url } };
  }
  if (!sftp) {
    return { case: undefined };
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`--port must be 1-65535, got "${values.port}"`);
  }
  return { case: "sftp", value: { host: values.host ?? "", port, hostKeyFingerprint: values["host-key"] ?? "" } };
}

/** The answer, one field a line: what was tested and what the type's test found. */
export function formatTestAnswer(res: TestSecretResponse): string {
  const pairs: [string, string][] = [
    ["result", res.ok ? "passed" : "failed"],
    ["summary", res.summary],
    ["type", typeName(res.type)],
  ];
  if (res.secret !== undefined) {
    pairs.push(["secret", `${res.secret.name} (version ${res.secret.version})`]);
  }
  const result = res.result;
  switch (result.case) {
    case "oauth2": {
      const r = result.value;
      if (r.granted) {
        pairs.push(["token type", r.tokenType], ["scopes", `${r.scopes.join(" ") || "-"}${r.scopesAsRequested ? " (as requested)" : ""}`]);
        pairs.push(["expires in", r.expiresIn === undefined ? "- (no expires_in)" : `${r.expiresIn.seconds} s`]);
      } else {
        pairs.push(["failure", r.failure], ...(r.error === "" ? [] : [["oauth error", r.error] as [string, string]]));
      }
      break;
    }
    case "sftp": {
      const r = result.value;
      if (r.connected) {
        pairs.push(["host key", `${r.hostKeyAlgorithm} ${r.hostKeyFingerprint}`], ["pinned key", r.hostKeyMatched ? "matched" : "not matched or none given"]);
      }
      pairs.push(["login", !r.loginAttempted ? "not sent" : r.loginAccepted ? "accepted" : "refused"]);
      break;
    }
    case "http":
      pairs.push(["status", result.value.sent ? String(result.value.status || "- (no response)") : "- (no --url)"]);
      break;
    case "json":
      pairs.push(["members", String(result.value.memberCount)]);
      break;
  }
  return formatPairs(pairs);
}
