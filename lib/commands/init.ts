/** `smartlead-sync init [leads.csv]`: writes a commented starting config (never the key). */
import { Command } from "commander";
import { DEFAULT_BASE_URL } from "../client/smartlead.ts";
import { CAMPAIGN_PLACEHOLDER, DEFAULT_CONFIG_FILE } from "../config.ts";
import { UsageError } from "../errors.ts";
import { describePlan } from "../mapping.ts";
import { FILE_MODE, fileError, tighten } from "../private_files.ts";
import { planForFile } from "./mapping.ts";
import type { CommandContext } from "./context.ts";

/** The config text `init` writes. */
export function configTemplate(
  opts: { campaignId?: string; mapping?: string[]; map?: Record<string, string> },
): string {
  const lines = [
    "// smartlead-sync configuration. Flags win over environment variables, which win over this file.",
    "// Keep the API key out of this file: export SMARTLEAD_API_KEY in the environment instead.",
    "{",
    "  // The campaign leads go to (smartlead-sync check tells whether it exists).",
    `  "campaign_id": ${
      opts.campaignId && /^\d+$/.test(opts.campaignId)
        ? opts.campaignId
        : JSON.stringify(CAMPAIGN_PLACEHOLDER)
    },`,
    `  "base_url": "${DEFAULT_BASE_URL}",`,
    '  // Added to every lead as the custom field "tags".',
    '  "tags": [],',
    "  // Leads per request (1..400) and the client-side request budget (requests/seconds).",
    '  "batch_size": 100,',
    '  "rate": "10/2",',
    "  // incremental: only new or changed rows; full-refresh: every row again.",
    '  "mode": "incremental",',
    "  // Leads absent from the input: ignore, pause (resumed when they come back),",
    "  // unsubscribe (from this campaign) or delete (also from the account if in no other).",
    '  "missing": "ignore",',
  ];
  if (opts.mapping) {
    lines.push("  // How the columns were mapped automatically:");
    for (const m of opts.mapping) lines.push(`  //   ${m}`);
  }
  lines.push(
    "  // Override the automatic mapping: field → column (fields: email, first_name, last_name,",
    "  // phone_number, company_name, website, location, linkedin_profile, company_url,",
    "  // custom_fields.<Name>, ignore).",
    `  "map": ${JSON.stringify(opts.map ?? {})},`,
    "  // Smartlead's add-leads settings (each is also a --flag).",
    '  "settings": {',
    '    "ignore_global_block_list": false,',
    '    "ignore_unsubscribe_list": false,',
    '    "ignore_community_bounce_list": false,',
    '    "ignore_duplicate_leads_in_other_campaign": false',
    "  }",
    "}",
  );
  return lines.join("\n") + "\n";
}

export const initCommand = (ctx: CommandContext): Command =>
  new Command("init")
    .summary("write a commented smartlead-sync.jsonc, showing how a CSV's columns map")
    .argument("[input]", "a CSV or NDJSON file whose header is used")
    .option("--campaign-id <id>", "campaign id to put in the file")
    .option("--config <path>", `where to write (default ./${DEFAULT_CONFIG_FILE})`)
    .option("--force", "overwrite an existing file")
    .action(async (input: string | undefined, flags: Record<string, unknown>) => {
      const path = (flags.config as string | undefined) ?? DEFAULT_CONFIG_FILE;
      let mapping: string[] | undefined;
      if (input !== undefined) {
        const plan = await planForFile(ctx, input, []);
        mapping = describePlan(plan);
        ctx.output.err(`${input}:\n${mapping.map((m) => `  ${m}`).join("\n")}\n`);
        if (plan.emailColumn < 0) {
          ctx.output.err(`warning: no email column found; set "map": {"email": "<column>"}\n`);
        }
      }
      const text = configTemplate({
        ...(flags.campaignId ? { campaignId: String(flags.campaignId) } : {}),
        ...(mapping ? { mapping } : {}),
      });
      try {
        // 0600: the file may end up holding an api_key.
        await Deno.writeTextFile(path, text, { createNew: flags.force !== true, mode: FILE_MODE });
        tighten(path);
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) {
          throw new UsageError(`${path} already exists`, "pass --force to overwrite it");
        }
        throw fileError("write", path, e, "check --config");
      }
      ctx.output.err(`wrote ${path}; set SMARTLEAD_API_KEY and run: smartlead-sync check\n`);
    });
