/**
 * Rate-limit benchmarks: real pushes through the CLI into the sandbox, measuring how much of
 * the server's budget the client used and how many 429s it took.
 *
 * - 10 per 2 s (Retry-After and x-ratelimit-* headers, as the sandbox sends by default),
 *   with the client's default ceiling of 10 per 2 s.
 * - 60 per 60 s with no Retry-After, no x-ratelimit-* headers and a lockout after each
 *   refusal (every 429 refuses everything for a window), scaled down ten times so that a run
 *   takes a minute instead of ten: the sandbox enforces 60 per 6 s with a 6-s lockout, and
 *   the client's assumptions are scaled alike (`--rate 10/0.2` for its 10-per-2-s ceiling,
 *   `--rate-window 6` for the 60-s window it learns over and waits after a bare 429).
 * - The same key shared by two jobs started together (two campaigns, one key).
 *
 * "Budget used": over the admitted requests, the time a sliding window of N per W needs at
 * best (request k starts at floor((k - 1) / N) windows) divided by the time from the first
 * to the last admitted request.
 *
 * Usage: deno task bench:rate     (writes bench/rate_results.json, prints a table)
 */
import { type RateConfig, startSandbox } from "../lib/sandbox/server.ts";
import { ensureLeadCsv } from "./gen.ts";
import { measureDeno } from "./proc.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CLI = `${ROOT}cli.ts`;

export interface RateRow {
  metric: string;
  value: string;
  target: string;
  met: boolean | undefined;
}

interface Scenario {
  name: string;
  rate: RateConfig;
  /** Leads per job (one job per entry), each into its own campaign. */
  jobs: number[];
  batchSize: number;
  args: string[];
  /** Target fraction of the budget used (none for the shared key: reported only). */
  target?: number;
}

const SCENARIOS: Scenario[] = [
  {
    name: "10 per 2 s",
    rate: { requests: 10, windowMs: 2000 },
    jobs: [6000],
    batchSize: 100,
    args: [],
    target: 0.95,
  },
  {
    name: "60 per 60 s, no Retry-After, lockout (scaled: 60 per 6 s)",
    rate: { requests: 60, windowMs: 6000, retryAfter: false, reset: "none", lockoutMs: 6000 },
    jobs: [6000],
    batchSize: 10,
    args: ["--rate", "10/0.2", "--rate-window", "6"],
    target: 0.8,
  },
  {
    name: "same, two jobs sharing the key",
    rate: { requests: 60, windowMs: 6000, retryAfter: false, reset: "none", lockoutMs: 6000 },
    jobs: [3000, 3000],
    batchSize: 10,
    args: ["--rate", "10/0.2", "--rate-window", "6"],
  },
];

const fmt = (x: number, d = 2) => x.toFixed(d);

function cliEnv(extra: Record<string, string>): Record<string, string> {
  return {
    HOME: Deno.env.get("HOME") ?? "/tmp",
    PATH: Deno.env.get("PATH") ?? "",
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache/deno`,
    ...extra,
  };
}

/** Runs every scenario; returns table rows and the raw figures. */
export async function rateBench(
  opts: { tmp: string; data: string; log: (line: string) => void },
): Promise<{ table: RateRow[]; results: Record<string, unknown> }> {
  const table: RateRow[] = [];
  const results: Record<string, unknown> = {};
  for (const sc of SCENARIOS) {
    const files: string[] = [];
    for (const [i, n] of sc.jobs.entries()) {
      const file = `${opts.data}/leads-${n}-clean-${i}.csv`;
      await ensureLeadCsv(file, { rows: n, duplicateRate: 0, invalidRate: 0, seed: n + i });
      files.push(file);
    }
    const campaignIds = sc.jobs.map((_, i) => i + 1);
    const sb = await startSandbox({ apiKey: "bench-key", campaignIds, rate: sc.rate });
    try {
      opts.log(`rate: ${sc.name} (${sc.jobs.join(" + ")} leads, ${sc.batchSize} per batch)`);
      const env = cliEnv({ SMARTLEAD_API_KEY: sb.apiKey, SMARTLEAD_BASE_URL: sb.url });
      const runs = await Promise.all(files.map((file, i) =>
        measureDeno([
          "run",
          "-A",
          CLI,
          "push",
          file,
          "--campaign-id",
          String(i + 1),
          "--json",
          "--state",
          `${opts.tmp}/rate-${SCENARIOS.indexOf(sc)}-${i}`,
          "--batch-size",
          String(sc.batchSize),
          ...sc.args,
        ], { env, cwd: ROOT, clearEnv: true })
      ));
      const summaries = runs.map((m) => {
        try {
          return JSON.parse(m.stdout) as {
            added: number;
            rate_budget: { requests: number; window_ms: number; source: string } | null;
          };
        } catch {
          return undefined;
        }
      });
      const admitted = sb.requests.filter((r) => r.status !== 429).map((r) => r.at);
      const refused = sb.requests.length - admitted.length;
      const span = admitted[admitted.length - 1]! - admitted[0]!;
      const ideal = Math.floor((admitted.length - 1) / sc.rate.requests) * sc.rate.windowMs;
      const used = ideal / span;
      const exits = runs.map((m) => m.code);
      const budgets = summaries.map((s) =>
        s?.rate_budget
          ? `${s.rate_budget.requests}/${s.rate_budget.window_ms / 1000}s ${s.rate_budget.source}`
          : "?"
      );
      results[sc.name] = {
        requests: sb.requests.length,
        status_429: refused,
        span_ms: span,
        ideal_ms: ideal,
        budget_used: used,
        exit_codes: exits,
        added: summaries.map((s) => s?.added),
        converged_to: budgets,
        wall_ms: Math.max(...runs.map((m) => m.ms)),
      };
      table.push({
        metric: `rate ${sc.name}: budget used`,
        value: `${fmt(used)} (${fmt(ideal / 1000, 1)} s ideal / ${fmt(span / 1000, 1)} s)`,
        target: sc.target === undefined ? "(reported)" : `>= ${sc.target}`,
        met: sc.target === undefined ? undefined : used >= sc.target,
      });
      table.push({
        metric: `rate ${sc.name}: 429s, exits`,
        value: `${refused} x 429 in ${sb.requests.length} requests; exit ${
          exits.join(", ")
        }; converged to ${budgets.join(", ")}`,
        target: sc.jobs.length > 1 ? "every job exits 0" : "a handful; exit 0",
        met: exits.every((c) => c === 0) && (sc.jobs.length > 1 || refused <= 10),
      });
    } finally {
      await sb.close();
    }
  }
  return { table, results };
}

if (import.meta.main) {
  const data = `${ROOT}bench/data`;
  await Deno.mkdir(data, { recursive: true });
  const tmp = await Deno.makeTempDir({ prefix: "smartlead-sync-bench-rate-" });
  const log = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
  try {
    const { table, results } = await rateBench({ tmp, data, log });
    await Deno.writeTextFile(
      `${ROOT}bench/rate_results.json`,
      JSON.stringify(results, null, 2) + "\n",
    );
    const w0 = Math.max(...table.map((r) => r.metric.length));
    const w1 = Math.max(...table.map((r) => r.value.length));
    const lines = table.map((r) =>
      `${r.metric.padEnd(w0)}  ${r.value.padEnd(w1)}  ${r.target.padEnd(18)}  ${
        r.met === undefined ? "" : r.met ? "yes" : "NO"
      }`
    );
    await Deno.stdout.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
