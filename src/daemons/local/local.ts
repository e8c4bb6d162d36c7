// local(8): delivery for the domains in mydestination. Per recipient, in
// Postfix's order: loop check (Delivered-To:), aliases (alias_maps), the
// user's .forward (forward_path), then the mailbox (mailbox_transport,
// mailbox_command, home_mailbox or mail_spool_directory); unknown users go
// to fallback_transport, luser_relay, or bounce. Every write runs as the
// recipient, the alias owner or default_privs (identity.ts, mail-writer.ts).
// Touches: mailboxes and files (through the helper), commands, cleanup
// (forwarding).
import { statSync } from 'node:fs';
import type { Logger } from '../../global/log/logger.js';
import type { Dict } from '../../global/dict/dict-api.js';
import { DictRetryError } from '../../global/dict/dict-api.js';
import { openDict } from '../../global/dict/open.js';
import { splitAddress, unquoteLocalPart } from '../../global/addr/address.js';
import { splitExtension } from '../../global/addr/extension.js';
import type { ParamReader } from '../../global/params/types.js';
import type { CleanupService } from '../../global/queue/cleanup-api.js';
import type {
  DeliveryAgent,
  DeliveryRecipient,
  DeliveryRequest,
  RecipientOutcome,
} from '../../global/queue/delivery-api.js';
import { parseAliasValue, type AliasItem } from './alias-value.js';
import { commandOutcome, runCommand } from './command.js';
import { localCommandEnvironment } from './command-env.js';
import { aliasTablePrivs, forwardCopy, type ForwardCopy } from './forwarding.js';
import { expandDeliveryVars } from './delivery-vars.js';
import { isRoot, lookupUser, spawnIdentity, type Identity } from './identity.js';
import { deliveredToSet, mailCopy, toUnixLines } from './mail-copy.js';
import { appendMbox, deliverMaildir, readAs, type WriteResult } from './mail-writer.js';
import { writeSlots } from './maildir-batch.js';
import { existingDir, qualify, readAll, spoolGroup, summarise, type Leaf } from './recipient-outcome.js';
import { localSettings, type LocalSettings } from './settings.js';

/** Hand a recipient to another transport (mailbox_transport, fallback_transport): Postfix's deliver_pass(). */
export type PassFn = (
  transport: string,
  nexthop: string,
  req: DeliveryRequest,
  rcpt: DeliveryRecipient,
) => Promise<RecipientOutcome>;

export interface LocalAgentOptions {
  readonly config: ParamReader;
  readonly logger: Logger;
  /** Forwarding (aliases and .forward to other addresses, luser_relay) injects a new message here. */
  readonly cleanup?: CleanupService;
  /** Whether an address produced by expansion is delivered by this agent (trivial-rewrite's answer); default: mydestination. */
  readonly isLocal?: (address: string, req: DeliveryRequest) => Promise<boolean>;
  readonly pass?: PassFn;
  /** Sends a forwarded copy instead of `cleanup` (the delivery process asks the core worker to). */
  readonly forward?: (f: ForwardCopy) => Promise<Leaf>;
  readonly openDict?: (spec: string) => Promise<Dict>;
  /** master.cf command name; the transport names in outcomes come from requests. */
  readonly command?: string;
}

/**
 * A synchronous stat, as the other checks of a home directory here: it takes
 * microseconds, where a thread-pool round trip per delivery added latency to
 * every delivery (two of them with the default forward_path).
 */
function isMissing(path: string): boolean {
  try {
    // ENOENT (the usual answer) as undefined, not as an Error with a stack built for every delivery.
    return statSync(path, { throwIfNoEntry: false }) === undefined;
  } catch {
    return false;
  }
}

/** How deep aliases, :include: and .forward may nest before we call it a loop. */
const MAX_LEVEL = 100;
/** Most deliveries one recipient may expand into. */
const MAX_LEAVES = 1000;
const MAX_FILE_BYTES = 1 << 20;

type Source = 'alias' | 'forward' | 'include';

interface Run {
  readonly req: DeliveryRequest;
  readonly rcpt: DeliveryRecipient;
  readonly content: Buffer;
  readonly lf: Buffer;
  readonly loops: ReadonlySet<string>;
  readonly dups: Set<string>;
  readonly forwards: string[];
  readonly leaves: Leaf[];
  sender: string;
  /** Some expansion was dropped as a duplicate of a delivery already made for this request. */
  duplicate: boolean;
  /** The addresses being expanded, outermost first (alias/.forward cycle detection). */
  readonly chain: string[];
}

