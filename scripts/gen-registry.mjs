// One-off generator kept for transparency: it turned Postfix 3.7's `postconf -d`
// list (../shared/postconf-d-3.7.txt) into the first version of the typed
// registry table in src/global/params/registry-table.ts. The table is now edited by hand;
// rerunning this script would overwrite hand-set types and components, and would
// re-add the per-transport names (relay_destination_concurrency_limit, ...)
// that exist only because of Debian's master.cf; those are now derived at run
// time from master.cf (src/global/params/service-params.ts).
import { readFileSync, writeFileSync } from 'node:fs';

const src = readFileSync(new URL('../../shared/postconf-d-3.7.txt', import.meta.url), 'utf8');
const lines = src.split('\n').filter((l) => l.includes(' = ') || l.endsWith(' ='));
const LIST = /(_maps|_restrictions|_domains|_checks|_classes|_networks|_exceptions|_keywords|_clients|_hosts|_list|_filter_classes)$|^(mydestination|mynetworks|inet_interfaces|proxy_interfaces|alias_maps|alias_database|forward_path|allow_mail_to_commands|allow_mail_to_files|masquerade_domains|debug_peer_list|smtpd_milters|non_smtpd_milters|always_bcc|parent_domain_matches_subdomains|authorized_verp_clients|propagate_unmatched_extensions)$/;
const HOST = new Set(['myhostname', 'mydomain', 'mynetworks', 'process_id', 'process_name']);
const BUILD = /^(command_directory|config_directory|daemon_directory|data_directory|html_directory|mail_owner|mail_release_date|mail_version|mailq_path|manpage_directory|meta_directory|newaliases_path|queue_directory|readme_directory|sample_directory|sendmail_path|setgid_group|shlib_directory|mail_spool_directory|default_database_type|default_cache_db_type|tls_random_source)$/;
function component(n) {
  const pre = [
    ['smtpd_', 'smtpd'], ['smtp_', 'smtp'], ['lmtp_', 'lmtp'], ['postscreen_', 'postscreen'], ['tlsproxy_', 'tlsproxy'],
    ['local_', 'local'], ['mailbox_', 'local'], ['alias_', 'local'], ['virtual_mailbox', 'virtual'], ['virtual_uid', 'virtual'],
    ['virtual_gid', 'virtual'], ['virtual_minimum', 'virtual'], ['virtual_alias', 'cleanup'], ['qmgr_', 'qmgr'], ['default_destination', 'qmgr'],
    ['header_', 'cleanup'], ['body_', 'cleanup'], ['canonical', 'cleanup'], ['masquerade', 'cleanup'], ['cleanup_', 'cleanup'],
    ['bounce_', 'bounce'], ['anvil_', 'anvil'], ['pipe_', 'pipe'], ['tls_', 'tls'], ['milter_', 'milter'], ['address_verify', 'verify'],
    ['transport_', 'trivial-rewrite'], ['relay', 'trivial-rewrite'], ['resolve_', 'trivial-rewrite'], ['swap_bangpath', 'trivial-rewrite'],
    ['allow_percent', 'trivial-rewrite'], ['sendmail_', 'sendmail'], ['pickup_', 'pickup'], ['master_', 'master'], ['postmulti', 'postmulti'],
    ['queue_', 'queue'], ['maximal_', 'qmgr'], ['minimal_', 'qmgr'], ['syslog_', 'log'], ['maillog_', 'log'], ['postlog', 'log'],
  ];
  for (const [p, c] of pre) if (n.startsWith(p)) return c;
  return 'global';
}
function type(n, v) {
  if (v === 'yes' || v === 'no') return 'bool';
  if (/^\d+$/.test(v)) return /size|_limit$/.test(n) && /size/.test(n) ? 'size' : 'int';
  if (/^\d+[smhdw]$/.test(v)) return 'time';
  if (LIST.test(n)) return 'list';
  return 'string';
}
let out = `// The typed parameter registry's table: every main.cf parameter Postern knows,
// with Postfix 3.7's default text (expanded lazily at use), its type and the
// component that owns it. First generated from Postfix 3.7's \`postconf -d\`
// (see scripts/gen-registry.mjs), now maintained here by hand.
//
// Flags: 'host' = computed from the running machine (see host-defaults.ts);
// 'build' = an install-time path or name (see install-defaults.ts).
import type { ParamSpec } from './types.js';

export const PARAMS: readonly ParamSpec[] = [
`;
for (const l of lines) {
  const i = l.indexOf(' =');
  const n = l.slice(0, i);
  let v = l.slice(i + 2).replace(/^ /, '');
  const t = type(n, v);
  const flags = HOST.has(n) ? `, origin: 'host'` : BUILD.test(n) ? `, origin: 'build'` : '';
  out += `  { name: ${JSON.stringify(n)}, def: ${JSON.stringify(v)}, type: '${t}', component: '${component(n)}'${flags} },\n`;
}
out += '];\n';
writeFileSync(new URL('../src/global/params/registry-table.ts', import.meta.url), out);
console.log(lines.length, 'parameters');
