// `postmap -h` / `-b` with `-q -`: standard input is a message; each header
// (with its continuation lines, joined by newlines) or each body line becomes
// one lookup key, so header_checks and body_checks can be tried offline.
import { inputLines } from './options.js';

export function messageKeys(text: string, headers: boolean, body: boolean): string[] {
  const lines = inputLines(text);
  const keys: string[] = [];
  let i = 0;
  let cur: string | undefined;
  for (; i < lines.length; i++) {
    const line = lines[i] ?? '';
    // The blank separator line is itself the first body line, as body_checks sees it.
    if (line === '') break;
    if (/^[ \t]/.test(line) && cur !== undefined) {
      cur += `\n${line}`;
      continue;
    }
    if (cur !== undefined && headers) keys.push(cur);
    cur = line;
  }
  if (cur !== undefined && headers) keys.push(cur);
  if (body) for (; i < lines.length; i++) keys.push(lines[i] ?? '');
  return keys;
}