export function createLocalAgent(o: LocalAgentOptions): DeliveryAgent {
  return new LocalAgent(o);
}

class LocalAgent implements DeliveryAgent {
  readonly command: string;
  private s: LocalSettings;
  private readonly open: (spec: string) => Promise<Dict>;

  constructor(private readonly o: LocalAgentOptions) {
    this.command = o.command ?? 'local';
    this.s = localSettings(o.config);
    this.open = o.openDict ?? ((spec) => openDict(spec, { config: o.config, warn: (t) => o.logger.warning(t) }));
  }

  async deliver(req: DeliveryRequest): Promise<RecipientOutcome[]> {
    const content = await readAll(req);
    const lf = toUnixLines(content);
    const loops = deliveredToSet(content);
    const dups = new Set<string>();
    const out: RecipientOutcome[] = [];
    for (const rcpt of req.recipients) {
      const run: Run = {
        req,
        rcpt,
        content,
        lf,
        loops,
        dups,
        forwards: [],
        leaves: [],
        sender: req.sender,
        duplicate: false,
        chain: [],
      };
      try {
        await this.deliverAddress(run, rcpt.address, 0, undefined);
        await this.flushForwards(run);
      } catch (e) {
        const temp = e instanceof DictRetryError;
        if (!temp) this.o.logger.warning(`${req.queueId}: local delivery of ${rcpt.address}: ${(e as Error).message}`);
        run.leaves.push({
          status: 'deferred',
          dsn: '4.3.0',
          reason: temp ? 'alias database unavailable' : 'local delivery failed',
        });
      }
      out.push(summarise(rcpt.index, run.leaves, run.duplicate));
    }
    return out;
  }

  /** Postfix's deliver_recipient(): loop check, aliases, .forward, mailbox. */
  private async deliverAddress(
    run: Run,
    address: string,
    level: number,
    via: { source: Source; name: string } | undefined,
    noAlias = false,
  ): Promise<void> {
    if (level > MAX_LEVEL || run.leaves.length >= MAX_LEAVES) {
      return this.leaf(run, 'bounced', '5.4.6', `mail forwarding loop for ${address}`);
    }
    const full = qualify(address, this.s.myorigin);
    if (run.loops.has(full.toLowerCase()))
      return this.leaf(run, 'bounced', '5.4.6', `mail forwarding loop for ${full}`);
    const split = splitAddress(full);
    const localPart = unquoteLocalPart(split.local).toLowerCase();
    const ext = splitExtension(localPart, {
      delimiters: this.s.recipientDelimiter,
      ownerRequestSpecial: this.s.ownerRequestSpecial,
    });
    const user = ext ? ext.base : localPart;
    const selfReference = via !== undefined && via.name === user;
    // An address met again inside its own expansion (a: b, b: a) is a loop, unless it names itself directly.
    const key = `${localPart}@${split.domain.toLowerCase()}`;
    if (run.chain.includes(key) && !selfReference) {
      return this.leaf(run, 'bounced', '5.4.6', `mail forwarding loop for ${full}`);
    }
    run.chain.push(key);
    try {
      await this.expandAddress(run, full, localPart, user, ext?.extension ?? '', split.domain, level, via, noAlias);
    } finally {
      run.chain.pop();
    }
  }

  private async expandAddress(
    run: Run,
    full: string,
    localPart: string,
    user: string,
    extension: string,
    domain: string,
    level: number,
    via: { source: Source; name: string } | undefined,
    noAlias: boolean,
  ): Promise<void> {
    if (!noAlias && !(via?.source === 'alias' && via.name === user)) {
      if (await this.tryAliases(run, full, localPart, user, level)) return;
    }
    const pw = await lookupUser(user);
    if (pw && !noAlias && !(via?.source === 'forward' && via.name === user)) {
      if (await this.tryForward(run, full, pw, extension, domain, level)) return;
    }
    if (pw) return this.deliverMailbox(run, full, pw, extension, domain);
    return this.unknownUser(run, full, localPart, user, extension, domain);
  }

