// POSIX getopt(3) for the commands: Postfix's commands take single-letter
// options that may be bundled (`-vv`) and whose arguments may be attached
// (`-cDIR`) or separate (`-c DIR`); option parsing stops at `--` or the first
// operand.

export interface ParsedOptions {
  /** Options in the order given; flags have value ''. */
  readonly options: { readonly flag: string; readonly value: string }[];
  readonly operands: string[];
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** `spec` lists letters; a letter followed by `:` takes an argument. */
export function getopt(argv: readonly string[], spec: string): ParsedOptions {
  const options: { flag: string; value: string }[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j] ?? '';
      const at = spec.indexOf(flag);
      if (at < 0 || flag === ':') throw new UsageError(`invalid option -- '${flag}'`);
      if (spec[at + 1] === ':') {
        let value = arg.slice(j + 1);
        if (!value) {
          i++;
          if (i >= argv.length) throw new UsageError(`option requires an argument -- '${flag}'`);
          value = argv[i] ?? '';
        }
        options.push({ flag, value });
        break;
      }
      options.push({ flag, value: '' });
    }
  }
  return { options, operands: argv.slice(i) };
}
