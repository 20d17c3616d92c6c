import { InjectResponseSchema, type InjectResponse } from "../gen/credbroker/v1/inject_service_pb.ts";
import { modeName, oneName, parseCommandArgs, printHelp, requiredMode, UsageError, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { maskMaterial } from "./mask-material.ts";
import { formatPairs, printJson, time } from "./output.ts";
import { stepKindByName, stepNames, typeName } from "./secret-types.ts";

export const injectUsage = `Usage: credbroker inject NAME --mode test|live [--step ${stepNames}] [--target-url URL [--target-method M]] [flags]

Asks the broker for the material a step would get, for debugging. Credential
values are printed as **** unless --show-values is given. For an OAuth2
secret this fetches (or reuses) an access token, as a step's Inject would.

  --mode test|live        the mode of the secret (required)
  --step ${stepNames}   the kind of step (default: the type's natural step)
  --show-values           print the credential values too
  --target-url URL        the request the step is about to send, which a
                          DPoP-bound OAuth2 secret's proof is made for
  --target-method M       that request's method (default GET)

Sends CREDBROKER_INJECT_TOKEN when set (a broker with an inject token
requires it), else the admin token if there is one.
`;

const options = {
  mode: { type: "string" },
  step: { type: "string" },
  "show-values": { type: "boolean" },
  "target-url": { type: "string" },
  "target-method": { type: "string" },
} as const;

/** `credbroker inject`: Inject, with values masked unless --show-values. */
export async function inject(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, options);
  if (values.help === true) {
    return printHelp(ctx, injectUsage);
  }
  const name = oneName(positionals);
  const mode = requiredMode(values.mode);
  const step = stepKindByName(values.step);
  const target = targetOf(values["target-url"], values["target-method"]);
  const res = await withClient(values, ctx, "inject", (client) => client.inject.inject({ mode, name, step, ...target }));
  const shown = values["show-values"] === true ? res : maskMaterial(res);
  if (values.json === true) {
    printJson(ctx, InjectResponseSchema, shown);
    return 0;
  }
  ctx.stdout.write(formatMaterial(shown));
  if (values["show-values"] !== true) {
    ctx.stderr.write("(credential values hidden; --show-values prints them)\n");
  }
  return 0;
}

/** The DPoP target of --target-url and --target-method; the broker checks the URL and the method (INVALID_ARGUMENT naming target.url or target.method). */
function targetOf(url: string | undefined, method: string | undefined): { target?: { url: string; method: string } } {
  if (url === undefined) {
    if (method !== undefined) {
      throw new UsageError("--target-method needs --target-url");
    }
    return {};
  }
  return { target: { url, method: method ?? "GET" } };
}

function formatMaterial(res: InjectResponse): string {
  const secret = res.secret;
  const pairs: [string, string][] = [
    ["secret", secret === undefined ? "-" : `${secret.name} (${modeName(secret.mode)}, ${typeName(secret.type)}, version ${secret.version})`],
    ["step", res.material.case ?? "-"],
    ["expires", time(res.expireTime)],
  ];
  const material = res.material;
  switch (material.case) {
    case "http":
      for (const header of material.value.headers) {
        pairs.push(["header", `${header.name}: ${header.value}`]);
      }
      break;
    case "sftp":
      pairs.push(["username", material.value.username]);
      if (material.value.auth.case !== undefined) {
        pairs.push([material.value.auth.case, material.value.auth.value]);
      }
      if (material.value.passphrase !== "") {
        pairs.push(["passphrase", material.value.passphrase]);
      }
      break;
    case "code":
      for (const [field, value] of Object.entries(material.value.fields).sort(([a], [b]) => a.localeCompare(b))) {
        pairs.push([`field ${field}`, value]);
      }
      if (material.value.json !== "") {
        pairs.push(["json", material.value.json]);
      }
      break;
    case undefined:
      break;
  }
  // a private key or a JSON document spans lines: printed as is, after the pairs
  const blocks = pairs.filter(([, value]) => value.includes("\n"));
  return formatPairs(pairs.map(([label, value]) => [label, value.includes("\n") ? "(below)" : value]))
    .concat(blocks.map(([label, value]) => `\n${label}:\n${value.endsWith("\n") ? value : `${value}\n`}`).join(""));
}