  private async tryAliases(run: Run, full: string, localPart: string, user: string, level: number): Promise<boolean> {
    for (const spec of this.s.aliasMaps) {
      const dict = await this.openAliasMap(spec);
      if (!dict) continue;
      const keys = localPart === user ? [user] : [localPart, user];
      for (const key of keys) {
        const value = await dict.lookup(key);
        if (value === undefined) continue;
        await this.ownerAlias(run, key);
        const privs = await aliasTablePrivs(spec, this.s.defaultPrivs);
        this.dupsCheck(run);
        await this.expandItems(run, parseAliasValue(value, 'alias'), 'alias', key, privs, level + 1, full);
        return true;
      }
    }
    return false;
  }

  /** An `owner-name` alias takes the errors (and with expand_owner_alias the sender role) for the list. */
  private async ownerAlias(run: Run, name: string): Promise<void> {
    if (name.startsWith('owner-')) return;
    for (const spec of this.s.aliasMaps) {
      const dict = await this.openAliasMap(spec);
      const owner = await dict?.lookup(`owner-${name}`);
      if (owner === undefined) continue;
      if (this.s.expandOwnerAlias) {
        const first = parseAliasValue(owner, 'alias').find((i) => i.kind === 'address');
        run.sender = first?.kind === 'address' ? qualify(first.address, this.s.myorigin) : run.sender;
      } else {
        run.sender = qualify(`owner-${name}`, this.s.myorigin);
      }
      return;
    }
  }

  private async openAliasMap(spec: string): Promise<Dict | undefined> {
    // nis: is in the compiled-in default but not on this system (as on most Linux hosts).
    if (spec.startsWith('nis:')) return undefined;
    try {
      return await this.open(spec);
    } catch (e) {
      if (e instanceof DictRetryError) throw e;
      this.o.logger.warning(`${spec} is unavailable. ${(e as Error).message}`);
      throw new DictRetryError((e as Error).message);
    }
  }

  private dupsCheck(run: Run): void {
    if (run.dups.size > this.s.duplicateFilterLimit && this.s.duplicateFilterLimit > 0) run.dups.clear();
  }

  private async expandItems(
    run: Run,
    items: readonly AliasItem[],
    source: Source,
    name: string,
    privs: Identity | undefined,
    level: number,
    parent: string,
  ): Promise<void> {
    if (items.length === 0) return this.leaf(run, 'bounced', '5.3.0', `alias ${name}: empty expansion`);
    for (const item of items) {
      if (run.leaves.length >= MAX_LEAVES)
        return this.leaf(run, 'bounced', '5.4.6', `mail forwarding loop for ${parent}`);
      switch (item.kind) {
        case 'address':
          await this.deliverItemAddress(run, item.address, item.noAlias, source, name, level);
          break;
        case 'command':
          await this.deliverCommandItem(run, item.command, source, privs, parent);
          break;
        case 'file':
          await this.deliverFileItem(run, item.path, source, privs, parent);
          break;
        case 'include':
          await this.deliverInclude(run, item.path, source, name, privs, level, parent);
          break;
      }
    }
  }

  private async deliverItemAddress(
    run: Run,
    address: string,
    noAlias: boolean,
    source: Source,
    name: string,
    level: number,
  ): Promise<void> {
    const full = qualify(address, this.s.myorigin);
    if (await this.isLocal(full, run.req)) {
      // `joe: joe, ...` (a name listing itself) is a different path from reaching joe through another alias.
      const local = unquoteLocalPart(splitAddress(full).local).toLowerCase();
      const base = splitExtension(local, { delimiters: this.s.recipientDelimiter })?.base ?? local;
      const self = base === name || local === name;
      const key = `rcpt:${full.toLowerCase()}:${noAlias ? 1 : 0}:${self ? name : ''}`;
      if (this.seen(run, key)) return;
      return this.deliverAddress(run, full, level, { source, name }, noAlias);
    }
    const key = `fwd:${full.toLowerCase()}`;
    if (this.seen(run, key)) return;
    run.forwards.push(full);
  }

  private async isLocal(address: string, req: DeliveryRequest): Promise<boolean> {
    if (this.o.isLocal) return this.o.isLocal(address, req);
    const s = splitAddress(address);
    if (!s.hasAt) return true;
    const domain = s.domain.toLowerCase().replace(/\.$/, '');
    return this.s.mydestination.includes(domain) || domain === this.s.myhostname.toLowerCase();
  }

