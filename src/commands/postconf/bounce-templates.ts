// postconf -t [file] and -b [file] (bounce(5)): print the bounce templates
// raw (header lines, empty line, text, as a template file holds them) or
// their message text with `$name` expanded, the way bounce(8) would send it.
// The file is the argument, else bounce_template_file, else the built-in
// templates alone; templates the file does not define come from the built-in set.
import { readConfigFile, errnoText } from '../../global/params/read-config-file.js';
import type { ParamReader } from '../../global/params/types.js';
import { hasPostmasterCopy, TEMPLATE_NAMES, type BounceTemplate } from '../../daemons/bounce/notice-text.js';
import { expandTemplateText } from '../../daemons/bounce/template-expand.js';
import {
  MAX_TEMPLATE_FILE_BYTES,
  parseTemplateFile,
  TemplateFileError,
  withBuiltins,
} from '../../daemons/bounce/template-file.js';

function rawTemplate(t: BounceTemplate): string[] {
  return [
    `${t.name}_template = <<EOF`,
    `Charset: ${t.charset}`,
    `From: ${t.from}`,
    `Subject: ${t.subject}`,
    ...(hasPostmasterCopy(t.name) && t.postmasterSubject !== undefined
      ? [`Postmaster-Subject: ${t.postmasterSubject}`]
      : []),
    '',
    ...t.body,
    'EOF',
  ];
}

/**
 * Lines to print for `-t` (`expand` false) or `-b` (true). Problems in the
 * file are passed to `warn`; an unreadable file or a failed expansion throws
 * (TemplateFileError / TemplateExpandError) and postconf exits 1.
 */
export function templateLines(
  config: ParamReader,
  fileArg: string | undefined,
  expand: boolean,
  warn: (m: string) => void,
): string[] {
  const file = fileArg ?? (config.get('bounce_template_file').trim() || undefined);
  let templates = withBuiltins({});
  if (file !== undefined) {
    let text: string;
    try {
      text = readConfigFile(file, MAX_TEMPLATE_FILE_BYTES);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TemplateFileError(code === 'EFBIG' ? (e as Error).message : `open ${file}: ${errnoText(e)}`);
    }
    const parsed = parseTemplateFile(text, file);
    parsed.warnings.forEach(warn);
    templates = withBuiltins(parsed.templates);
  }
  const out: string[] = [];
  for (const name of TEMPLATE_NAMES) {
    const t = templates[name];
    if (out.length > 0) out.push('');
    if (!expand) {
      out.push(...rawTemplate(t));
      continue;
    }
    const r = expandTemplateText(t, config, file ?? 'built-in');
    r.warnings.forEach(warn);
    out.push(`expanded_${name}_text = <<EOF`, ...r.lines, 'EOF');
  }
  return out;
}
