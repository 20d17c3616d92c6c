import { create } from "@bufbuild/protobuf";
import { ListSecretsResponseSchema, SecretOrder, type ListSecretsResponse } from "../gen/credbroker/v1/secret_service_pb.ts";
import { modeName, noPositionals, parseCommandArgs, printHelp, requiredMode, UsageError, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { formatSecretTable, printJson } from "./output.ts";
import { stepKindByName, stepNames, typeNames, typeSpecByName } from "./secret-types.ts";

export const secretsListUsage = `Usage: credbroker secrets list --mode test|live [flags]

Lists the secrets of a mode by name (metadata only), one page at a time
unless --all is given, and says how many match.

  --mode test|live    the mode to list (required)
  --search TEXT       only names containing TEXT (case-insensitive)
  --type TYPE         only secrets of this type; repeat for several (${typeNames})
  --step STEP         only secrets that can serve this step (${stepNames})
  --order name|updated  by name (default) or most recently updated first
  --page-size N       secrets per page (the broker's default when left out)
  --page-token TOKEN  the page to start at (from a previous listing)
  --all               follow the pages to the end
`;

const options = {
  mode: { type: "string" },
  "page-size": { type: "string" },
  "page-token": { type: "string" },
  all: { type: "boolean" },
  search: { type: "string" },
  type: { type: "string", multiple: true },
  step: { type: "string" },
  order: { type: "string" },
} as const;

/** `credbroker secrets list`: ListSecrets, one page or all of them. */
export async function secretsList(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, options);
  if (values.help === true) {
    return printHelp(ctx, secretsListUsage);
  }
  noPositionals(positionals);
  const mode = requiredMode(values.mode);
  const pageSize = values["page-size"] === undefined ? 0 : pageSizeOf(values["page-size"]);
  const filter = {
    nameContains: values.search ?? "",
    types: (values.type ?? []).map((name) => typeSpecByName(name).type),
    step: stepKindByName(values.step),
    orderBy: orderOf(values.order),
  };
  const listing = await withClient(values, ctx, "admin", async (client) => {
    const all: ListSecretsResponse = create(ListSecretsResponseSchema);
    let pageToken = values["page-token"] ?? "";
    do {
      const page = await client.secrets.listSecrets({ mode, pageSize, pageToken, ...filter });
      all.secrets.push(...page.secrets);
      all.totalSize = page.totalSize;
      all.nextPageToken = pageToken = page.nextPageToken;
    } while (values.all === true && pageToken !== "");
    return all;
  });
  if (values.json === true) {
    printJson(ctx, ListSecretsResponseSchema, listing);
    return 0;
  }
  if (listing.secrets.length === 0) {
    ctx.stderr.write(`no ${modeName(mode)} secrets\n`);
  } else {
    ctx.stdout.write(formatSecretTable(listing.secrets));
  }
  if (listing.nextPageToken !== "") {
    ctx.stderr.write(`${listing.secrets.length} of ${listing.totalSize}; more: --page-token ${listing.nextPageToken} (or --all)\n`);
  }
  return 0;
}

function orderOf(text: string | undefined): SecretOrder {
  if (text === undefined || text === "name") {
    return SecretOrder.NAME;
  }
  if (text === "updated") {
    return SecretOrder.UPDATE_TIME_DESC;
  }
  throw new UsageError(`--order must be name or updated, got "${text}"`);
}

function pageSizeOf(text: string): number {
  if (!/^\d{1,6}$/.test(text) || Number(text) === 0) {
    throw new UsageError(`--page-size must be a whole number from 1, got "${text}"`);
  }
  return Number(text);
}