  /**
   * The checks every `|command` and `/file` item passes first: allowed for its
   * source (allow_mail_to_commands / allow_mail_to_files), and an identity to
   * run as. Records the outcome and returns false when the item must not run.
   */
  private mayRunItem(
    run: Run,
    allowed: boolean,
    kind: 'command' | 'file',
    privs: Identity | undefined,
  ): privs is Identity {
    if (!allowed) {
      this.leaf(run, 'bounced', '5.7.1', `mail to ${kind} is restricted`);
      return false;
    }
    if (!privs) {
      this.leaf(
        run,
        'deferred',
        '4.3.0',
        `mail system configuration error: unknown default_privs user ${this.s.defaultPrivs}`,
      );
      return false;
    }
    return true;
  }

  private async deliverCommandItem(
    run: Run,
    command: string,
    source: Source,
    privs: Identity | undefined,
    parent: string,
  ): Promise<void> {
    if (!this.mayRunItem(run, this.s.allowCommands.has(source), 'command', privs)) return;
    const key = `cmd:${privs.uid}:${command}`;
    if (this.seen(run, key)) return;
    const rcpt = splitAddress(parent);
    const r = await this.runAs(run, privs, command, parent, rcpt.domain, '');
    run.leaves.push(r);
  }

  private async runAs(
    run: Run,
    who: Identity,
    command: string,
    recipient: string,
    domain: string,
    extension: string,
  ): Promise<Leaf> {
    // sendmail -bv: say which command would get the mail; run nothing.
    if (run.req.verifyOnly === true) return { status: 'sent', dsn: '2.0.0', reason: `delivers to command: ${command}` };
    const s = this.s;
    const input = mailCopy(run.lf, {
      fromLine: true,
      returnPath: true,
      originalTo: s.originalRecipient ? run.rcpt.original : undefined,
      deliveredTo: s.prependDelivered.has('command') ? run.rcpt.address : undefined,
      sender: run.sender,
      time: new Date(run.req.arrivalTime),
    });
    const env = localCommandEnvironment(
      {
        user: who.user,
        home: who.home,
        shell: who.shell,
        sender: run.sender,
        recipient,
        localPart: unquoteLocalPart(splitAddress(recipient).local),
        extension,
        domain,
        originalRecipient: run.rcpt.original,
        envid: run.req.envid,
      },
      s.exportEnvironment,
    );
    // local_command_shell carries its own flag (`/usr/sbin/smrsh -c`).
    const argv = s.commandShell ? [...s.commandShell.split(/\s+/), command] : ['/bin/sh', '-c', command];
    const cwd = s.commandDirectory
      ? expandDeliveryVars(s.commandDirectory, { home: who.home, user: who.user })
      : existingDir(who.home);
    const res = await runCommand({
      who: spawnIdentity(who),
      argv,
      env,
      cwd,
      input,
      timeLimitSeconds: s.commandTimeLimit,
    });
    return commandOutcome(res, command, `delivered to command: ${command}`);
  }

  private async deliverFileItem(
    run: Run,
    path: string,
    source: Source,
    privs: Identity | undefined,
    parent: string,
  ): Promise<void> {
    if (!this.mayRunItem(run, this.s.allowFiles.has(source), 'file', privs)) return;
    const key = `file:${path}`;
    if (this.seen(run, key)) return;
    const maildir = path.endsWith('/');
    if (run.req.verifyOnly === true) return this.leaf(run, 'sent', '2.0.0', `delivers to file: ${path}`);
    const data = mailCopy(run.lf, {
      fromLine: !maildir,
      mboxQuote: !maildir,
      returnPath: true,
      originalTo: this.s.originalRecipient ? run.rcpt.original : undefined,
      deliveredTo: this.s.prependDelivered.has('file') ? parent : undefined,
      sender: run.sender,
      time: new Date(run.req.arrivalTime),
    });
    const who = spawnIdentity(privs);
    const r = maildir
      ? await deliverMaildir(who, path, data, this.s.mailboxSizeLimit, writeSlots.get(run.req))
      : await appendMbox(who, path, data, { lock: this.s.lock, limit: this.s.mailboxSizeLimit, ownerCheck: false });
    this.writeLeaf(run, r, `delivered to file: ${path}`, `cannot append message to file ${path}: `);
  }

