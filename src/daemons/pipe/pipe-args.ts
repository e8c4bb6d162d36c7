// pipe(8) master.cf attributes: `flags=`, `user=name[:group]`, `size=`,
// `eol=`, `null_sender=`, `directory=` and `argv=` (everything after it is
// the command). Parsed once per service; errors name the attribute, as
// Postfix's "pipe: ..." fatal messages do.

export interface PipeArgs {
  readonly flags: ReadonlySet<string>;
  readonly user: string;
  readonly group?: string;
  readonly sizeLimit?: number;
  readonly eol: string;
  readonly nullSender: string;
  readonly directory?: string;
  readonly argv: readonly string[];
}

export class PipeConfigError extends Error {
  override name = 'PipeConfigError';
}

const KNOWN_FLAGS = 'BDFORXhqu.>';

/** `\r\n` style escapes in eol=. */
function unescape(v: string): string {
  return v.replace(/\\([rnt\\])/g, (_m, c: string) => ({ r: '\r', n: '\n', t: '\t', '\\': '\\' })[c] ?? c);
}

export function parsePipeArgs(args: readonly string[]): PipeArgs {
  let flags = new Set<string>();
  let user: string | undefined;
  let group: string | undefined;
  let sizeLimit: number | undefined;
  let eol = '\n';
  let nullSender = 'MAILER-DAEMON';
  let directory: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const eq = a.indexOf('=');
    const name = eq < 0 ? a : a.slice(0, eq);
    const value = eq < 0 ? '' : a.slice(eq + 1);
    switch (name) {
      case 'argv': {
        const argv = [value, ...args.slice(i + 1)].filter((x, j) => j > 0 || x !== '');
        if (argv.length === 0) throw new PipeConfigError('pipe: missing argv= command');
        return { flags, user: need(user), group, sizeLimit, eol, nullSender, directory, argv };
      }
      case 'flags':
        for (const f of value) {
          if (!KNOWN_FLAGS.includes(f)) throw new PipeConfigError(`pipe: unknown flag: ${f}`);
        }
        flags = new Set(value);
        break;
      case 'user': {
        const colon = value.indexOf(':');
        user = colon < 0 ? value : value.slice(0, colon);
        group = colon < 0 ? undefined : value.slice(colon + 1);
        if (!user) throw new PipeConfigError('pipe: user= requires a user name');
        break;
      }
      case 'size':
        if (!/^\d+$/.test(value)) throw new PipeConfigError(`pipe: bad size= value: ${value}`);
        sizeLimit = Number(value);
        break;
      case 'eol':
        eol = unescape(value);
        break;
      case 'null_sender':
        nullSender = value;
        break;
      case 'directory':
        directory = value;
        break;
      default:
        throw new PipeConfigError(`pipe: unknown attribute name: ${name}`);
    }
  }
  throw new PipeConfigError('pipe: missing argv= command');
}

function need(user: string | undefined): string {
  if (!user) throw new PipeConfigError('pipe: missing user= command-line attribute');
  return user;
}
