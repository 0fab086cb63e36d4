/**
 * Writes a realistic 3,100-row CRM export in the two shapes Excel on Windows produces, for
 * trying the input handling end to end (README, "Input"; issue #11's closing note):
 *
 * - `<dir>/export-windows-1252.csv`: Excel's "CSV" on Windows: Windows-1252, `;`-separated
 *   with a `sep=;` first line, curly quotes and dashes in the notes, accented names, and
 *   German/French unicode domains (`müller.de`, `café.fr`);
 * - `<dir>/export-unicode.txt`: Excel's "Unicode Text": UTF-16 LE with a byte-order mark,
 *   tab-separated, with Japanese and other non-Latin domains (`例え.jp`).
 *
 * Both hold the same people; some rows spell one mailbox twice (unicode and punycode), and
 * a few emails are invalid on purpose (no @, a zero-width space).
 *
 *   deno run --allow-write scripts/realistic_export.ts /tmp/export
 */

const dir = Deno.args[0] ?? "realistic-export";
const ROWS = 3100;

const FIRST = [
  "Anna",
  "Jürgen",
  "Zoë",
  "François",
  "Łukasz",
  "Sofía",
  "Kei",
  "Björn",
  "Ana",
  "Émile",
];
const LAST = ["Müller", "Dubois", "García", "Nowak", "Tanaka", "Søren", "O’Brien", "Smith"];
const LATIN_DOMAINS = ["müller.de", "café.fr", "bücher.example", "example.com", "acme.io"];
const WORLD_DOMAINS = ["例え.jp", "пример.рф", "münchen.de", "example.org", "ñandú.es"];
const NOTES = [
  "Met at “Growth Summit” – follow up in Q3",
  "Prefers email — no calls",
  "Said ‘maybe’ to the pilot",
  "Price-sensitive; 10% discount OK",
  "",
];

/** One person; `world` picks the non-Latin domains (for the UTF-16 file). */
function person(i: number, world: boolean) {
  const first = FIRST[i % FIRST.length]!;
  const last = LAST[(i * 7) % LAST.length]!;
  const domains = world ? WORLD_DOMAINS : LATIN_DOMAINS;
  const domain = domains[i % domains.length]!;
  let email = `${first.toLowerCase().replace(/[^a-z]/g, "") || "x"}.${i}@${domain}`;
  if (i % 97 === 0) email = email.replace("@", " at "); // no @
  if (i % 89 === 0) email = email.replace(".", ".\u200b"); // an invisible character
  return {
    first,
    last,
    email,
    company: `${last} & Söhne GmbH`,
    title: i % 3 ? "Head of Sales" : "Geschäftsführer",
    phone: `+49 30 ${1000000 + i}`,
    city: i % 2 ? "Köln" : "Zürich",
    notes: NOTES[i % NOTES.length]!,
  };
}

const HEADER = [
  "First Name",
  "Last Name",
  "E-mail Address",
  "Company",
  "Job Title",
  "Phone",
  "City",
  "Notes",
];

function rows(world: boolean): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < ROWS; i++) {
    const p = person(i, world);
    out.push([p.first, p.last, p.email, p.company, p.title, p.phone, p.city, p.notes]);
  }
  // Ten mailboxes spelt a second time in punycode: one lead each, the later row wins.
  for (let i = 1; i <= 10; i++) {
    const row = [...out[i * 5]!];
    const [local, domain] = row[2]!.split("@") as [string, string];
    row[2] = `${local}@${new URL(`http://${domain}`).hostname}`;
    row[7] = "second spelling (punycode)";
    out[ROWS - i] = row;
  }
  return out;
}

const CP1252: Record<string, number> = {
  "€": 0x80,
  "‚": 0x82,
  "„": 0x84,
  "…": 0x85,
  "‘": 0x91,
  "’": 0x92,
  "“": 0x93,
  "”": 0x94,
  "–": 0x96,
  "—": 0x97,
  "Ł": 0x4c,
  "ł": 0x6c, // Ł is not in Windows-1252: Excel writes "L"
};

function windows1252(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  let n = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    out[n++] = CP1252[ch] ?? (c < 0x100 ? c : 0x3f); // "?" as Excel does
  }
  return out.subarray(0, n);
}

function utf16le(text: string): Uint8Array {
  const out = new Uint8Array(2 + text.length * 2);
  out[0] = 0xff;
  out[1] = 0xfe;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[2 + 2 * i] = c & 0xff;
    out[3 + 2 * i] = c >> 8;
  }
  return out;
}

const csvField = (v: string) => (/[;"\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

await Deno.mkdir(dir, { recursive: true });
const latin = ["sep=;", HEADER.join(";"), ...rows(false).map((r) => r.map(csvField).join(";"))];
await Deno.writeFile(`${dir}/export-windows-1252.csv`, windows1252(latin.join("\r\n") + "\r\n"));
const world = [HEADER.join("\t"), ...rows(true).map((r) => r.join("\t"))];
await Deno.writeFile(`${dir}/export-unicode.txt`, utf16le(world.join("\r\n") + "\r\n"));
// deno-lint-ignore no-console
console.log(
  `wrote ${dir}/export-windows-1252.csv and ${dir}/export-unicode.txt (${ROWS} rows each)`,
);
