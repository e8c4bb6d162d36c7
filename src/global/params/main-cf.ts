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
}

export interface ParsedMainCf {
  readonly entries: MainCfEntry[];
  readonly problems: MainCfProblem[];
}

const NAME = /^[A-Za-z0-9_.-]+$/;

export function parseMainCf(text: string): ParsedMainCf {
  const entries: MainCfEntry[] = [];
  const problems: MainCfProblem[] = [];
  const lines = text.split('\n');
  let current: { text: string; line: number } | undefined;

  const finish = (): void => {
    if (!current) return;
    const { text: logical, line } = current;
    current = undefined;
    const eq = logical.indexOf('=');
    if (eq < 0) {
      problems.push({ line, message: `missing '=' after attribute name: "${logical.trim()}"` });
      return;
    }
    const name = logical.slice(0, eq).trim();
    if (!NAME.test(name)) {
      problems.push({ line, message: `missing attribute name in "${logical.trim()}"` });
      return;
    }
    entries.push({ name, value: logical.slice(eq + 1).trim(), line });
  };

  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const l = raw.replace(/\r$/, '');
    if (/^\s*#/.test(l) || /^\s*$/.test(l)) {
      // A comment or blank line ends nothing: Postfix lets continuations resume after it.
      return;
    }
    if (/^\s/.test(l)) {
      if (current) current.text += ' ' + l.trim();
      else problems.push({ line: lineNo, message: 'logical line must not start with whitespace' });
      return;
    }
    finish();
    current = { text: l, line: lineNo };
  });
  finish();
  return { entries, problems };
}