  private async deliverInclude(
    run: Run,
    path: string,
    source: Source,
    name: string,
    privs: Identity | undefined,
    level: number,
    parent: string,
  ): Promise<void> {
    if (!path.startsWith('/')) return this.leaf(run, 'bounced', '5.3.5', `:include:${path} uses a relative path`);
    if (!privs)
      return this.leaf(
        run,
        'deferred',
        '4.3.0',
        `mail system configuration error: unknown default_privs user ${this.s.defaultPrivs}`,
      );
    const r = await readAs(spawnIdentity(privs), path, MAX_FILE_BYTES);
    if (!r.ok)
      return this.leaf(
        run,
        r.dsn.startsWith('5') ? 'bounced' : 'deferred',
        r.dsn.startsWith('5') ? '5.3.5' : r.dsn,
        `:include:${path}: ${r.reason}`,
      );
    // A non-root owner of the include file becomes whose rights its files and commands get.
    const owner = r.ownerUid !== 0 ? await lookupUser(String(r.ownerUid)) : undefined;
    await this.expandItems(run, parseAliasValue(r.text, 'file'), 'include', name, owner ?? privs, level + 1, parent);
  }

  private async tryForward(
    run: Run,
    full: string,
    pw: Identity,
    extension: string,
    domain: string,
    level: number,
  ): Promise<boolean> {
    const vars = this.vars(full, pw, extension, domain, run.sender);
    const who = spawnIdentity(pw);
    if (!who.ok) return false;
    for (const template of this.s.forwardPath) {
      const path = expandDeliveryVars(template, vars, this.s.forwardFilter);
      // An unset $home leaves a relative path: nothing to read.
      if (!path.startsWith('/')) continue;
      // Most users have no .forward: a stat saves starting the helper just to hear ENOENT
      // (the file is still read as the user whenever it exists).
      if (isMissing(path)) continue;
      const r = await readAs(who, path, MAX_FILE_BYTES);
      if (!r.ok) {
        if (r.missing) continue;
        run.leaves.push({ status: 'deferred', dsn: '4.2.0', reason: `cannot read ${path}: ${r.reason}` });
        return true;
      }
      // Postfix ignores a .forward file that the user does not own.
      if (r.ownerUid !== pw.uid && r.ownerUid !== 0) {
        this.o.logger.warning(`file ${path} has bad owner uid ${r.ownerUid}: ignored`);
        continue;
      }
      const items = parseAliasValue(r.text, 'file');
      if (items.length === 0) continue;
      await this.expandItems(run, items, 'forward', pw.user, pw, level + 1, full);
      return true;
    }
    return false;
  }

  private vars(
    full: string,
    pw: Identity | undefined,
    extension: string,
    domain: string,
    sender = '',
  ): Record<string, string> {
    const split = splitAddress(full);
    const local = unquoteLocalPart(split.local);
    return {
      user: pw?.user ?? '',
      home: pw?.home ?? '',
      shell: pw?.shell ?? '',
      local,
      extension,
      recipient: full,
      domain,
      mailbox: local,
      recipient_delimiter: extension ? this.s.recipientDelimiter.slice(0, 1) : '',
      sender,
    };
  }

  /** Postfix's deliver_mailbox(): mailbox_transport, mailbox_command, then the file or maildir. */
  private async deliverMailbox(run: Run, full: string, pw: Identity, extension: string, domain: string): Promise<void> {
    const key = `mbox:${pw.uid}:${pw.user}`;
    if (this.seen(run, key)) return;
    const transport = (await this.perUser(this.s.mailboxTransportMaps, pw.user)) ?? this.s.mailboxTransport;
    if (transport) return this.passTo(run, transport, full);
    if (this.s.requireHome && !existingDir(pw.home, '')) {
      return this.leaf(run, 'deferred', '4.3.0', `cannot access home directory ${pw.home}: No such file or directory`);
    }
    const command = (await this.perUser(this.s.mailboxCommandMaps, pw.user)) ?? this.s.mailboxCommand;
    if (command) {
      const expanded = expandDeliveryVars(
        command,
        this.vars(full, pw, extension, domain, run.sender),
        this.s.commandFilter,
      );
      run.leaves.push(await this.runAs(run, pw, expanded, full, domain, extension));
      return;
    }
    const home = this.s.homeMailbox;
    const path = home ? `${pw.home.replace(/\/$/, '')}/${home}` : `${this.s.spoolDir.replace(/\/$/, '')}/${pw.user}`;
    const maildir = path.endsWith('/');
    if (run.req.verifyOnly === true)
      return this.leaf(run, 'sent', '2.0.0', maildir ? 'delivers to maildir' : 'delivers to mailbox');
    const data = mailCopy(run.lf, {
      fromLine: !maildir,
      mboxQuote: !maildir,
      returnPath: true,
      originalTo: this.s.originalRecipient ? run.rcpt.original : undefined,
      deliveredTo: full,
      sender: run.sender,
      time: new Date(run.req.arrivalTime),
    });
    let who = spawnIdentity(pw);
    // A mail spool writable by its group only (root:mail 2775) is entered with that group, as Postfix does.
    if (!home && who.ok && isRoot()) who = { ok: true, uid: pw.uid, gid: spoolGroup(this.s.spoolDir) ?? pw.gid };
    const r = maildir
      ? await deliverMaildir(who, path, data, this.s.mailboxSizeLimit, writeSlots.get(run.req))
      : await appendMbox(who, path, data, {
          lock: this.s.lock,
          limit: this.s.mailboxSizeLimit,
          ownerCheck: this.s.strictOwnership,
        });
    this.writeLeaf(
      run,
      r,
      maildir ? 'delivered to maildir' : 'delivered to mailbox',
      `cannot update mailbox ${path} for user ${pw.user}. `,
    );
  }

