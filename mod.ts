/**
 * smartlead-sync as a library: the push pipeline, the Smartlead client, the index and the
 * sandbox, usable from code as well as from the shell.
 *
 * @example
 * ```ts
 * import { push } from "./mod.ts";
 * const summary = await push({ inputs: ["leads.csv"], campaignId: 123, apiKey: Deno.env.get("SMARTLEAD_API_KEY") });
 * console.log(summary.added);
 * ```
 * @module
 */

/**
 * Runs the whole pipeline (read, map, validate, plan against the index, send, commit).
 * @example
 * ```ts
 * const s = await push({ inputs: ["leads.csv"], campaignId: 1, dryRun: true });
 * ```
 */
export { push, PushFailed, type PushOptions, type SyncMode } from "./lib/push.ts";
/**
 * `--max-deletes` / `--max-rejects` values (`N` or `P%`) for `PushOptions`.
 * @example
 * ```ts
 * await push({ inputs: ["leads.csv"], campaignId: 1, deleteMissing: true, maxDeletes: parseLimit("--max-deletes", "5%") });
 * ```
 */
export { type Limit, parseLimit } from "./lib/pipeline/guard_rails.ts";
/**
 * The one HTTP client for Smartlead (auth, redaction, rate limit, retries).
 * @example
 * ```ts
 * const client = new SmartleadClient({ apiKey: "KEY" });
 * await client.getCampaign(123);
 * ```
 */
export {
  type AddLeadsSettings,
  type LeadPayload,
  SmartleadClient,
} from "./lib/client/smartlead.ts";
/**
 * The sliding-window request budget, and `--rate` parsing.
 * @example
 * ```ts
 * const limiter = new RateLimiter(parseRate("10/2")!);
 * await limiter.acquire();
 * ```
 */
export { parseRate, RateLimiter } from "./lib/client/rate_limiter.ts";
/**
 * A local Smartlead-compatible API.
 * @example
 * ```ts
 * const sb = await startSandbox({ campaignIds: [1] });
 * await sb.close();
 * ```
 */
export { type Sandbox, type SandboxOptions, startSandbox } from "./lib/sandbox/server.ts";
/**
 * The on-disk dedup index.
 * @example
 * ```ts
 * const store = new IndexStore(":memory:");
 * store.close();
 * ```
 */
export { IndexStore, type MissingAction } from "./lib/index/store.ts";
/**
 * The index against the campaign: the campaign read in one request (its export; page by
 * page as the fallback), compared with the index, and the index entries rebuilt from it
 * (email → lead id, hash of Smartlead's data). A front end without a persistent index calls
 * `rebuildIndexFromCampaign` at the start of each sync, then `push`.
 * @example
 * ```ts
 * const store = new IndexStore("campaign-1.db");
 * const { report } = await rebuildIndexFromCampaign(new SmartleadClient({ apiKey: "KEY" }), store, 1);
 * store.close();
 * ```
 */
export {
  type CampaignComparison,
  compareWithCampaign,
  rebuildIndexFromCampaign,
  repairIndex,
} from "./lib/index/rebuild.ts";
/**
 * Every lead of a campaign (email, id, status, hash of its data), export first.
 * @example
 * ```ts
 * const info = { source: "export" as const, skipped: 0, unreadable: 0 };
 * for await (const batch of readRoster(client, 1, info)) console.log(batch.length);
 * ```
 */
export { readRoster, type RosterInfo, type RosterLead } from "./lib/client/roster.ts";
/**
 * Column mapping.
 * @example
 * ```ts
 * planColumns(["E-mail", "First Name"], [], true).targets;
 * ```
 */
export { LEAD_FIELDS, normalizeHeader, planColumns } from "./lib/mapping.ts";
/**
 * Turns a mapped row into a validated lead.
 * @example
 * ```ts
 * normalizeEmail(" Ann@X.com "); // "ann@x.com"
 * ```
 */
export { buildLead, LeadSchema, normalizeEmail } from "./lib/lead.ts";
/**
 * The `--json` summary.
 * @example
 * ```ts
 * const s: Summary = await push({ inputs: [], campaignId: 1, dryRun: true });
 * ```
 */
export type { Summary } from "./lib/pipeline/report.ts";
/**
 * Typed errors with exit codes.
 * @example
 * ```ts
 * new UsageError("bad flag").exitCode; // 2
 * ```
 */
export * from "./lib/errors.ts";
