/**
 * Deterministic generator of realistic lead CSVs for the benchmarks: email, names, company,
 * phone, website, title, city, with some quoted fields holding commas or quotes. A few
 * rows repeat an earlier email (the later row wins) and a few have an invalid email, as
 * real exports do.
 */

const FIRST = [
  "Ada",
  "Grace",
  "Alan",
  "Katherine",
  "Linus",
  "Margaret",
  "Dennis",
  "Barbara",
  "Ken",
  "Frances",
  "Edsger",
  "Radia",
  "Donald",
  "Hedy",
  "John",
  "Sophie",
  "Tim",
  "Annie",
  "Guido",
  "Karen",
  "Niklaus",
  "Shafi",
  "Bjarne",
  "Lynn",
  "Ward",
  "Mary",
  "Brian",
  "Joan",
  "Leslie",
  "Adele",
  "José",
  "Zoë",
  "Łukasz",
  "Søren",
  "Chloé",
  "Mía",
  "Noah",
  "Olivia",
  "Liam",
  "Emma",
];
const LAST = [
  "Lovelace",
  "Hopper",
  "Turing",
  "Johnson",
  "Torvalds",
  "Hamilton",
  "Ritchie",
  "Liskov",
  "Thompson",
  "Allen",
  "Dijkstra",
  "Perlman",
  "Knuth",
  "Lamarr",
  "McCarthy",
  "Wilson",
  "Berners-Lee",
  "Easley",
  "van Rossum",
  "Spärck Jones",
  "Wirth",
  "Goldwasser",
  "Stroustrup",
  "Conway",
  "Cunningham",
  "Keller",
  "Kernighan",
  "Clarke",
  "Lamport",
  "Goldberg",
  "O'Neil",
  "García",
  "Müller",
  "Nowak",
  "Kowalski",
  "Schmidt",
  "Rossi",
  "Dubois",
  "Smith",
  "Brown",
];
const COMPANY_A = [
  "Analytical",
  "Orbit",
  "Bletchley",
  "Cobol",
  "Northwind",
  "Contoso",
  "Initech",
  "Globex",
  "Umbrella",
  "Hooli",
  "Vandelay",
  "Acme",
  "Stark",
  "Wayne",
  "Tyrell",
  "Soylent",
  "Cyberdyne",
  "Aperture",
  "Black Mesa",
  "Massive Dynamic",
  "Pied Piper",
  "Wonka",
  "Gringotts",
  "Oscorp",
];
const COMPANY_B = [
  "Engines",
  "Labs",
  "Works",
  "Systems",
  "Software",
  "Industries",
  "Analytics",
  "Holdings",
  "Partners",
  "Group",
  "Consulting",
  "Logistics",
  "Health",
  "Capital",
  "Media",
  "Robotics",
];
const SUFFIX = ["", "", "", "", ", Inc.", ", LLC", " GmbH", " Ltd", ", S.A.", " & Co"];
const TITLE = [
  "Founder",
  "CEO",
  "CTO",
  "VP Engineering",
  "Head of Sales",
  "Marketing Manager",
  "Software Engineer",
  "Director, Operations",
  "Account Executive",
  "Product Manager",
  "Research Lead",
  "Chief of Staff",
  "Procurement Officer",
  "Data Scientist",
  'Senior "Growth" Lead',
];
const CITY = [
  "London",
  "Manchester",
  "Arlington",
  "Hampton",
  "Berlin",
  "Paris",
  "Madrid",
  "Warsaw",
  "New York",
  "San Francisco",
  "Austin",
  "Portland, OR",
  "Portland, ME",
  "Toronto",
  "Sydney",
  "Zürich",
  "São Paulo",
  "Kraków",
  "Springfield, IL",
  "Cambridge, MA",
  "Dublin",
  "Lisbon",
];
const TLD = ["com", "io", "co.uk", "de", "example", "net", "org", "ai"];

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

export interface GenOptions {
  rows: number;
  /** Share of rows repeating an earlier row's email with other details (default 0.005). */
  duplicateRate?: number;
  /** Share of rows with an invalid email (default 0.002). */
  invalidRate?: number;
  seed?: number;
  /**
   * Every `changeEvery`-th row gets another city (the rest of the file unchanged, the same
   * random draws): the input of a rerun in which a share of the leads changed.
   */
  changeEvery?: number;
}

export const HEADER = "Email,First Name,Last Name,Company,Phone,Website,Title,City";

/** The CSV text of `rows` leads (plus a header), produced in pieces of about 1 MB. */
export function* leadCsv(opts: GenOptions): Generator<string> {
  const rnd = prng(opts.seed ?? 20260101);
  const dupRate = opts.duplicateRate ?? 0.005;
  const badRate = opts.invalidRate ?? 0.002;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const recent: string[] = new Array(10_000);
  let out = HEADER + "\n";
  for (let i = 0; i < opts.rows; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const coName = `${pick(COMPANY_A)} ${pick(COMPANY_B)}`;
    const company = coName + pick(SUFFIX);
    const domain = `${coName.toLowerCase().replace(/[^a-z]+/g, "")}.${pick(TLD)}`;
    const r = rnd();
    let email: string;
    if (r < badRate) {
      email = `${first.toLowerCase()}.${i}-at-${domain}`;
    } else if (r < badRate + dupRate && i > 0) {
      // an earlier lead again, with other details: the later row must win
      email = recent[Math.floor(rnd() * Math.min(i, recent.length))] ?? "x@dup.example";
    } else {
      email = `${first.toLowerCase().normalize("NFD").replace(/[^a-z]/g, "")}.${
        last.toLowerCase().normalize("NFD").replace(/[^a-z]/g, "")
      }.${i}@${domain}`;
    }
    if (r >= badRate) recent[i % recent.length] = email;
    if (rnd() < 0.03) email = email.toUpperCase(); // normalisation has work to do
    const phone = rnd() < 0.2
      ? ""
      : `+1 ${200 + Math.floor(rnd() * 799)} 555 ${
        String(Math.floor(rnd() * 10000)).padStart(4, "0")
      }`;
    const website = rnd() < 0.15 ? "" : `https://www.${domain}`;
    const fields = [email, first, last, company, phone, website, pick(TITLE), pick(CITY)];
    if (opts.changeEvery && i % opts.changeEvery === 0) fields[7] += " (moved)";
    out += fields.map(csvField).join(",") + "\n";
    if (out.length > 1 << 20) {
      yield out;
      out = "";
    }
  }
  if (out.length > 0) yield out;
}

/** Writes the CSV to `path` unless a file with the same row count is already there. */
export async function ensureLeadCsv(path: string, opts: GenOptions): Promise<boolean> {
  const marker = `${path}.rows`;
  const want = JSON.stringify(opts);
  const have = await Deno.readTextFile(marker).catch(() => "");
  const exists = await Deno.stat(path).then(() => true, () => false);
  if (exists && have === want) return false;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  try {
    for (const piece of leadCsv(opts)) {
      const bytes = enc.encode(piece);
      let off = 0;
      while (off < bytes.length) off += await file.write(bytes.subarray(off));
    }
  } finally {
    file.close();
  }
  await Deno.writeTextFile(marker, want);
  return true;
}
