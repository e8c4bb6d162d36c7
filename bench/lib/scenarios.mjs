// The benchmark scenarios (see bench/RESULTS.md for what each figure means).
// Message counts are sized so that a full run of every scenario, three
// interleaved rounds, stays near ten minutes on a 2-core machine;
// BENCH_SCALE=0.2 makes a quick smoke run, BENCH_SCALE=2 a longer one.
const scale = Number(process.env.BENCH_SCALE ?? 1);
const n = (x) => Math.max(20, Math.round(x * scale));

/** Sessions each target holds in `sessions`: Postfix needs one smtpd process per session. */
export const SESSIONS = {
  postfix: Number(process.env.SESSIONS_POSTFIX ?? 1000),
  haraka: Number(process.env.SESSIONS ?? 10000),
  postern: Number(process.env.SESSIONS ?? 10000),
};

export const SCENARIOS = {
  limit: [
    {
      id: 'limit',
      title: 'limit: smtp-source straight into smtp-sink (the loopback ceiling)',
      mode: 'limit',
      size: 1024,
      n: n(5000),
      sessions: 20,
    },
  ],
  ingest: [
    {
      id: 'ingest-1k',
      title: 'ingest: 20 sessions × 1 KiB messages, durably queued, then discarded',
      mode: 'discard',
      size: 1024,
      n: n(2000),
      sessions: 20,
    },
    {
      id: 'ingest-100k',
      title: 'ingest: 20 sessions × 100 KiB messages, durably queued, then discarded',
      mode: 'discard',
      size: 102400,
      n: n(400),
      sessions: 20,
    },
  ],
  relay: [
    {
      id: 'relay',
      title: 'relay: 20 sessions × 1 KiB, queued, relayed to smtp-sink (connection reuse)',
      mode: 'relay',
      size: 1024,
      n: n(1500),
      sessions: 20,
    },
  ],
  local: [
    {
      id: 'local',
      title: 'local: 20 sessions × 1 KiB, delivered into the Maildir of a local user',
      mode: 'local',
      size: 1024,
      n: n(1000),
      sessions: 20,
    },
  ],
  submit: [
    {
      id: 'submit',
      title: 'submit: `sendmail` once per 1 KiB message from a shell loop, then discarded',
      mode: 'submit',
      size: 1024,
      n: n(300),
    },
  ],
  sessions: [
    {
      id: 'sessions',
      title: 'sessions: idle SMTP sessions held open (greeted and EHLO answered)',
      mode: 'sessions',
      smtpdMaxproc: { postfix: SESSIONS.postfix + 50, postern: SESSIONS.postern + 50 },
    },
  ],
  lookup: [
    {
      id: 'lookup',
      title: 'lookup: ingest of 1 KiB messages through cidr, hash and regexp restriction tables',
      mode: 'discard',
      lookup: true,
      size: 1024,
      n: n(2000),
      sessions: 20,
    },
  ],
};

export const ORDER = ['limit', 'ingest', 'relay', 'local', 'submit', 'sessions', 'lookup'];
