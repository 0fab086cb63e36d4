/** `smartlead-sync check`: verifies the key and the campaign, and says which is wrong. */
import { Command } from "commander";
import { campaignOptions, clientFor, resolvePushOptions } from "./push.ts";
import type { CommandContext } from "./context.ts";

export const checkCommand = (ctx: CommandContext): Command =>
  campaignOptions(new Command("check"))
    .summary("verify the API key and the campaign")
    .option("--json", "print the result as JSON on stdout")
    .action(async (flags: Record<string, unknown>) => {
      const opts = await resolvePushOptions(ctx, [], { ...flags, dryRun: false });
      const client = clientFor(ctx, opts, { maxAttempts: 3 });
      ctx.report = { ok: false, base_url: client.baseUrl, campaign_id: opts.campaignId };
      const campaign = await client.getCampaign(opts.campaignId);
      const result = {
        ok: true,
        base_url: client.baseUrl,
        campaign_id: Number(campaign.id),
        campaign_name: campaign.name ?? null,
        campaign_status: campaign.status ?? null,
      };
      ctx.report = result;
      if (!flags.json) {
        ctx.output.err(
          `ok: the API key works and campaign ${result.campaign_id} exists` +
            (result.campaign_name
              ? ` ("${result.campaign_name}", ${result.campaign_status})`
              : "") +
            "\n",
        );
      }
    });
