/**
 * `smartlead-sync check`: verifies the key and the campaign, and says which is wrong. Without
 * a campaign id it checks the key alone (by listing the account's campaigns) and says so.
 */
import { Command } from "commander";
import { CAMPAIGN_PLACEHOLDER } from "../config.ts";
import { plural } from "../plural.ts";
import { campaignOptions, clientFor, resolveAccess } from "./access.ts";
import type { CommandContext } from "./context.ts";

export const checkCommand = (ctx: CommandContext): Command =>
  campaignOptions(new Command("check"))
    .summary("verify the API key and the campaign (without a campaign id: the key alone)")
    .option("--json", "print the result as JSON on stdout")
    .action(async (flags: Record<string, unknown>) => {
      const access = await resolveAccess(ctx, flags, { campaign: "optional" });
      const campaignId = access.campaignId;
      const client = clientFor(ctx, access, { maxAttempts: 3 });
      ctx.report = { ok: false, base_url: client.baseUrl, campaign_id: campaignId ?? null };
      if (campaignId === undefined) {
        const campaigns = await client.listCampaigns();
        ctx.report = {
          ok: true,
          base_url: client.baseUrl,
          campaign_id: null,
          campaigns: campaigns.length,
        };
        if (flags.json) return;
        const placeholder = access.config.campaign_id === CAMPAIGN_PLACEHOLDER
          ? ` (${access.configPath} still has the placeholder init wrote)`
          : "";
        ctx.output.err(
          `ok: the API key works (${plural(campaigns.length, "campaign")} in the account); ` +
            `no campaign was checked: no campaign id given${placeholder}\n` +
            "smartlead-sync campaigns lists them; check --campaign-id <id> checks one\n",
        );
        return;
      }
      const campaign = await client.getCampaign(campaignId);
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
