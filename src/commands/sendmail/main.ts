// sendmail(1), mailq(1) and newaliases(1): Postfix's Sendmail-compatible
// front end. Mail submission (the default, -bm) reads a message from standard
// input and drops it into maildrop/ for pickup(8); the other modes hand off to
// postqueue (-bp, -q), postalias (-bi) or postfix (-bd). The submission path
// is the one that runs once per message, so everything else is imported on
// demand and start-up stays small.
import { loadConfig, configDirectory, type Config } from '../../global/params/config.js';
import { defaultFullName, invoker, isAuthorized } from './authorized-users.js';
import { readMessage } from './message-input.js';
import { parseSendmailArgs, type SendmailOptions } from './options.js';
import { dropMessage } from './submit.js';
import { CommandFailure, EX_CONFIG, EX_NOPERM, EX_SOFTWARE, EX_UNAVAILABLE, EX_USAGE } from './sysexits.js';

export interface SendmailIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: (text: string) => void;
}

const processIo: SendmailIo = {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: (t) => process.stderr.write(t),
};

export async function main(argv: string[], progName = 'sendmail', io: SendmailIo = processIo): Promise<number> {
  try {
    return await run(argv, progName, io);
  } catch (err) {
    if (err instanceof CommandFailure) {
      io.stderr(`${progName}: fatal: ${err.message}\n`);
      return err.status;
    }
    io.stderr(`${progName}: fatal: ${(err as Error).message}\n`);
    return EX_SOFTWARE;
  }
}

function config(opts: SendmailOptions): Config {
  try {
    return loadConfig(configDirectory(opts.configDir));
  } catch (err) {
    throw new CommandFailure((err as Error).message, EX_CONFIG);
  }
}

/** The postqueue/postalias/postfix argument that selects the configuration directory. */
function configArgs(opts: SendmailOptions): string[] {
  return opts.configDir !== undefined ? ['-c', opts.configDir] : [];
}

async function run(argv: string[], progName: string, io: SendmailIo): Promise<number> {
  const opts = parseSendmailArgs(argv, progName);
  switch (opts.mode) {
    case 'enqueue':
      return enqueue(opts, io);
    case 'mailq': {
      const { main: postqueue } = await import('../postqueue/main.js');
      return postqueue([...configArgs(opts), '-p'], progName);
    }
    case 'flush': {
      const { main: postqueue } = await import('../postqueue/main.js');
      const what =
        opts.flushSite !== undefined
          ? ['-s', opts.flushSite]
          : opts.flushQueueId !== undefined
            ? ['-i', opts.flushQueueId]
            : ['-f'];
      return postqueue([...configArgs(opts), ...what], progName);
    }
    case 'newaliases': {
      const { main: postalias } = await import('../postalias/main.js');
      // postalias reports with status 1; sendmail -bi callers expect sysexits.
      return (await postalias([...configArgs(opts)], progName)) === 0 ? 0 : EX_UNAVAILABLE;
    }
    case 'daemon': {
      const { main: postfix } = await import('../postfix/main.js');
      return postfix([...configArgs(opts), 'start'], 'postfix');
    }
    case 'smtp': {
      const { serveSmtpOnStdio } = await import('./smtp-stdio.js');
      const cfg = config(opts);
      await authorize(cfg, progName);
      return serveSmtpOnStdio(cfg, opts, io);
    }
    case 'verify':
      return enqueue(opts, io, true);
  }
}

async function authorize(cfg: Config, progName: string): Promise<void> {
  void progName;
  const who = invoker();
  if (!(await isAuthorized(cfg, 'authorized_submit_users', who))) {
    throw new CommandFailure(`User ${who.name}(${who.uid}) is not allowed to submit mail`, EX_NOPERM);
  }
}

/**
 * Submission. With `verify` (-bv) no message is collected: a small probe
 * (From:, Subject: probe, To:, as Postfix makes it) is queued with the
 * verify-only flag, and each recipient's delivery agent reports what it
 * would do in a delivery status report to the sender.
 */
async function enqueue(opts: SendmailOptions, io: SendmailIo, verify = false): Promise<number> {
  const cfg = config(opts);
  await authorize(cfg, 'sendmail');
  if (opts.recipients.length === 0 && !opts.extractRecipients) {
    throw new CommandFailure(
      'Recipient addresses must be specified on the command line or via the -t option',
      EX_USAGE,
    );
  }
  const who = invoker();
  const sender = opts.sender ?? who.name;
  const { content } = verify
    ? { content: probeMessage(sender, opts.recipients) }
    : await readMessage(io.stdin, {
        ignoreDots: opts.ignoreDots,
        sizeLimit: cfg.size('message_size_limit'),
      });
  const fullName = opts.fullName ?? defaultFullName(who.uid);
  await dropMessage(
    { queueDirectory: cfg.get('queue_directory'), mailOwner: cfg.get('mail_owner') },
    {
      sender,
      recipients: opts.recipients,
      arrivalTime: Date.now(),
      uid: who.uid,
      ...(fullName !== undefined ? { fullName } : {}),
      ...(opts.extractRecipients ? { extractRecipients: true } : {}),
      ...(opts.notify !== undefined ? { notify: opts.notify } : {}),
      ...(opts.ret !== undefined ? { ret: opts.ret } : {}),
      ...(opts.envid !== undefined ? { envid: opts.envid } : {}),
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      ...(verify ? { verifyOnly: true } : {}),
    },
    content,
  );
  if (verify) io.stdout.write(`Mail Delivery Status Report will be mailed to <${sender}>.\n`);
  return 0;
}

/** sendmail -bv's stand-in message: headers only, recipients folded one per line. */
function probeMessage(sender: string, recipients: readonly string[]): Buffer {
  const to = recipients.length > 0 ? [`To:\t${recipients.join(',\r\n\t')}`] : [];
  return Buffer.from([`From: ${sender}`, 'Subject: probe', ...to, ''].join('\r\n'), 'utf8');
}
