// Types shared by the parameter registry and every reader of configuration.
// Parameter names stay snake_case exactly as postconf(5) spells them.

export type ParamType = 'string' | 'bool' | 'int' | 'size' | 'time' | 'list';

/** Where a default comes from when it is not a constant text. */
/** host: computed on this machine; build: fixed at install time; postern: a Postern-only parameter. */
export type ParamOrigin = 'host' | 'build' | 'postern';

export interface ParamSpec {
  readonly name: string;
  /** Default as Postfix's `postconf -d` prints it: unexpanded text. */
  readonly def: string;
  readonly type: ParamType;
  /** The daemon or command that owns the parameter (for docs and `postconf` grouping). */
  readonly component: string;
  readonly origin?: ParamOrigin;
}

/**
 * Read access to the effective configuration of one process or service:
 * main.cf over the registry defaults, plus any master.cf `-o` overrides.
 * Every accessor returns the fully `$name`-expanded value.
 */
export interface ParamReader {
  /** Expanded text value; registry default when main.cf does not set it; '' for an unknown name. */
  get(name: string): string;
  /** Whether main.cf (or an override) sets the name explicitly. */
  isSet(name: string): boolean;
  bool(name: string): boolean;
  int(name: string): number;
  /** Bytes. */
  size(name: string): number;
  /** Seconds; a bare number takes the parameter's default unit (usually seconds). */
  time(name: string): number;
  /** Split on commas and whitespace, empty items dropped; `{ ... }` groups kept whole. */
  list(name: string): string[];
  /** A reader with master.cf `-o name=value` overrides layered on top. */
  withOverrides(overrides: ReadonlyMap<string, string> | Record<string, string>): ParamReader;
}