  private async perUser(maps: readonly string[], user: string): Promise<string | undefined> {
    for (const spec of maps) {
      const v = await (await this.open(spec)).lookup(user);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  private async unknownUser(
    run: Run,
    full: string,
    localPart: string,
    user: string,
    extension: string,
    domain: string,
  ): Promise<void> {
    const fallback = (await this.perUser(this.s.fallbackTransportMaps, user)) ?? this.s.fallbackTransport;
    if (fallback) return this.passTo(run, fallback, full);
    if (this.s.luserRelay) {
      const target = expandDeliveryVars(this.s.luserRelay, {
        ...this.vars(full, undefined, extension, domain, run.sender),
        user: localPart,
      });
      if (target && target.toLowerCase() !== full.toLowerCase()) {
        const qualified = qualify(target, this.s.myorigin);
        if (await this.isLocal(qualified, run.req)) return this.deliverAddress(run, qualified, MAX_LEVEL, undefined);
        run.forwards.push(qualified);
        return;
      }
    }
    return this.leaf(run, 'bounced', '5.1.1', `unknown user: "${localPart}"`);
  }

  private async passTo(run: Run, transportSpec: string, full: string): Promise<void> {
    const colon = transportSpec.indexOf(':');
    const transport = colon < 0 ? transportSpec : transportSpec.slice(0, colon);
    const nexthop = colon < 0 ? '' : transportSpec.slice(colon + 1);
    if (!this.o.pass)
      return this.leaf(
        run,
        'deferred',
        '4.3.0',
        `mail system configuration error: cannot pass mail to transport ${transport}`,
      );
    const out = await this.o.pass(transport, nexthop || splitAddress(full).domain, run.req, {
      ...run.rcpt,
      address: full,
    });
    run.leaves.push({ status: out.status, dsn: out.dsn, reason: out.reason });
  }

  private async flushForwards(run: Run): Promise<void> {
    if (run.forwards.length === 0) return;
    // sendmail -bv: no copy is queued; the report names where the mail would go next.
    if (run.req.verifyOnly === true)
      return this.leaf(run, 'sent', '2.0.0', `forwards to ${run.forwards.map((a) => `<${a}>`).join(', ')}`);
    const copy: ForwardCopy = {
      req: run.req,
      rcpt: run.rcpt,
      sender: run.sender,
      addresses: run.forwards,
      content: run.content,
      addDeliveredTo: this.s.prependDelivered.has('forward'),
    };
    run.leaves.push(this.o.forward ? await this.o.forward(copy) : await forwardCopy(this.o.cleanup, copy));
  }

  private writeLeaf(run: Run, r: WriteResult, sentText: string, failPrefix: string): void {
    if (r.ok) return this.leaf(run, 'sent', '2.0.0', sentText);
    this.leaf(run, r.dsn.startsWith('5') ? 'bounced' : 'deferred', r.dsn, `${failPrefix}${r.reason}`);
  }

  /** Duplicate elimination within one request (Postfix's been_here()); the first delivery counts for all. */
  private seen(run: Run, key: string): boolean {
    if (!run.dups.has(key)) {
      run.dups.add(key);
      return false;
    }
    run.duplicate = true;
    return true;
  }

  private leaf(run: Run, status: Leaf['status'], dsn: string, reason: string): void {
    run.leaves.push({ status, dsn, reason });
  }
}
