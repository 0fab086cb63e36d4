/**
 * The rejects file (NDJSON, one line per row not sent: source, line, reason, row) and the
 * stage that diverts rejected rows into it.
 */
import type { LeadPayload } from "../client/smartlead.ts";
import { UsageError } from "../errors.ts";
import { describeFsError } from "../input/source.ts";
import { redact } from "../redact.ts";
import type { RunStats } from "./stats.ts";
import type { Checked } from "./validate.ts";

export interface Reject {
  source: string;
  line: number;
  reason: string;
  row: Record<string, unknown> | LeadPayload;
  /** The text of a row that could not be parsed (invalid JSON). */
  raw?: string;
}

/** Writes rejects as NDJSON; without a path it only counts them. */
export class RejectsWriter {
  readonly path: string | undefined;
  count = 0;
  #file: Deno.FsFile | undefined;
  #buf: string[] = [];
  #enc = new TextEncoder();
  /** The first few, for the human summary. */
  readonly sample: Reject[] = [];

  private constructor(path: string | undefined, file: Deno.FsFile | undefined) {
    this.path = path;
    this.#file = file;
  }

  static async open(path: string | undefined): Promise<RejectsWriter> {
    if (path === undefined) return new RejectsWriter(undefined, undefined);
    try {
      const file = await Deno.open(path, { write: true, create: true, truncate: true });
      return new RejectsWriter(path, file);
    } catch (e) {
      throw new UsageError(
        `cannot write the rejects file ${path}: ${describeFsError(e)}`,
        "check --rejects",
      );
    }
  }

  async write(r: Reject): Promise<void> {
    this.count++;
    if (this.sample.length < 5) this.sample.push(r);
    if (!this.#file) return;
    let line: string;
    try {
      line = JSON.stringify(r);
    } catch {
      line = JSON.stringify({
        ...r,
        row: {},
        reason: `${r.reason} (row not representable as JSON)`,
      });
    }
    this.#buf.push(redact(line));
    if (this.#buf.length >= 1000) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.#file || this.#buf.length === 0) return;
    const data = this.#enc.encode(this.#buf.join("\n") + "\n");
    this.#buf = [];
    let off = 0;
    while (off < data.length) off += await this.#file.write(data.subarray(off));
  }

  async close(): Promise<void> {
    await this.flush();
    this.#file?.close();
    this.#file = undefined;
  }
}

/** Stage: sends rejects to the writer, passes valid leads on. */
export async function* divertRejects(
  checked: AsyncIterable<Checked[]>,
  rejects: RejectsWriter,
  stats: RunStats,
  /** Told the email of each rejected row whose email is valid (it is still in the input). */
  present?: (email: string) => void,
): AsyncGenerator<Array<Extract<Checked, { ok: true }>>> {
  for await (const batch of checked) {
    const valid: Array<Extract<Checked, { ok: true }>> = [];
    for (const c of batch) {
      stats.rows++;
      if (c.ok) {
        stats.valid++;
        valid.push(c);
      } else {
        stats.rejected++;
        if (c.email !== undefined) present?.(c.email);
        await rejects.write({
          source: c.source,
          line: c.line,
          reason: c.reason,
          row: c.row,
          ...(c.raw !== undefined ? { raw: c.raw } : {}),
        });
      }
    }
    if (valid.length > 0) yield valid;
  }
}
