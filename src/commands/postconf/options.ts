// postconf(1) command-line parsing: POSIX getopt rules (combined flags, option
// arguments attached or separate, first non-option ends the options), with
// Postfix's usage text on a bad option.

export interface PostconfOptions {
  readonly flags: ReadonlySet<string>;
  readonly configDir: string | undefined;
  /** `-o name=value` overrides, in order. */
  readonly overrides: readonly string[];
  /** `-T mode`. */
  readonly tlsMode: string | undefined;
  readonly args: readonly string[];
}

const WITH_ARG = new Set(['c', 'o', 'T']);
const FLAGS = new Set('aAbdefFhHlmMnpPtvxX#'.split(''));

export const USAGE =
  '[-a (server SASL types)] [-A (client SASL types)] [-b (bounce templates)] [-c config_dir] ' +
  '[-c param_class] [-d (parameter defaults)] [-e (edit configuration)] [-f (fold lines)] ' +
  '[-F (master.cf fields)] [-h (no names)] [-H (no values)] [-l (lock types)] [-m (map types)] ' +
  '[-M (master.cf)] [-n (non-default parameters)] [-o name=value (override parameter value)] ' +
  '[-p (main.cf, default)] [-P (master.cf parameters)] [-t (bounce templates)] ' +
  '[-T compile-version|run-version|public-key-algorithms] [-v (verbose)] [-x (expand parameter values)] ' +
  '[-X (exclude)] [-# (comment-out)] [name...]';

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseOptions(argv: readonly string[]): PostconfOptions {
  const flags = new Set<string>();
  const overrides: string[] = [];
  let configDir: string | undefined;
  let tlsMode: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    for (let k = 1; k < a.length; k++) {
      const f = a[k] ?? '';
      if (WITH_ARG.has(f)) {
        let v = a.slice(k + 1);
        if (v === '') {
          if (i + 1 >= argv.length) throw new UsageError(`option requires an argument -- '${f}'`);
          v = argv[++i] ?? '';
        }
        if (f === 'c') configDir = v;
        else if (f === 'o') overrides.push(v);
        else {
          flags.add(f);
          tlsMode = v;
        }
        break;
      }
      if (!FLAGS.has(f)) throw new UsageError(`invalid option -- '${f}'`);
      flags.add(f);
    }
  }
  return { flags, configDir, overrides, tlsMode, args: argv.slice(i) };
}
