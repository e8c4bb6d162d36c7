// Parser for main.cf (postconf(5) syntax): `name = value` lines, `#` comments
// on their own line, continuation lines that start with whitespace, no quoting.
// Keeps line numbers so errors and warnings can name file and line.

export interface MainCfEntry {
  readonly name: string;
  readonly value: string;
  /** 1-based line where the entry starts. */
  readonly line: number;
}

export interface MainCfProblem {
  readonly line: number;
  readonly message: string;
  /** Fatal problems stop Postfix (and Postern); the others are logged as warnings. */
  readonly fatal: boolean;
}

export interface ParsedMainCf {
  readonly entries: MainCfEntry[];
  readonly problems: MainCfProblem[];
}

export function parseMainCf(text: string): ParsedMainCf {
  const entries: MainCfEntry[] = [];
  const problems: MainCfProblem[] = [];
  const lines = text.split('\n');
  let current: { text: string; line: number } | undefined;

  const finish = (): void => {
    if (!current) return;
    const { text: logical, line } = current;
    current = undefined;
    // The name is the first word; `=` must follow it (whitespace allowed around it).
    const m = /^(\S*?)\s*=/.exec(logical);
    if (logical.startsWith('=')) {
      problems.push({ line, message: `missing attribute name: "${logical.trim()}"`, fatal: true });
      return;
    }
    if (!m || /\s/.test(m[1] ?? '')) {
      problems.push({ line, message: `missing '=' after attribute name: "${logical.trim()}"`, fatal: true });
      return;
    }
    const name = m[1] ?? '';
    entries.push({ name, value: logical.slice(m[0].length).trim(), line });
  };

  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const l = raw.replace(/\r$/, '');
    if (/^\s*#/.test(l) || /^\s*$/.test(l)) {
      // A comment or blank line ends nothing: Postfix lets continuations resume after it.
      return;
    }
    if (/^\s/.test(l)) {
      // Postfix joins a continuation line as written, leading whitespace included.
      if (current) current.text += l;
      else
        problems.push({ line: lineNo, message: `logical line must not start with whitespace: "${l}"`, fatal: false });
      return;
    }
    finish();
    current = { text: l, line: lineNo };
  });
  finish();
  return { entries, problems };
}
