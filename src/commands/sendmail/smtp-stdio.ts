// sendmail -bs: an SMTP conversation on standard input and output, as MUAs
// that speak SMTP to a local pipe expect (Postfix runs smtpd in this mode).
// Each accepted message goes to maildrop/ like any local submission, so it
// works with the mail system down. Deliberately small: no restrictions (the
// user is local and authenticated by the operating system), no AUTH/TLS.
import { createInterface } from 'node:readline';
import type { Config } from '../../global/params/config.js';
import { invoker } from './authorized-users.js';
import type { SendmailOptions } from './options.js';
import { dropMessage } from './submit.js';
import type { SendmailIo } from './main.js';
import { CommandFailure } from './sysexits.js';

/** Longest command line accepted (RFC 5321 4.5.3.1.4 says 512; Postfix allows line_length_limit). */
const MAX_COMMAND = 2048;
const MAX_RECIPIENTS = 1000;

export async function serveSmtpOnStdio(cfg: Config, _opts: SendmailOptions, io: SendmailIo): Promise<number> {
  const host = cfg.get('myhostname');
  const limit = cfg.size('message_size_limit');
  const reply = (text: string): void => void io.stdout.write(`${text}\r\n`);
  const who = invoker();
  let sender: string | undefined;
  let rcpts: string[] = [];
  let data: Buffer[] | undefined;
  let dataSize = 0;
  reply(`220 ${host} ESMTP ${cfg.get('mail_name')}`);
  const lines = createInterface({ input: io.stdin, crlfDelay: Infinity });
  for await (const raw of lines) {
    const line = raw.replace(/\r$/, '');
    if (data) {
      if (line !== '.') {
        const b = Buffer.from(`${line.startsWith('.') ? line.slice(1) : line}\r\n`, 'utf8');
        dataSize += b.length;
        if (limit === 0 || dataSize <= limit) data.push(b);
        continue;
      }
      const body = Buffer.concat(data);
      data = undefined;
      if (limit > 0 && dataSize > limit) reply('552 5.3.4 Error: message file too big');
      else {
        try {
          const id = await dropMessage(
            { queueDirectory: cfg.get('queue_directory'), mailOwner: cfg.get('mail_owner') },
            { sender: sender ?? '', recipients: rcpts, arrivalTime: Date.now(), uid: who.uid },
            body,
          );
          reply(`250 2.0.0 Ok: queued as ${id}`);
        } catch (err) {
          reply(`451 4.3.0 Error: queue file write error`);
          io.stderr(`sendmail: warning: ${err instanceof CommandFailure ? err.message : String(err)}\n`);
        }
      }
      sender = undefined;
      rcpts = [];
      continue;
    }
    if (line.length > MAX_COMMAND) {
      reply('500 5.5.2 Error: line too long');
      continue;
    }
    const verb = (/^\S*/.exec(line)?.[0] ?? '').toUpperCase();
    const arg = line.slice(verb.length).trim();
    switch (verb) {
      case 'HELO':
        reply(arg ? `250 ${host}` : '501 Syntax: HELO hostname');
        break;
      case 'EHLO':
        if (!arg) reply('501 Syntax: EHLO hostname');
        else {
          reply(`250-${host}`);
          reply('250-PIPELINING');
          if (limit > 0) reply(`250-SIZE ${limit}`);
          reply('250-8BITMIME');
          reply('250 ENHANCEDSTATUSCODES');
        }
        break;
      case 'MAIL': {
        const m = /^FROM:\s*<([^<>]*)>/i.exec(arg);
        if (sender !== undefined) reply('503 5.5.1 Error: nested MAIL command');
        else if (!m) reply('501 5.5.4 Syntax: MAIL FROM:<address>');
        else {
          sender = m[1] ?? '';
          reply('250 2.1.0 Ok');
        }
        break;
      }
      case 'RCPT': {
        const m = /^TO:\s*<([^<>]+)>/i.exec(arg);
        if (sender === undefined) reply('503 5.5.1 Error: need MAIL command');
        else if (!m) reply('501 5.5.4 Syntax: RCPT TO:<address>');
        else if (rcpts.length >= MAX_RECIPIENTS) reply('452 4.5.3 Error: too many recipients');
        else {
          rcpts.push(m[1] ?? '');
          reply('250 2.1.5 Ok');
        }
        break;
      }
      case 'DATA':
        if (sender === undefined || rcpts.length === 0) reply('503 5.5.1 Error: need RCPT command');
        else {
          data = [];
          dataSize = 0;
          reply('354 End data with <CR><LF>.<CR><LF>');
        }
        break;
      case 'RSET':
        sender = undefined;
        rcpts = [];
        reply('250 2.0.0 Ok');
        break;
      case 'NOOP':
        reply('250 2.0.0 Ok');
        break;
      case 'QUIT':
        reply('221 2.0.0 Bye');
        lines.close();
        return 0;
      case 'VRFY':
        reply('502 5.5.1 VRFY command is disabled');
        break;
      default:
        reply('500 5.5.2 Error: command not recognized');
    }
  }
  return 0;
}
