// The lookup-table (dict) interface every Postfix feature reads through:
// `type:name` opens a table; `lookup` answers a key or says there is none.
// Temporary failures are thrown as DictRetryError so callers can defer (4.3.0).

export class DictRetryError extends Error {
  override name = 'DictRetryError';
}

export interface Dict {
  /** `type:name` as written in the configuration. */
  readonly spec: string;
  /** The value, or `undefined` when the key is not found. Keys are matched as the table type folds them. */
  lookup(key: string): Promise<string | undefined>;
  close(): Promise<void>;
  /** Every entry in storage order (`postmap -s`); absent for tables that cannot be listed. */
  sequence?(): AsyncIterable<[string, string]>;
}
