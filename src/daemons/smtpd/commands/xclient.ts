// XCLIENT and XFORWARD (Postfix's XCLIENT_README and XFORWARD_README): an
// authorised proxy or content filter tells smtpd who the real client was.
// XCLIENT replaces the session's client identity and restarts the session
// with a new greeting; XFORWARD only records attributes for logging and
// the queue file. Values are xtext; [UNAVAILABLE]/[TEMPUNAVAIL] mean unknown.
import { isIP } from 'node:net';
import { decodeXtext } from '../../../util/xtext.js';
import type { Session } from '../session.js';
import type { SmtpdCommand } from '../types.js';

const XCLIENT_NAMES = new Set([
  'NAME',
  'REVERSE_NAME',
  'ADDR',
  'PORT',
  'PROTO',
  'HELO',
  'LOGIN',
  'DESTADDR',
  'DESTPORT',
]);
const XFORWARD_NAMES = new Set(['NAME', 'ADDR', 'PORT', 'PROTO', 'HELO', 'IDENT', 'SOURCE']);
const MAX_VALUE = 255;

/** Parsed `NAME=value` pairs, or false after an error reply. */
function parseAttrs(s: Session, verb: string, args: string, names: Set<string>): Map<string, string> | false {
  if (args === '') {
    s.reply(501, '5.5.4', `Syntax: ${verb} attribute=value...`);
    return false;
  }
  const out = new Map<string, string>();
  for (const item of args.split(/[ \t]+/)) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      s.reply(501, '5.5.4', 'Error: attribute=value expected');
      return false;
    }
    const name = item.slice(0, eq).toUpperCase();
    if (!names.has(name)) {
      s.reply(501, '5.5.4', `Bad ${verb} attribute name: ${name}`);
      return false;
    }
    const value = decodeXtext(item.slice(eq + 1));
    if (value === undefined || value.length > MAX_VALUE) {
      s.reply(
        501,
        '5.5.4',
        value === undefined ? `Bad ${verb} attribute value: ${name}` : 'Error: attribute value too long',
      );
      return false;
    }
    out.set(name, value);
  }
  return out;
}

function unavailable(v: string): boolean {
  return v.toUpperCase() === '[UNAVAILABLE]' || v.toUpperCase() === '[TEMPUNAVAIL]';
}

export const XCLIENT: SmtpdCommand = {
  name: 'XCLIENT',
  last: false,
  junk: false,
  async run(s, args) {
    if (!s.xclientAllowed) {
      s.reply(550, '5.7.0', 'Error: insufficient authorization');
      return false;
    }
    if (s.tx) {
      s.reply(503, '5.5.1', 'Error: MAIL transaction in progress');
      return false;
    }
    const attrs = parseAttrs(s, 'XCLIENT', args, XCLIENT_NAMES);
    if (!attrs) return false;
    const addr = attrs.get('ADDR');
    if (addr !== undefined && !unavailable(addr)) {
      const plain = addr.replace(/^IPv6:/i, '');
      if (!isIP(plain)) {
        s.reply(501, '5.5.4', `Bad XCLIENT ADDR syntax: ${addr}`);
        return false;
      }
      s.client.addr = plain;
    }
    const name = attrs.get('NAME');
    if (name !== undefined) s.client.name = unavailable(name) ? 'unknown' : name.toLowerCase();
    const rname = attrs.get('REVERSE_NAME');
    if (rname !== undefined) s.client.reverseName = unavailable(rname) ? 'unknown' : rname.toLowerCase();
    const port = attrs.get('PORT');
    if (port !== undefined && /^\d{1,5}$/.test(port)) s.client.port = Number(port);
    const login = attrs.get('LOGIN');
    if (login !== undefined) s.saslUsername = unavailable(login) ? undefined : login;
    // The session starts over as if the proxied client had just connected.
    await s.abortTransaction();
    const helo = attrs.get('HELO');
    s.helo = helo !== undefined && !unavailable(helo) ? helo : undefined;
    const proto = attrs.get('PROTO');
    s.esmtp = proto !== undefined ? proto.toUpperCase() === 'ESMTP' : false;
    // The proxy spoke EHLO for its client; keep its PIPELINING knowledge.
    s.pipeliningOffered = s.pipeliningOffered && s.esmtp;
    s.reply(220, '', s.settings.banner);
    return true;
  },
};

export const XFORWARD: SmtpdCommand = {
  name: 'XFORWARD',
  last: false,
  junk: false,
  run(s, args) {
    if (!s.xforwardAllowed) {
      s.reply(550, '5.7.0', 'Error: insufficient authorization');
      return Promise.resolve(false);
    }
    const attrs = parseAttrs(s, 'XFORWARD', args, XFORWARD_NAMES);
    if (!attrs) return Promise.resolve(false);
    for (const [k, v] of attrs) {
      if (unavailable(v)) s.xforward.delete(k);
      else s.xforward.set(k, v);
    }
    s.reply(250, '2.0.0', 'Ok');
    return Promise.resolve(true);
  },
};
