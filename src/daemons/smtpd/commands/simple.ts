// The small verbs: RSET, NOOP and QUIT (RFC 5321 sections 4.1.1.5, 4.1.1.9,
// 4.1.1.10). Kept together because each is a few lines.
import type { SmtpdCommand } from '../types.js';

export const RSET: SmtpdCommand = {
  name: 'RSET',
  last: false,
  junk: true,
  async run(s, args) {
    if (args !== '') {
      s.reply(501, '5.5.4', 'Syntax: RSET');
      return false;
    }
    await s.abortTransaction();
    s.reply(250, '2.0.0', 'Ok');
    return true;
  },
};

export const NOOP: SmtpdCommand = {
  name: 'NOOP',
  last: true,
  junk: true,
  run(s) {
    // RFC 5321 lets NOOP carry an argument, which is ignored.
    s.reply(250, '2.0.0', 'Ok');
    return Promise.resolve(true);
  },
};

export const QUIT: SmtpdCommand = {
  name: 'QUIT',
  last: false,
  junk: false,
  run(s) {
    s.reply(221, '2.0.0', 'Bye');
    s.hangup();
    return Promise.resolve(true);
  },
};
