/**
 * Column → Smartlead field mapping: automatic for common header spellings (case-, space-
 * and punctuation-insensitive), overridden by `--map field=column`; every other column
 * becomes a custom field named exactly as its header.
 */
import { UsageError } from "./errors.ts";

/** The standard Smartlead lead fields (custom_fields aside). */
export const LEAD_FIELDS = [
  "email",
  "first_name",
  "last_name",
  "phone_number",
  "company_name",
  "website",
  "location",
  "linkedin_profile",
  "company_url",
] as const;
export type LeadField = typeof LEAD_FIELDS[number];

/** Header spellings recognised for each field, in normalised form. */
const SYNONYMS: Record<LeadField, readonly string[]> = {
  email: [
    "email",
    "emailaddress",
    "mail",
    "workemail",
    "businessemail",
    "emailid",
    "contactemail",
    "personalemail",
    "primaryemail",
  ],
  first_name: ["firstname", "first", "fname", "givenname", "forename"],
  last_name: ["lastname", "last", "lname", "surname", "familyname"],
  phone_number: [
    "phonenumber",
    "phone",
    "mobile",
    "mobilephone",
    "mobilenumber",
    "cell",
    "cellphone",
    "telephone",
    "tel",
    "workphone",
    "directphone",
    "contactnumber",
  ],
  company_name: [
    "companyname",
    "company",
    "organization",
    "organisation",
    "organizationname",
    "employer",
    "accountname",
    "businessname",
  ],
  website: ["website", "websiteurl", "web", "url", "homepage", "site", "personalwebsite"],
  location: ["location", "address", "geo", "geography", "locality"],
  linkedin_profile: [
    "linkedinprofile",
    "linkedin",
    "linkedinurl",
    "linkedinprofileurl",
    "personlinkedinurl",
    "linkedinlink",
  ],
  company_url: ["companyurl", "companywebsite", "companydomain", "domain", "companysite"],
};

const BY_SPELLING = new Map<string, LeadField>();
for (const field of LEAD_FIELDS) {
  for (const s of SYNONYMS[field]) BY_SPELLING.set(s, field);
}

/** Lower-case, with everything but letters and digits removed: "E-mail Address" → "emailaddress". */
export function normalizeHeader(header: string): string {
  return header.toLowerCase().replace(/[^\p{L}\p{N}]/gu, "");
}

/** Where one column goes. */
export type Target =
  | { kind: "field"; field: LeadField }
  | { kind: "custom"; key: string }
  | { kind: "tags" }
  | { kind: "custom_fields_object" }
  | { kind: "ignore" };

/** The mapping decided for one header: a target per column, plus how it was chosen. */
export interface ColumnPlan {
  columns: readonly string[];
  targets: Target[];
  reasons: ("map" | "auto" | "custom" | "duplicate")[];
  emailColumn: number;
  /**
   * The most custom fields a lead of this plan can have (Infinity with a `custom_fields`
   * object column), so that leads are counted against the cap only when they could exceed it.
   */
  customBound?: number;
}

/** `--map` overrides: field (or `custom_fields.Key`, or `ignore`) → column header. */
export type MapOverrides = ReadonlyArray<{ target: string; column: string }>;

/** Parses `field=column` strings from `--map`. */
export function parseMapFlags(values: readonly string[]): MapOverrides {
  return values.map((v) => {
    const eq = v.indexOf("=");
    if (eq <= 0 || eq === v.length - 1) {
      throw new UsageError(
        `--map ${JSON.stringify(v)}: expected field=column`,
        `fields: ${LEAD_FIELDS.join(", ")}, custom_fields.<Name>, ignore`,
      );
    }
    const target = v.slice(0, eq).trim();
    if (
      !(LEAD_FIELDS as readonly string[]).includes(target) && target !== "ignore" &&
      !/^custom_fields\..+/.test(target)
    ) {
      throw new UsageError(
        `--map ${JSON.stringify(v)}: unknown field ${JSON.stringify(target)}`,
        `fields: ${LEAD_FIELDS.join(", ")}, custom_fields.<Name>, ignore`,
      );
    }
    return { target, column: v.slice(eq + 1).trim() };
  });
}

function findColumn(columns: readonly string[], wanted: string): number {
  const exact = columns.indexOf(wanted);
  if (exact >= 0) return exact;
  const norm = normalizeHeader(wanted);
  return columns.findIndex((c) => normalizeHeader(c) === norm);
}

/**
 * Plans the mapping of a header. `strict` (CSV) makes an override naming a missing column
 * an error; NDJSON rows may simply lack a key.
 */
export function planColumns(
  columns: readonly string[],
  overrides: MapOverrides,
  strict: boolean,
  source = "input",
): ColumnPlan {
  const targets: Target[] = columns.map(() => ({ kind: "ignore" }));
  const reasons: ColumnPlan["reasons"] = columns.map(() => "custom");
  const taken = new Set<string>();
  const assigned = new Set<number>();
  for (const o of overrides) {
    const i = findColumn(columns, o.column);
    if (i < 0) {
      if (strict) {
        throw new UsageError(
          `${source}: --map ${o.target}=${o.column}: no column ${JSON.stringify(o.column)}`,
          `columns are: ${columns.slice(0, 20).map((c) => JSON.stringify(c)).join(", ")}`,
        );
      }
      continue;
    }
    assigned.add(i);
    reasons[i] = "map";
    if (o.target === "ignore") targets[i] = { kind: "ignore" };
    else if (o.target.startsWith("custom_fields.")) {
      targets[i] = { kind: "custom", key: o.target.slice("custom_fields.".length) };
    } else {
      targets[i] = { kind: "field", field: o.target as LeadField };
      taken.add(o.target);
    }
  }
  columns.forEach((col, i) => {
    if (assigned.has(i)) return;
    const norm = normalizeHeader(col);
    const field = BY_SPELLING.get(norm);
    if (norm === "customfields") {
      targets[i] = { kind: "custom_fields_object" };
      reasons[i] = "auto";
    } else if (norm === "tags" || norm === "tag") {
      targets[i] = { kind: "tags" };
      reasons[i] = "auto";
    } else if (field && !taken.has(field)) {
      targets[i] = { kind: "field", field };
      taken.add(field);
      reasons[i] = "auto";
    } else if (col === "") {
      targets[i] = { kind: "ignore" };
    } else {
      targets[i] = { kind: "custom", key: col };
      reasons[i] = field ? "duplicate" : "custom";
    }
  });
  const emailColumn = targets.findIndex((t) => t.kind === "field" && t.field === "email");
  // Custom columns, plus one for `tags` (a column or --tags).
  const customBound = targets.some((t) => t.kind === "custom_fields_object")
    ? Infinity
    : targets.filter((t) => t.kind === "custom").length + 1;
  return { columns, targets, reasons, emailColumn, customBound };
}

/** A line per column, for `smartlead-sync mapping` and `init`. */
export function describePlan(plan: ColumnPlan): string[] {
  return plan.columns.map((col, i) => {
    const t = plan.targets[i]!;
    const to = t.kind === "field"
      ? t.field
      : t.kind === "custom"
      ? `custom_fields.${t.key}`
      : t.kind === "tags"
      ? "custom_fields.tags (merged with --tags)"
      : t.kind === "custom_fields_object"
      ? "custom_fields (object)"
      : "(ignored)";
    const why = plan.reasons[i] === "duplicate" ? " (field already mapped by another column)" : "";
    return `${JSON.stringify(col)} → ${to}${why}`;
  });
}
