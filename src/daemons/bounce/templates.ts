// The templates one bounce(8) instance uses: bounce_template_file (read once,
// at the first notice after start or reload) over the built-in ones, each
// expanded once. Every problem is logged as a warning naming the file and
// line, and the affected notice falls back to its built-in text: a broken
// template file must never stop a bounce.
import type { Logger } from '../../global/log/logger.js';
import type { ParamReader } from '../../global/params/types.js';
import { BUILTIN_TEMPLATES, type BounceTemplate, type TemplateName } from './notice-text.js';
import { expandTemplateText } from './template-expand.js';
import { readTemplateFile, TemplateFileError, withBuiltins } from './template-file.js';

/** A template ready to write into a notice. */
export interface NoticeTemplate {
  readonly charset: string;
  readonly from: string;
  readonly subject: string;
  readonly postmasterSubject: string;
  readonly lines: readonly string[];
}

export interface TemplateSet {
  get(name: TemplateName): Promise<NoticeTemplate>;
}

export function createTemplateSet(config: ParamReader, logger: Logger): TemplateSet {
  let loaded: Promise<Record<TemplateName, BounceTemplate>> | undefined;
  const expanded = new Map<TemplateName, NoticeTemplate>();

  async function load(): Promise<Record<TemplateName, BounceTemplate>> {
    const file = config.get('bounce_template_file').trim();
    if (file === '') return { ...BUILTIN_TEMPLATES };
    try {
      const parsed = await readTemplateFile(file);
      for (const w of parsed.warnings) logger.warning(w);
      return withBuiltins(parsed.templates);
    } catch (e) {
      if (!(e instanceof TemplateFileError)) throw e;
      logger.warning(`${e.message} -- using the built-in bounce templates`);
      return { ...BUILTIN_TEMPLATES };
    }
  }

  function ready(t: BounceTemplate): NoticeTemplate {
    const file = config.get('bounce_template_file').trim() || 'built-in';
    let lines: readonly string[];
    try {
      const r = expandTemplateText(t, config, file);
      for (const w of r.warnings) logger.warning(w);
      lines = r.lines;
    } catch (e) {
      if (t !== BUILTIN_TEMPLATES[t.name]) {
        logger.warning(`${(e as Error).message} -- using the built-in ${t.name} template`);
        return ready(BUILTIN_TEMPLATES[t.name]);
      }
      // Only a broken main.cf value (say, delay_warning_time) can get here: send the text unexpanded.
      logger.warning(`${(e as Error).message} -- sending the ${t.name} text unexpanded`);
      lines = t.body;
    }
    return {
      charset: t.charset,
      from: t.from,
      subject: t.subject,
      postmasterSubject: t.postmasterSubject ?? t.subject,
      lines,
    };
  }

  return {
    async get(name) {
      const done = expanded.get(name);
      if (done) return done;
      loaded ??= load();
      const t = ready((await loaded)[name]);
      expanded.set(name, t);
      return t;
    },
  };
}
