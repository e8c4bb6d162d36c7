// Command-line handling shared by postmap(1) and postalias(1): POSIX getopt
// semantics (clustered flags, `-qkey` or `-q key`), the configuration
// directory (-c, then $MAIL_CONFIG, then /etc/postfix) and stdin reading.
import { Config, loadConfig } from '../../global/params/config.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ParsedArgs {
  readonly flags: Set<string>;
  readonly values: Map<string, string>;
  readonly operands: string[];
}

/** getopt(3): `spec` like "Nbc:d:fhimnopq:rsuvwx"; a letter followed by ':' takes an argument. */
export function getopt(argv: readonly string[], spec: string): ParsedArgs {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    for (let j = 1; j < a.length; j++) {
      const letter = a[j] ?? '';
      const at = spec.indexOf(letter);
      if (at < 0 || letter === ':') throw new UsageError(`invalid option -- '${letter}'`);
      if (spec[at + 1] === ':') {
        let v = a.slice(j + 1);
        if (v === '') {
          i++;
          if (i >= argv.length) throw new UsageError(`option requires an argument -- '${letter}'`);
          v = argv[i] ?? '';
        }
        values.set(letter, v);
        break;
      }
      flags.add(letter);
    }
  }
  return { flags, values, operands: argv.slice(i) };
}

/** main.cf from -c, $MAIL_CONFIG or /etc/postfix; registry defaults when there is none. */
export function commandConfig(dir: string | undefined): Config {
  const d = dir ?? process.env.MAIL_CONFIG ?? '/etc/postfix';
  try {
    return loadConfig(d);
  } catch (e) {
    // An explicitly named directory must exist; the default one may be absent
    // on a machine where only the tools are used.
    if (dir !== undefined) throw e;
    return Config.fromText('', 'defaults').withOverrides({ config_directory: d });
  }
}

/** Longest standard input accepted by the query and update modes. */
export const MAX_STDIN = 256 * 1024 * 1024;

export async function readStdin(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    total += b.length;
    if (total > MAX_STDIN) throw new UsageError(`standard input exceeds ${MAX_STDIN} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Input lines without line ends; a final newline does not make an empty line. */
export function inputLines(text: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
