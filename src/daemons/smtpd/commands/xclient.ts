// XCLIENT and XFORWARD (Postfix's XCLIENT_README and XFORWARD_README): an
// authorised proxy or content filter tells smtpd who the real client was.
// XCLIENT replaces the session's client identity and restarts the session
// with a new greeting; XFORWARD records attributes for the next transaction
// only (the `client=` log line and the queue file's client attributes).
// Values are xtext (raw text from pre-2.3 clients is taken as is); the
// checks, their order and the reply texts are Postfix's.
import { isIP } from 'node:net';
import { decodeXtext } from '../../../util/xtext.js';
import type { Session } from '../session.js';
import type { SmtpdCommand } from '../types.js';

const MAX_VALUE = 255;
/** Characters that could break a header or log line are masked, as Postfix's neuter() does. */
const NEUTER = /[ <>()\\";@]/g;
const HOSTNAME =
  /^(?=.{1,255}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

interface Attr {
  readonly name: string;
  readonly value: string;
}

/** Sanity checks shared by both commands, then the decoded `NAME=value` pairs; false after an error reply. */
function parseAttrs(s: Session, verb: string, args: string, allowed: boolean): Attr[] | false {
  if (s.tx) {
    s.reply(503, '5.5.1', 'Error: MAIL transaction in progress');
    return false;
  }
  if (args === '') {
    s.reply(501, '5.5.4', `Syntax: ${verb} attribute=value...`);
    return false;
  }
  if (!allowed) {
    s.reply(550, '5.7.0', 'Error: insufficient authorization');
    return false;
  }
  const out: Attr[] = [];
  for (const item of args.split(/[ \t]+/)) {
    const eq = item.indexOf('=');
    if (eq < 0 || eq === item.length - 1) {
      s.reply(501, '5.5.4', 'Error: attribute=value expected');
      return false;
    }
    const raw = item.slice(eq + 1);
    if (raw.length > MAX_VALUE) {
      s.reply(501, '5.5.4', 'Error: attribute value too long');
      return false;
    }
    // Non-printable bytes are masked before any other check.
    const value = (decodeXtext(raw) ?? raw).replace(/[^\x20-\x7e]/g, '?');
    out.push({ name: item.slice(0, eq).toUpperCase(), value });
  }
  return out;
}

function unavailable(v: string): boolean {
  const u = v.toUpperCase();
  return u === '[UNAVAILABLE]' || u === '[TEMPUNAVAIL]';
}

/** An address as valid_mailhost_addr() takes it: IPv4, or IPv6 with or without the `IPv6:` prefix. */
function bareAddress(v: string): string | undefined {
  const bare = v.replace(/^IPv6:/i, '');
  const kind = isIP(bare);
  if (kind === 0 || (kind === 4 && bare !== v)) return undefined;
  return bare.toLowerCase();
}

const PORT = /^\d{1,5}$/;

function bad(s: Session, name: string, value: string): false {
  s.reply(501, '5.5.4', `Bad ${name} syntax: ${value}`);
  return false;
}

async function xclient(s: Session, args: string): Promise<boolean> {
  const attrs = parseAttrs(s, 'XCLIENT', args, s.xclientAllowed);
  if (!attrs) return false;
  // Validate everything first, so that a bad attribute leaves the session unchanged.
  const next = { ...s.client };
  const server = { ...s.server };
  let helo: string | undefined | null = null;
  let proto: string | undefined;
  let login: string | undefined | null = null;
  for (const { name, value } of attrs) {
    switch (name) {
      case 'NAME':
      case 'REVERSE_NAME': {
        const known = !unavailable(value);
        if (known && !HOSTNAME.test(value)) return bad(s, name, value);
        const v = known ? value : 'unknown';
        if (name === 'NAME') {
          next.name = v;
          if (known) next.reverseName = v;
        } else next.reverseName = v;
        break;
      }
      case 'ADDR': {
        const bare = value.toUpperCase() === '[UNAVAILABLE]' ? 'unknown' : bareAddress(value);
        if (bare === undefined) return bad(s, name, value);
        next.addr = bare;
        break;
      }
      case 'PORT':
        if (value.toUpperCase() !== '[UNAVAILABLE]' && !PORT.test(value)) return bad(s, name, value);
        next.port = PORT.test(value) ? Number(value) : 0;
        break;
      case 'DESTADDR': {
        const bare = value.toUpperCase() === '[UNAVAILABLE]' ? 'unknown' : bareAddress(value);
        if (bare === undefined) return bad(s, name, value);
        server.addr = bare;
        break;
      }
      case 'DESTPORT':
        if (value.toUpperCase() !== '[UNAVAILABLE]' && !PORT.test(value)) return bad(s, name, value);
        server.port = PORT.test(value) ? Number(value) : 0;
        break;
      case 'HELO':
        if (value.toUpperCase() === '[UNAVAILABLE]') helo = undefined;
        else if (value.length > 255) return bad(s, name, value);
        else helo = value.replace(NEUTER, '?');
        break;
      case 'PROTO': {
        const p = value.toUpperCase();
        if (p !== 'SMTP' && p !== 'ESMTP') return bad(s, name, value);
        proto = p;
        break;
      }
      case 'LOGIN':
        login = value.toUpperCase() === '[UNAVAILABLE]' ? null : value;
        break;
      default:
        s.reply(501, '5.5.4', `Bad XCLIENT attribute name: ${name}`);
        return false;
    }
  }
  s.client = next;
  s.server = server;
  // A LOGIN makes the session authenticated (method XCLIENT); without one any earlier login is forgotten.
  s.saslUsername = login ?? undefined;
  s.saslMethod = login !== null ? 'XCLIENT' : undefined;
  await s.restartAsNewClient(helo === null ? undefined : helo, proto === 'ESMTP');
  return true;
}

function xforward(s: Session, args: string): boolean {
  const attrs = parseAttrs(s, 'XFORWARD', args, s.xforwardAllowed);
  if (!attrs) return false;
  const updates = new Map<string, string | undefined>();
  for (const { name, value } of attrs) {
    const none = value.toUpperCase() === '[UNAVAILABLE]';
    switch (name) {
      case 'NAME': {
        const v = value.replace(NEUTER, '?');
        if (!none && !HOSTNAME.test(v)) return bad(s, name, v);
        updates.set(name, none ? 'unknown' : v);
        break;
      }
      case 'ADDR': {
        const bare = none ? 'unknown' : bareAddress(value.replace(NEUTER, '?'));
        if (bare === undefined) return bad(s, name, value);
        updates.set(name, bare);
        break;
      }
      case 'PORT':
        if (!none && !PORT.test(value)) return bad(s, name, value);
        updates.set(name, none ? 'unknown' : value);
        break;
      case 'PROTO':
        if (!none && value.length > 64) return bad(s, name, value);
        updates.set(name, none ? 'unknown' : value.replace(NEUTER, '?'));
        break;
      case 'HELO':
      case 'IDENT':
        updates.set(name, none ? undefined : value.replace(NEUTER, '?'));
        break;
      case 'SOURCE': {
        const v = none ? 'LOCAL' : value.toUpperCase();
        if (v !== 'LOCAL' && v !== 'REMOTE') return bad(s, name, value);
        updates.set(name, v);
        break;
      }
      default:
        s.reply(501, '5.5.4', `Bad XFORWARD attribute name: ${name}`);
        return false;
    }
  }
  // The first XFORWARD of a transaction starts from "unknown", not from the proxy's own identity.
  if (s.xforward.size === 0) {
    s.xforward.set('NAME', 'unknown');
    s.xforward.set('ADDR', 'unknown');
    s.xforward.set('PROTO', 'unknown');
  }
  for (const [k, v] of updates) {
    if (v === undefined) s.xforward.delete(k);
    else s.xforward.set(k, v);
    if (k === 'NAME' || k === 'ADDR' || k === 'PORT') s.xforwardClientGiven = true;
  }
  s.reply(250, '2.0.0', 'Ok');
  return true;
}

export const XCLIENT: SmtpdCommand = { name: 'XCLIENT', last: false, junk: false, run: xclient };
export const XFORWARD: SmtpdCommand = {
  name: 'XFORWARD',
  last: false,
  junk: false,
  run: (s, args) => Promise.resolve(xforward(s, args)),
};
