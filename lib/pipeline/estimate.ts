/**
 * What a plan costs: the requests each phase takes and the time they need under the request
 * budget (`--rate`), and, when the per-lead update path would take long, the cheaper one.
 */

/** How changed leads are sent: `lead`, one documented update per lead; `add`, re-added in batches. */
export type UpdateVia = "lead" | "add";
export const UPDATE_VIA: readonly UpdateVia[] = ["lead", "add"];

/** Above this, the plan names `--update-via add` when it is cheaper. */
export const LONG_MS = 5 * 60_000;

export interface PlanCost {
  /** Write requests per phase (lead-id lookups and retries come on top). */
  requests: { add: number; update: number; delete: number };
  /** The time those requests take at the request budget, in ms. */
  estimated_ms: number;
  update_via: UpdateVia;
  /** The request budget the estimate assumes (the configured `--rate`). */
  rate: { requests: number; window_ms: number };
  /** Set when updating one request per lead would take long and re-adding is cheaper. */
  cheaper?: { update_via: UpdateVia; requests: number; estimated_ms: number };
}

/** Milliseconds `n` requests take at `rate` (n per window, evenly). */
export function timeFor(n: number, rate: { requests: number; windowMs: number }): number {
  return Math.round((n * rate.windowMs) / rate.requests);
}

export function planCost(
  plan: { add: number; update: number; delete: number },
  opts: { batchSize: number; rate: { requests: number; windowMs: number }; updateVia: UpdateVia },
): PlanCost {
  const batches = (n: number) => Math.ceil(n / opts.batchSize);
  const update = opts.updateVia === "add" ? batches(plan.update) : plan.update;
  const requests = { add: batches(plan.add), update, delete: plan.delete };
  const cost: PlanCost = {
    requests,
    estimated_ms: timeFor(requests.add + requests.update + requests.delete, opts.rate),
    update_via: opts.updateVia,
    rate: { requests: opts.rate.requests, window_ms: opts.rate.windowMs },
  };
  if (opts.updateVia === "lead" && timeFor(update, opts.rate) > LONG_MS) {
    const viaAdd = batches(plan.update);
    cost.cheaper = {
      update_via: "add",
      requests: viaAdd,
      estimated_ms: timeFor(viaAdd, opts.rate),
    };
  }
  return cost;
}

/** `1 h 5 min`, `12 min`, `40 s`: a rough duration for people. */
export function roughly(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** The plan's cost as lines for people. */
export function describeCost(cost: PlanCost): string[] {
  const r = cost.requests;
  const rate = { requests: cost.rate.requests, windowMs: cost.rate.window_ms };
  const budget = `${rate.requests} per ${rate.windowMs / 1000} s`;
  const lines = [
    `requests: add ${r.add}, update ${r.update}${
      cost.update_via === "lead" ? " (one per lead)" : " (re-added in batches)"
    }, delete ${r.delete}: about ${roughly(cost.estimated_ms)} at ${budget}`,
  ];
  if (cost.cheaper) {
    lines.push(
      `updating one lead per request takes about ${roughly(timeFor(r.update, rate))}; ` +
        `--update-via add re-adds them in ${cost.cheaper.requests} requests (about ${
          roughly(cost.cheaper.estimated_ms)
        }; see README, Updates)`,
    );
  }
  return lines;
}
