// ldap tables over StartTLS (tls_require_cert, tls_ca_cert_file) and with
// `bind = sasl` (PLAIN), against slapd configured by .ci/setup.d/41-dict-ldap.sh
// (self-signed certificate in /etc/ldap/postern-tls); skipped with a reason
// when slapd or its TLS setup is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DictRetryError } from '../../src/global/dict/dict-api.js';
import { openDictUncached } from '../../src/global/dict/open.js';
import { TableSyntaxError } from '../../src/global/dict/table-source.js';
import { tempDir } from './helpers.js';

const CA = '/etc/ldap/postern-tls/cert.pem';

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

const BASE = [
  'server_host = 127.0.0.1',
  'search_base = ou=aliases,dc=example,dc=com',
  'query_filter = (mail=%s)',
  'result_attribute = description',
];

test('bind = sasl with a mechanism ldapts cannot send is refused when the table is opened', async (t) => {
  const dir = await tempDir(t);
  const f = join(dir, 'digest.cf');
  await writeFile(f, [...BASE, 'bind = sasl', 'sasl_mechs = DIGEST-MD5'].join('\n'));
  await assert.rejects(openDictUncached(`ldap:${f}`), (e: Error) => {
    assert.ok(e instanceof TableSyntaxError);
    assert.match(e.message, /sasl_mechs "DIGEST-MD5": only PLAIN and EXTERNAL are supported/);
    return true;
  });
});

test('ldap over StartTLS, certificate checking, and SASL PLAIN (slapd on 127.0.0.1:389)', async (t) => {
  if (!(await reachable(389))) return t.skip('slapd not reachable on 127.0.0.1:389');
  if (!existsSync(CA)) return t.skip(`${CA} missing (run .ci/setup.d/41-dict-ldap.sh)`);
  const dir = await tempDir(t);
  const open = async (name: string, extra: string[]): Promise<ReturnType<typeof openDictUncached>> => {
    const f = join(dir, `${name}.cf`);
    await writeFile(f, [...BASE, ...extra].join('\n') + '\n');
    const d = await openDictUncached(`ldap:${f}`);
    t.after(() => d.close());
    return d;
  };
  const trusted = await open('trusted', ['start_tls = yes', 'tls_require_cert = yes', `tls_ca_cert_file = ${CA}`]);
  let first: string | undefined;
  try {
    first = await trusted.lookup('info@example.com');
  } catch (e) {
    return t.skip(`slapd without StartTLS (run .ci/setup.d/41-dict-ldap.sh): ${(e as Error).message}`);
  }
  assert.equal(first, 'joe@example.net');
  // The same server is refused when its self-signed certificate must be verified without the CA.
  const untrusted = await open('untrusted', ['start_tls = yes', 'tls_require_cert = yes']);
  await assert.rejects(untrusted.lookup('info@example.com'), DictRetryError);
  // tls_require_cert = no (the default) accepts it.
  const lax = await open('lax', ['start_tls = yes']);
  assert.equal(await lax.lookup('info@example.com'), 'joe@example.net');

  const sasl = ['start_tls = yes', `tls_ca_cert_file = ${CA}`, 'bind = sasl', 'sasl_mechs = PLAIN', 'bind_dn = info'];
  const plain = await open('plain', [...sasl, 'bind_pw = info-secret']);
  let viaSasl: string | undefined;
  try {
    viaSasl = await plain.lookup('list@example.com');
  } catch (e) {
    return t.skip(`slapd without SASL PLAIN for cn=info (run .ci/setup.d/41-dict-ldap.sh): ${(e as Error).message}`);
  }
  assert.equal(viaSasl, 'one@example.net,two@example.net');
  const wrong = await open('wrong', [...sasl, 'bind_pw = wrong']);
  await assert.rejects(wrong.lookup('list@example.com'), DictRetryError);
});
