// The benchmark scenarios (see bench/RESULTS.md for what each figure means).
// Message counts are sized so that a full run of every scenario, three
// interleaved rounds, stays near ten minutes on a 2-core machine;
// BENCH_SCALE=0.2 makes a quick smoke run, BENCH_SCALE=2 a longer one.
const scale = Number(process.env.BENCH_SCALE ?? 1);
const n = (x) => Math.max(20, Math.round(x * scale));

/**
 * Messages sent to a freshly started server before the measured load, the
 * same for every target: servers run for days, so the figures that matter are
 * the steady state, not Node's JIT warm-up (about 1 CPU s per start) or
 * Postfix spawning its smtpd and cleanup processes. What the warm-up itself
 * achieved is reported beside the figures ("first messages after start").
 * BENCH_WARMUP=0 measures from a cold start instead.
 */
export const WARMUP = Number(process.env.BENCH_WARMUP ?? 2000);

/** Sessions each target holds in `sessions`: Postfix needs one smtpd process per session. */
export const SESSIONS = {
  postfix: Number(process.env.SESSIONS_POSTFIX ?? 1000),
  haraka: Number(process.env.SESSIONS ?? 10000),
  postern: Number(process.env.SESSIONS ?? 10000),
};

const COMPONENT_NOTE =
  "Postern only, in one Node process with no SMTP server in front: the rate is the script's own measurement " +
  "(its owners' micro-benchmark), the CPU is the whole process from `/usr/bin/time` (Node start-up included). " +
  "Context for Postern's parts while its end-to-end path is not wired; not comparable with the server tables.";

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
      note:
        `Haraka and Postern are asked to hold ${SESSIONS.haraka} sessions, Postfix ${SESSIONS.postfix}: Postfix runs one smtpd process ` +
        'per session (≈1.2 MB PSS each), so 10,000 would need ≈12 GB on this shared machine; its figures are per session and ' +
        'comparable. A session counts once its greeting and EHLO reply arrived; the probe is five new connections, one at a time, ' +
        'while all of them are held.',
      mode: 'sessions',
      smtpdMaxproc: { postfix: SESSIONS.postfix + 50, postern: SESSIONS.postern + 50 },
    },
  ],
  lookup: [
    {
      id: 'lookup',
      title: 'lookup: ingest of 1 KiB messages through cidr, hash and regexp restriction tables',
      note:
        'Postfix and Postern: `smtpd_recipient_restrictions = check_client_access cidr:` (1,000 networks), ' +
        '`check_sender_access hash:` (10,000 addresses), `check_recipient_access regexp:` (100 patterns), then ' +
        '`permit_mynetworks, reject_unauth_destination`; nothing matches, so every table is searched for every recipient. ' +
        'Haraka: its `access` plugin with the same sizes (1,000 client IPs, 10,000 sender addresses, 100 recipient regexes) — ' +
        'the closest equivalent it has, exact-match lists rather than CIDR and hash tables.',
      mode: 'discard',
      lookup: true,
      size: 1024,
      n: n(2000),
      sessions: 20,
    },
  ],
  // Postern's own per-module micro-benchmarks (owned by their areas), run in-process: what its parts do
  // while the end-to-end path is not wired yet. Not comparable with the server figures above.
  components: [
    {
      id: 'component-queue',
      title:
        "component: Postern's segment queue store alone, 20 writers × 1 KiB durable commits (bench/queue-commit.mjs)",
      mode: 'component',
      note: COMPONENT_NOTE,
      script: 'queue-commit.mjs',
      args: ['20', String(n(5000)), '1024'],
      withDir: true,
      n: n(5000),
    },
    {
      id: 'component-cleanup',
      title:
        "component: Postern's cleanup(8) path alone, 20 sources × 1 KiB, header pass + durable store (bench/cleanup-commit.mjs)",
      mode: 'component',
      note: COMPONENT_NOTE,
      script: 'cleanup-commit.mjs',
      args: ['20', String(n(5000)), '1024'],
      withDir: true,
      n: n(5000),
    },
    {
      id: 'component-smtp',
      title: "component: Postern's smtp(8) client alone to smtp-sink, 20 deliveries in flight (bench/smtp-client.mjs)",
      mode: 'component',
      note: `${COMPONENT_NOTE} The process's CPU includes the smtp-sink it starts and reaps.`,
      script: 'smtp-client.mjs',
      args: [String(n(2000)), '20'],
      n: n(2000),
    },
  ],
};

export const ORDER = ['limit', 'ingest', 'relay', 'local', 'submit', 'sessions', 'lookup', 'components'];
