// The parsed form of one master.cf service entry (master(5)). The parser lives
// beside this file; master/ starts services from these entries and postconf
// prints and edits them (-M, -F, -P).

export type ServiceType = 'inet' | 'unix' | 'unix-dgram' | 'fifo' | 'pass';

export interface MasterEntry {
  /** Service name as written: `smtp`, `127.0.0.1:2525`, `[::1]:smtp`, `submission`, `cleanup`. */
  readonly name: string;
  readonly type: ServiceType;
  /** Column values as written (`-` means default); the resolved flags below apply the defaults. */
  readonly columns: readonly [string, string, string, string, string];
  readonly private: boolean;
  readonly unpriv: boolean;
  readonly chroot: boolean;
  /** Seconds between wake-up triggers; 0 = never. */
  readonly wakeup: number;
  /** `?` after the wakeup time: only wake when the service is in use. */
  readonly wakeupConditional: boolean;
  /** 0 = unlimited. */
  readonly maxproc: number;
  /** Command name (e.g. `smtpd`, `pipe`) and its arguments, with `-o` pairs removed into `overrides`. */
  readonly command: string;
  readonly args: readonly string[];
  /** `-o name=value` overrides in order (last wins), incl. `-o { name = value with spaces }`. */
  readonly overrides: ReadonlyMap<string, string>;
  /**
   * Every argument after the command in order, `-o` pairs included and
   * normalised (`-o`, `name=value`), braces removed: what postconf -M prints.
   */
  readonly argv?: readonly string[];
  /** 1-based line where the entry starts, for messages naming file and line. */
  readonly line: number;
}
