/**
 * The rejects file (NDJSON, one line per row not sent: source, line, reason, row) and the
 * stage that diverts rejected rows into it. `-` writes them to stdout; `append` keeps the
 * lines of earlier runs.
 */
import type { LeadPayload } from "../client/smartlead.ts";
import { fileError, openForOverwrite } from "../private_files.ts";
import { escapeControl } from "../escape.ts";
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

/** The rejects file name that means stdout. */
export const REJECTS_STDOUT = "-";

/** Where reject lines go: a file, or stdout (never closed here). */
type Sink = Pick<Deno.FsFile, "write" | "close">;

/** Writes rejects as NDJSON; without a path it only counts them. */
export class RejectsWriter {
  readonly path: string | undefined;
  count = 0;
  #file: Sink | undefined;
  #append = false;
  #buf: string[] = [];
  #enc = new TextEncoder();
  /** The first few, for the human summary. */
  readonly sample: Reject[] = [];

  private constructor(path: string | undefined, file: Sink | undefined) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Opens the file for writing without truncating it yet: a run checks that it can write
   * there before it takes the lock, and only `begin()` (once the run owns the index)
   * empties it, so a run refused by the lock leaves the running one's rejects alone.
   * `origin` names where the path came from in the message (`--rejects`, a config key).
   */
  static async open(
    path: string | undefined,
    origin = "--rejects",
    opts: { append?: boolean } = {},
  ): Promise<RejectsWriter> {
    if (path === undefined) return new RejectsWriter(undefined, undefined);
    if (path === REJECTS_STDOUT) {
      const out = Deno.stdout;
      const writer = new RejectsWriter(path, { write: (p) => out.write(p), close: () => {} });
      writer.#append = true;
      return writer;
    }
    try {
      // 0600 (personal data), and never through a link to another file; emptied by begin()
      // unless appending.
      const file = await openForOverwrite(path, "the rejects file", origin, {
        truncate: false,
        append: opts.append ?? false,
      });
      const writer = new RejectsWriter(path, file);
      writer.#append = opts.append ?? false;
      return writer;
    } catch (e) {
      throw fileError("write the rejects file", path, e, `check ${origin}`);
    }
  }

  /**
   * Empties the file (a regular one: a device such as /dev/null is left as it is), unless
   * appending.
   */
  async begin(): Promise<void> {
    const file = this.#file;
    if (this.#append || !(file instanceof Deno.FsFile)) return;
    if ((await file.stat()).isFile) await file.truncate(0);
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
    // Lossless on JSON: a bidi override or C1 control becomes its \uXXXX form.
    this.#buf.push(escapeControl(redact(line)));
    if (this.#buf.length >= 1000) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.#file || this.#buf.length === 0) return;
    const data = this.#enc.encode(this.#buf.join("\n") + "\n");
    this.#buf = [];
    let off = 0;
    try {
      while (off < data.length) off += await this.#file.write(data.subarray(off));
    } catch (e) {
      throw fileError(
        "write the rejects file",
        this.path!,
        e,
        "free some space or check --rejects",
      );
    }
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
