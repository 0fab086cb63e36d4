/**
 * The mapper for each header, built once: a CSV file's header (its rows share one array),
 * or an NDJSON key set. The same decisions as `validateRows` (lib/pipeline/validate.ts):
 * a CSV header without an email column is a usage error naming the file and line, `--map`
 * naming a missing CSV column is one too; NDJSON rows may lack keys.
 */
import { UsageError } from "../errors.ts";
import { type MapOverrides, planColumns } from "../mapping.ts";
import { DEFAULT_MAX_CUSTOM_FIELDS } from "../lead.ts";
import { compileMapper, type LeadMapper } from "./mapper.ts";

/** NDJSON key sets remembered at most (beyond, the cache starts again). */
const MAX_KEY_SETS = 10_000;

export class Mappers {
  #byHeader = new WeakMap<readonly string[], LeadMapper>();
  #byKeys = new Map<string, LeadMapper>();
  #map: MapOverrides;
  #tags: readonly string[];
  #max: number;
  #warn: ((message: string) => void) | undefined;

  constructor(
    map: MapOverrides,
    tags: readonly string[],
    opts: { maxCustomFields?: number | undefined; warn?: (message: string) => void } = {},
  ) {
    this.#map = map;
    this.#tags = tags;
    this.#max = opts.maxCustomFields ?? DEFAULT_MAX_CUSTOM_FIELDS;
    this.#warn = opts.warn;
  }

  /** The mapper of a CSV header (checked now, rows or not). */
  csv(columns: readonly string[], source: string, line: number): LeadMapper {
    let m = this.#byHeader.get(columns);
    if (m) return m;
    const plan = planColumns(columns, this.#map, true, source);
    if (plan.emailColumn < 0) {
      throw new UsageError(
        `${source}: line ${line}: no email column (columns: ${
          columns.slice(0, 12).map((c) => JSON.stringify(c)).join(", ")
        }${columns.length > 12 ? ", ..." : ""})`,
        "name the email column with --map email=<column>",
      );
    }
    m = compileMapper(plan, this.#tags, { maxCustomFields: this.#max });
    this.#byHeader.set(columns, m);
    const custom = plan.targets.filter((t) => t.kind === "custom").length;
    if (custom > this.#max) {
      this.#warn?.(
        `${source}: line ${line}: ${custom} columns become custom fields; Smartlead ` +
          `takes at most ${this.#max} per lead: rows with more than ${this.#max} non-empty ` +
          "ones will be rejected (--max-custom-fields; drop columns with --map ignore=<column>)",
      );
    }
    return m;
  }

  /** The mapper of an NDJSON row's keys (the loop form: key sets may be many). */
  keys(columns: readonly string[], source: string): LeadMapper {
    const key = columns.join("\u0000");
    let m = this.#byKeys.get(key);
    if (!m) {
      m = compileMapper(planColumns(columns, this.#map, false, source), this.#tags, {
        form: "interpreted",
        maxCustomFields: this.#max,
      });
      if (this.#byKeys.size > MAX_KEY_SETS) this.#byKeys.clear();
      this.#byKeys.set(key, m);
    }
    return m;
  }
}
