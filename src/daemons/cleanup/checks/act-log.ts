// The log lines cleanup(8) writes when a header_checks/body_checks action
// fires or the MIME walk rejects a message (cleanup_act_log() and the MIME
// error report in Postfix), e.g.
//   QUEUEID: reject: header Subject: spam from host[addr]; from=<a> to=<b> proto=ESMTP helo=<h>: 5.7.1 message content rejected
// Local submissions say `from local;` and have no proto=/helo=.
import type { InspectionContext } from '../hooks.js';

/** The `from ...;` origin: the SMTP client as `name[addr]`, or `local`. */
export function logOrigin(ctx: InspectionContext): string {
  return ctx.client ? `${ctx.client.name}[${ctx.client.addr}]` : 'local';
}

/** `QUEUEID: action: class content from origin; from=<> to=<> proto= helo=<>[: text]`; content cut at 200. */
export function actionLogLine(
  ctx: InspectionContext,
  action: string,
  cls: 'header' | 'body',
  content: string,
  text: string,
): string {
  let s = `${ctx.queueId}: ${action}: ${cls} ${content.slice(0, 200)} from ${logOrigin(ctx)};`;
  s += ` from=<${ctx.sender}>`;
  if (ctx.recipient !== undefined) s += ` to=<${ctx.recipient}>`;
  if (ctx.client) s += ` proto=${ctx.client.protocol} helo=<${ctx.client.helo}>`;
  if (text !== '') s += `: ${text}`;
  return s;
}

/** `QUEUEID: reject: mime-error TEXT: CONTENT from origin; from=<> to=<>`; content cut at 100. */
export function mimeErrorLogLine(ctx: InspectionContext, error: string, content: string): string {
  return (
    `${ctx.queueId}: reject: mime-error ${error}: ${content.slice(0, 100)} from ${logOrigin(ctx)};` +
    ` from=<${ctx.sender}> to=<${ctx.recipient ?? 'unknown'}>`
  );
}
