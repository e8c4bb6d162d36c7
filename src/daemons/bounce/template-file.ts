// Reads a bounce_template_file (bounce(5)): `name = <<WORD` ... `WORD`
// blocks, each with optional header lines (Charset:, From:, Subject:,
// Postmaster-Subject:), then the message text. A block with a problem is
// reported (file and line) and left out, so the built-in template for that
// notice stays in force; only a broken file structure fails the whole file.
import { open } from 'node:fs/promises';
import {
  BUILTIN_TEMPLATES,
  hasPostmasterCopy,
  TEMPLATE_NAMES,
  type BounceTemplate,
  type TemplateName,
} from './notice-text.js';

/** Far above any real template file. */
export const MAX_TEMPLATE_FILE_BYTES = 1024 * 1024;
/** Template text lines must fit in a mail line (RFC 5322: 998 octets) with room to spare. */
const MAX_TEXT_LINE = 990;

/** The file cannot be used at all (unreadable, or a line outside any template that is not `name = <<WORD`). */
export class TemplateFileError extends Error {
  override name = 'TemplateFileError';
}

export interface ParsedTemplates {
  /** Templates the file defines and that passed every check (later definitions win). */
  readonly templates: Partial<Record<TemplateName, BounceTemplate>>;
  /** One text per problem; each names the file and, where it has one, the line. */
  readonly warnings: readonly string[];
}

const HEADER_LINE = /^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*?)[ \t]*$/;
const CHARSET = /^[A-Za-z0-9!#$%&'*+^_`{|}~.-]+$/;
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x01-\x7f]*$/;

/** Parse template file text; `file` is only for messages. */
export function parseTemplateFile(text: string, file: string): ParsedTemplates {
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  const templates: Partial<Record<TemplateName, BounceTemplate>> = {};
  const warnings: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    const lineNo = i + 1;
    i++;
    if (/^\s*(#|$)/.test(line)) continue;
    const m = /^\s*([^=\s]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) throw new TemplateFileError(`${file}, line ${lineNo}: missing '=' after template name: "${line}"`);
    const [, key = '', value = ''] = m;
    const here = /^<<\s*(\S+)$/.exec(value);
    if (!here) {
      warnings.push(
        `${file}, line ${lineNo}: ${key}: expected "<<WORD" to start the template text -- ignoring this line`,
      );
      continue;
    }
    const marker = here[1] ?? 'EOF';
    const start = i;
    while (i < lines.length && lines[i] !== marker) i++;
    if (i >= lines.length) {
      warnings.push(
        `${file}, line ${lines.length + 1}: missing "${marker}" end marker for ${key} (started on line ${lineNo}) -- ignoring this template`,
      );
      break;
    }
    const block = lines.slice(start, i);
    i++;
    const name = /^(failure|delay|success|verify)_template$/.exec(key)?.[1] as TemplateName | undefined;
    if (!name) {
      warnings.push(`${file}, line ${lineNo}: unknown template name: ${key} -- ignoring this template`);
      continue;
    }
    const t = parseBlock(name, block, start + 1, file);
    if (typeof t === 'string') warnings.push(t);
    else templates[name] = t;
  }
  return { templates, warnings };
}

/** One template's lines (between the markers); `firstLine` is the file line of block[0]. A string is the reason it was refused. */
function parseBlock(
  name: TemplateName,
  block: readonly string[],
  firstLine: number,
  file: string,
): BounceTemplate | string {
  const where = (k: number): string => `${file}, line ${firstLine + k}`;
  const base = BUILTIN_TEMPLATES[name];
  let charset = base.charset;
  let from = base.from;
  let subject = base.subject;
  let postmasterSubject = base.postmasterSubject;
  let k = 0;
  for (; k < block.length; k++) {
    const h = HEADER_LINE.exec(block[k] ?? '');
    if (!h) break;
    const [, label = '', value = ''] = h;
    const bad = (why: string): string => `${where(k)}: ${why} in ${name} template -- ignoring this template`;
    if (!ASCII.test(value)) return bad(`non-ASCII "${label}" header value`);
    switch (label.toLowerCase()) {
      case 'charset':
        if (!CHARSET.test(value)) return bad(`bad Charset value "${value}"`);
        charset = value;
        break;
      case 'from':
        from = value;
        break;
      case 'subject':
        subject = value;
        break;
      case 'postmaster-subject':
        if (!hasPostmasterCopy(name)) return bad('inapplicable "Postmaster-Subject" header label');
        postmasterSubject = value;
        break;
      default:
        return bad(`unknown "${label}" header label`);
    }
  }
  // The empty line that ends the headers is not part of the text.
  if (k > 0 && block[k] === '') k++;
  const body = block.slice(k);
  if (body.length === 0) return `${where(k)}: missing message text in ${name} template -- ignoring this template`;
  for (let j = 0; j < body.length; j++) {
    const line = body[j] ?? '';
    if (Buffer.byteLength(line) > MAX_TEXT_LINE) {
      return `${where(k + j)}: text line longer than ${MAX_TEXT_LINE} bytes in ${name} template -- ignoring this template`;
    }
    if (line.includes('\0')) return `${where(k + j)}: NUL character in ${name} template -- ignoring this template`;
    if (!ASCII.test(line) && charset.toLowerCase() === 'us-ascii') {
      return (
        `${where(k + j)}: 8-bit message text in ${name} template; ` +
        'please specify a charset value other than us-ascii -- ignoring this template'
      );
    }
  }
  return {
    name,
    charset,
    from,
    subject,
    ...(postmasterSubject !== undefined ? { postmasterSubject } : {}),
    body,
  };
}

/** Read and parse `file`; an unreadable or oversized file is a TemplateFileError. */
export async function readTemplateFile(file: string): Promise<ParsedTemplates> {
  let text: string;
  try {
    const fh = await open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      if (size > MAX_TEMPLATE_FILE_BYTES) {
        throw new TemplateFileError(`${file}: file too large (${size} bytes, limit ${MAX_TEMPLATE_FILE_BYTES})`);
      }
      text = (await fh.readFile()).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof TemplateFileError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new TemplateFileError(`open ${file}: ${err.code === 'ENOENT' ? 'No such file or directory' : err.message}`);
  }
  return parseTemplateFile(text, file);
}

/** The file's templates over the built-in ones. */
export function withBuiltins(
  parsed: Partial<Record<TemplateName, BounceTemplate>>,
): Record<TemplateName, BounceTemplate> {
  const out = { ...BUILTIN_TEMPLATES };
  for (const n of TEMPLATE_NAMES) {
    const t = parsed[n];
    if (t) out[n] = t;
  }
  return out;
}
