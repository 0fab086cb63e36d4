/**
 * Counts in human output: "1 row", "2 rows", "1,000 rows", "0 rows". One helper, so that no
 * message says "1 rows" or "1 leads".
 */

/** A count with its noun: singular for exactly one, the plural (default: `+s`) otherwise. */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? singular : pluralForm}`;
}
