/**
 * `smartlead-sync campaigns`: the account's campaigns (id, status, name), to find the id that
 * `push --campaign-id` needs. The list is the command's output: stdout, or one JSON object.
 */
import { Command } from "commander";
import type { Campaign } from "../client/schemas.ts";
import { plural } from "../plural.ts";
import { accessOptions, clientFor, resolveAccess } from "./access.ts";
import type { CommandContext } from "./context.ts";

/** A campaign as `campaigns --json` reports it. */
export interface CampaignRow {
  id: number;
  name: string | null;
  status: string | null;
}

export function campaignRows(list: readonly Campaign[]): CampaignRow[] {
  return list.map((c) => ({ id: Number(c.id), name: c.name ?? null, status: c.status ?? null }));
}

/** Aligned columns: ID, STATUS, NAME (names last: they vary in length). */
export function formatCampaigns(rows: readonly CampaignRow[]): string[] {
  const ids = rows.map((r) => String(r.id));
  const statuses = rows.map((r) => r.status ?? "-");
  const idWidth = Math.max(2, ...ids.map((s) => s.length));
  const statusWidth = Math.max(6, ...statuses.map((s) => s.length));
  const line = (id: string, status: string, name: string) =>
    `${id.padEnd(idWidth)}  ${status.padEnd(statusWidth)}  ${name}`.trimEnd();
  return [
    line("ID", "STATUS", "NAME"),
    ...rows.map((r, i) => line(ids[i]!, statuses[i]!, r.name ?? "")),
  ];
}

export const campaignsCommand = (ctx: CommandContext): Command =>
  accessOptions(new Command("campaigns"))
    .summary("list the account's campaigns: id, status, name")
    .option("--json", "print {campaigns: [{id, name, status}], count} as JSON on stdout")
    .action(async (flags: Record<string, unknown>) => {
      const access = await resolveAccess(ctx, flags);
      const client = clientFor(ctx, access, { maxAttempts: 3 });
      ctx.report = { base_url: client.baseUrl };
      const rows = campaignRows(await client.listCampaigns());
      ctx.report = { base_url: client.baseUrl, count: rows.length, campaigns: rows };
      if (flags.json) return;
      if (rows.length === 0) {
        ctx.output.err(`no campaigns in this account (${client.baseUrl})\n`);
        return;
      }
      ctx.output.out(formatCampaigns(rows).join("\n") + "\n");
      ctx.output.err(
        `${plural(rows.length, "campaign")}; push with --campaign-id <ID>\n`,
      );
    });
