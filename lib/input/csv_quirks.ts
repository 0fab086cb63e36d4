/**
 * What real CSV exports do around the rows: an Excel `sep=;` first line, preamble lines
 * before the header, a header naming one column twice, and quotes that close too early
 * (`"Ann" Smith`), described precisely instead of as an unclosed quote.
 */

/** Where the line starting at `pos` ends (`end`) and the next begins; undefined if unknown yet. */
function lineEnd(
  text: string,
  pos: number,
  last: boolean,
): { end: number; next: number } | undefined {
  for (let i = pos; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) return { end: i, next: i + 1 };
    if (c === 13) {
      if (i + 1 < text.length) {
        return { end: i, next: text.charCodeAt(i + 1) === 10 ? i + 2 : i + 1 };
      }
      return last ? { end: i, next: i + 1 } : undefined; // maybe half of a CRLF
    }
  }
  return last ? { end: text.length, next: text.length } : undefined;
}

const SEP_LINE = /^"?sep=(.)"?\s*$/i;

/**
 * The lines before the header: an Excel `sep=<char>` first line (it sets the delimiter),
 * then `skipRows` lines of preamble. Undefined while `text` does not hold them all yet.
 */
export function takePreamble(
  text: string,
  last: boolean,
  skipRows: number,
): { lines: number; offset: number; sep?: string } | undefined {
  const first = lineEnd(text, 0, last);
  if (first === undefined) return undefined;
  let pos = 0;
  let lines = 0;
  let sep: string | undefined;
  const m = SEP_LINE.exec(text.slice(0, first.end));
  if (m && first.end > 0) {
    sep = m[1]!;
    pos = first.next;
    lines++;
  }
  for (let k = 0; k < skipRows && pos < text.length; k++) {
    const l = lineEnd(text, pos, last);
    if (l === undefined) return undefined;
    pos = l.next;
    lines++;
  }
  if (pos >= text.length && !last && lines < skipRows + (sep ? 1 : 0)) return undefined;
  return sep === undefined ? { lines, offset: pos } : { lines, offset: pos, sep };
}

/**
 * Header names made unique: the first of a repeated name keeps it (and is the one mapped),
 * later ones become `name (2)`, `name (3)`, ... so that every column has its own key in the
 * lead and in the rejects file. Returns one message per repeated name. Empty names (trailing
 * delimiters) are left alone: such columns are ignored.
 */
export function dedupeColumns(
  names: readonly string[],
): { columns: string[]; duplicates: string[] } {
  const positions = new Map<string, number[]>();
  names.forEach((n, i) => {
    if (n === "") return;
    const list = positions.get(n);
    if (list) list.push(i);
    else positions.set(n, [i]);
  });
  const columns = names.slice();
  const duplicates: string[] = [];
  const used = new Set(names);
  for (const [name, at] of positions) {
    if (at.length < 2) continue;
    const renamed: string[] = [];
    let n = 2;
    for (const i of at.slice(1)) {
      while (used.has(`${name} (${n})`)) n++;
      const alias = `${name} (${n})`;
      used.add(alias);
      columns[i] = alias;
      renamed.push(JSON.stringify(alias));
    }
    const where = at.map((i) => i + 1);
    duplicates.push(
      `column ${JSON.stringify(name)} appears ${at.length} times (columns ${
        where.slice(0, -1).join(", ")
      } and ${where.at(-1)}): the first is mapped as ${JSON.stringify(name)}, the others are ` +
        `named ${renamed.join(", ")} (pick one with --map <field>=<name>)`,
    );
  }
  return { columns, duplicates };
}

/** What is wrong with the quoted field starting at `from`, if anything. */
export type QuoteProblem =
  | { kind: "unclosed"; line: number }
  | { kind: "text_after_quote"; line: number; snippet: string; fix: string };

/**
 * Scans the record fields from `from` (the start of a field) and describes the first quote
 * problem: a quoted field never closed, or text after its closing quote (`"Ann" Smith`).
 * `lineAtStart` is the line at offset 0 of `text`; lines count `newline` characters.
 */
export function describeQuoteProblem(
  text: string,
  from: number,
  delimiter: string,
  newline: "\n" | "\r",
  lineAtStart: number,
): QuoteProblem | undefined {
  if (from < 0) return undefined;
  const lineOf = (pos: number) => {
    let n = lineAtStart;
    for (let i = text.indexOf(newline); i >= 0 && i < pos; i = text.indexOf(newline, i + 1)) n++;
    return n;
  };
  let pos = from;
  while (pos <= text.length) {
    if (text[pos] === '"') {
      let j = pos + 1;
      let close = -1;
      while (true) {
        const q = text.indexOf('"', j);
        if (q < 0) break;
        if (text[q + 1] === '"') {
          j = q + 2;
          continue;
        }
        close = q;
        break;
      }
      if (close < 0) return { kind: "unclosed", line: lineOf(pos) };
      const after = text[close + 1];
      if (after === delimiter) {
        pos = close + 2;
        continue;
      }
      if (after === undefined || after === "\n" || after === "\r") return undefined;
      // Text follows the closing quote: show the field up to the delimiter or the line end.
      let end = close + 1;
      while (end < text.length && !"\r\n".includes(text[end]!) && text[end] !== delimiter) end++;
      const raw = text.slice(pos, end);
      const short = raw.length > 60 ? raw.slice(0, 57) + "..." : raw;
      const fix = raw.length > 60 ? "" : `"${raw.replaceAll('"', '""')}"`;
      return {
        kind: "text_after_quote",
        line: lineOf(close),
        snippet: short,
        fix: fix || 'e.g. "a ""quoted"" word"',
      };
    }
    // An unquoted field: on to the next delimiter, unless the record ends first.
    let k = pos;
    while (k < text.length && text[k] !== delimiter && text[k] !== "\n" && text[k] !== "\r") k++;
    if (k >= text.length || text[k] !== delimiter) return undefined;
    pos = k + 1;
  }
  return undefined;
}
