// The Received: header smtpd prepends and the dates cleanup and bounce write
// come from one mail_date(): Postfix blank-pads the day of month (%e), so a
// Received: on the 5th reads `Thu,  5 Nov`, exactly as an added Date: does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mailDate } from '../../src/global/mail-date.js';
import { receivedHeader } from '../../src/daemons/smtpd/received.js';

test('mail dates pad a one-digit day with a blank, two-digit days unpadded', () => {
  const early = new Date(2026, 10, 5, 7, 8, 9);
  const late = new Date(2026, 10, 26, 17, 8, 9);
  assert.match(mailDate(early.getTime()), /^Thu, {2}5 Nov 2026 07:08:09 [+-]\d{4}( \([A-Z]{2,5}\))?$/);
  assert.match(mailDate(late.getTime()), /^Thu, 26 Nov 2026 17:08:09 [+-]\d{4}( \([A-Z]{2,5}\))?$/);
});

test('Received: carries the same date form as Date:, with the for clause for one recipient', () => {
  const date = new Date(2026, 10, 5, 7, 8, 9);
  const base = {
    helo: 'client.example',
    clientName: 'unknown',
    rfcAddr: '127.0.0.1',
    myhostname: 'mx.example',
    mailName: 'Postern',
    protocol: 'ESMTP',
    queueId: 'ABC123',
    date,
  };
  const one = receivedHeader({ ...base, recipients: ['a@example.org'] });
  assert.equal(
    one,
    'Received: from client.example (unknown [127.0.0.1])\r\n' +
      '\tby mx.example (Postern) with ESMTP id ABC123\r\n' +
      `\tfor <a@example.org>; ${mailDate(date.getTime())}\r\n`,
  );
  assert.ok(one.includes('Thu,  5 Nov 2026'));
  const two = receivedHeader({ ...base, recipients: ['a@example.org', 'b@example.org'] });
  assert.ok(two.endsWith(`with ESMTP id ABC123;\r\n\t${mailDate(date.getTime())}\r\n`));
});
