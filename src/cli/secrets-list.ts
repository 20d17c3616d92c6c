import { create } from "@bufbuild/protobuf";
import { ListSecretsResponseSchema, type ListSecretsResponse } from "../gen/credbroker/v1/secret_service_pb.ts";
import { modeName, noPositionals, parseCommandArgs, printHelp, requiredMode, UsageError, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { formatSecretTable, printJson } from "./output.ts";

export const secretsListUsage = `Usage: credbroker secrets list --mode test|live [flags]

Lists the secrets of a mode by name (metadata only), one page at a time
unless --all is given.

  --mode test|live    the mode to list (required)
  --page-size N       secrets per page (the broker's default when left out)
  --page-token TOKEN  the page to start at (from a previous listing)
  --all               follow the pages to the end
`;

const options = {
  mode: { type: "string" },
  "page-size": { type: "string" },
  "page-token": { type: "string" },
  all: { type: "boolean" },
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
  const listing = await withClient(values, ctx, "admin", async (client) => {
    const all: ListSecretsResponse = create(ListSecretsResponseSchema);
    let pageToken = values["page-token"] ?? "";
    do {
      const page = await client.secrets.listSecrets({ mode, pageSize, pageToken });
      all.secrets.push(...page.secrets);
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
    ctx.stderr.write(`more: --page-token ${listing.nextPageToken} (or --all)\n`);
  }
  return 0;
}

function pageSizeOf(text: string): number {
  if (!/^\d{1,6}$/.test(text) || Number(text) === 0) {
    throw new UsageError(`--page-size must be a whole number from 1, got "${text}"`);
  }
  return Number(text);
}
