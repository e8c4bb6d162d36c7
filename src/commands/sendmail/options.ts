// sendmail(1) command line, Postfix flavour: the Sendmail options that Postfix
// accepts, with their meaning in Postfix (many are accepted and ignored for
// compatibility). Parsing is by hand because Sendmail's syntax does not fit
// getopt: `-q` takes an optional attached argument, `-oXXX` and `-bX` carry a
// letter, and `-r` is an alias of `-f`.
import { dirname } from 'node:path';
import { statSync } from 'node:fs';
import { CommandFailure, EX_USAGE } from './sysexits.js';
import type { DsnNotify } from '../../global/queue/cleanup-api.js';

export type SendmailMode =
  | 'enqueue' // -bm (default): read a message and drop it into maildrop
  | 'mailq' // -bp, or the command name mailq
  | 'newaliases' // -bi, -I, or the command name newaliases
  | 'daemon' // -bd / -bl: start the mail system
  | 'flush' // -q without -bd
  | 'smtp' // -bs: SMTP on stdin/stdout
  | 'verify'; // -bv

export interface SendmailOptions {
  mode: SendmailMode;
  configDir?: string;
  sender?: string;
  fullName?: string;
  /** -t */
  extractRecipients: boolean;
  /** -i / -oi: a line with a lone dot does not end the message. */
  ignoreDots: boolean;
  notify?: DsnNotify[];
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  body?: '7BIT' | '8BITMIME';
  /** -qRsite */
  flushSite?: string;
  /** -qIqueueid */
  flushQueueId?: string;
  verbose: number;
  recipients: string[];
}

/** Options that take an argument (attached or as the next word). */
const WITH_ARG = new Set(['B', 'C', 'F', 'L', 'N', 'O', 'R', 'V', 'X', 'b', 'e', 'f', 'h', 'o', 'p', 'r']);
/** Flags accepted (some ignored, as Postfix ignores them). */
const FLAGS = new Set(['G', 'I', 'U', 'c', 'i', 'm', 'n', 't', 'v', 'x']);

function usage(text: string): never {
  throw new CommandFailure(text, EX_USAGE);
}

/** `-C` names main.cf or its directory. */
function configDirFrom(value: string): string {
  try {
    if (statSync(value).isFile()) return dirname(value);
  } catch {
    // A missing path: let loading the configuration report it.
  }
  return value;
}

function parseNotify(value: string): DsnNotify[] {
  const words = value
    .split(',')
    .map((w) => w.trim().toUpperCase())
    .filter((w) => w !== '');
  const ok = new Set(['NEVER', 'SUCCESS', 'FAILURE', 'DELAY']);
  if (words.length === 0 || words.some((w) => !ok.has(w)) || (words.includes('NEVER') && words.length > 1)) {
    usage(`bad -N option value: ${value}`);
  }
  return words as DsnNotify[];
}

/** Strip one pair of angle brackets, as a MUA may pass `-f <addr>`. */
export function bareAddress(value: string): string {
  const t = value.trim();
  return t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1) : t;
}

/** A command-line recipient may be a comma-separated list (quotes and <> protect commas). */
export function splitAddressList(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let angle = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c === '\\' && quoted) {
      cur += c + (text[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '<') angle++;
    else if (!quoted && c === '>' && angle > 0) angle--;
    if (c === ',' && !quoted && angle === 0) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out.map((a) => bareAddress(a.replace(/^.*<([^<>]*)>\s*$/s, '<$1>'))).filter((a) => a !== '');
}

export function parseSendmailArgs(argv: readonly string[], progName: string): SendmailOptions {
  const o: SendmailOptions = {
    mode: 'enqueue',
    extractRecipients: false,
    ignoreDots: false,
    verbose: 0,
    recipients: [],
  };
  if (progName === 'mailq') o.mode = 'mailq';
  if (progName === 'newaliases') o.mode = 'newaliases';
  let qSeen = false;
  let daemon = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j] ?? '';
      if (letter === 'q') {
        // -q, -q<interval>, -qR<site>, -qS<site>, -qI<queueid>: argument attached only.
        qSeen = true;
        const rest = arg.slice(j + 1);
        if (rest.startsWith('R')) o.flushSite = rest.slice(1) || usage('-qR requires a site name');
        else if (rest.startsWith('I')) o.flushQueueId = rest.slice(1) || usage('-qI requires a queue ID');
        else if (rest.startsWith('S')) usage('-qS is not implemented');
        break;
      }
      if (FLAGS.has(letter)) {
        if (letter === 'i') o.ignoreDots = true;
        else if (letter === 't') o.extractRecipients = true;
        else if (letter === 'v') o.verbose++;
        else if (letter === 'I') o.mode = 'newaliases';
        continue;
      }
      if (!WITH_ARG.has(letter)) usage(`invalid option -- '${letter}'`);
      let value = arg.slice(j + 1);
      if (value === '') {
        i++;
        if (i >= argv.length) usage(`option requires an argument -- '${letter}'`);
        value = argv[i] ?? '';
      }
      applyValue(o, letter, value, (d) => (daemon = d));
      break;
    }
  }
  if (qSeen) {
    // -q with -bd is the queue run interval of a daemon; otherwise it asks for a queue run now.
    if (!daemon) o.mode = 'flush';
  }
  for (const operand of argv.slice(i)) o.recipients.push(...splitAddressList(operand));
  return o;
}

function applyValue(o: SendmailOptions, letter: string, value: string, setDaemon: (d: boolean) => void): void {
  switch (letter) {
    case 'B': {
      const b = value.toUpperCase();
      if (b !== '7BIT' && b !== '8BITMIME') usage(`-B option needs 8BITMIME or 7BIT`);
      o.body = b;
      return;
    }
    case 'C':
      o.configDir = configDirFrom(value);
      return;
    case 'F':
      o.fullName = value;
      return;
    case 'N':
      o.notify = parseNotify(value);
      return;
    case 'R': {
      const r = value.toUpperCase();
      if (r !== 'FULL' && r !== 'HDRS') usage(`-R option needs FULL or HDRS`);
      o.ret = r;
      return;
    }
    case 'V':
      // Postfix 2.3+: -V is the DSN envelope ID (VERP is -XV).
      o.envid = value;
      return;
    case 'f':
    case 'r':
      o.sender = bareAddress(value);
      return;
    case 'o':
      // -oi is -i; -o7, -o8, -om, -oA..., -oX... are accepted and ignored.
      if (value === 'i') o.ignoreDots = true;
      return;
    case 'b':
      applyMode(o, value, setDaemon);
      return;
    default:
      // -L label, -O option=value, -X logfile/-XV, -e, -h hops, -p protocol: accepted, ignored.
      return;
  }
}

function applyMode(o: SendmailOptions, value: string, setDaemon: (d: boolean) => void): void {
  switch (value[0]) {
    case 'm':
      o.mode = 'enqueue';
      return;
    case 'p':
      o.mode = 'mailq';
      return;
    case 'i':
      o.mode = 'newaliases';
      return;
    case 'd':
    case 'l':
      o.mode = 'daemon';
      setDaemon(true);
      return;
    case 's':
      o.mode = 'smtp';
      return;
    case 'v':
      o.mode = 'verify';
      return;
    default:
      usage(`unsupported: -b${value}`);
  }
}
