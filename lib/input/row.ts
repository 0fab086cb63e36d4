/** A parsed input row, before mapping: where it came from and its named values. */
export interface Row {
  source: string;
  /** 1-based line where the row starts. */
  line: number;
  /** Column names; CSV rows of one file share one array. */
  columns: readonly string[];
  values: readonly unknown[];
  /** Set when the row could not be parsed; it then becomes a reject with this reason. */
  problem?: string;
  /** The text of a row that could not be parsed (invalid JSON), for the rejects file. */
  raw?: string;
  /** A CSV row's values beyond its header's columns (a ragged row), kept for the reject. */
  extra?: readonly string[];
  /**
   * A CSV file's header, announced before its rows (with no values), so that a header
   * without an email column is an error even when no data row follows. Not a data row.
   */
  header?: true;
}

/**
 * Header arrays produced by the CSV parser. A CSV row's columns are its file's header (so a
 * missing email column is an input error); NDJSON rows carry their own keys.
 */
export const csvHeaders: WeakSet<readonly string[]> = new WeakSet();
