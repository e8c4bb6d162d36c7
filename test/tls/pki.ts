// A throwaway PKI made with the real openssl command for the TLS and SASL
// tests: a CA, an RSA and an ECDSA server certificate for mx.example.test
// (also as Postfix chain files: key then chain), a client certificate the CA
// signed and a self-signed one the CA does not know.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly rsaCert: string;
  readonly rsaKey: string;
  readonly rsaChain: string;
  readonly ecChain: string;
  /** A second RSA certificate (for the reload test). */
  readonly rsa2Chain: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly selfCert: string;
  readonly selfKey: string;
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function makePki(): Pki | undefined {
  if (!hasOpenssl()) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'postern-pki-'));
  const ossl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  const p = (n: string): string => join(dir, n);
  ossl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Postern Test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  ]);
  writeFileSync(p('ext.cnf'), 'subjectAltName=DNS:mx.example.test\n');
  const issue = (name: string, keyArgs: string[], cn: string): void => {
    ossl(['req', '-new', ...keyArgs, '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    ossl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
      '-out',
      `${name}.pem`,
    ]);
    writeFileSync(
      p(`${name}-chain.pem`),
      readFileSync(p(`${name}.key`), 'utf8') +
        readFileSync(p(`${name}.pem`), 'utf8') +
        readFileSync(p('ca.pem'), 'utf8'),
    );
  };
  issue('rsa', ['-newkey', 'rsa:2048'], 'mx.example.test');
  issue('rsa2', ['-newkey', 'rsa:2048'], 'mx2.example.test');
  issue('ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'], 'mx.example.test');
  issue('client', ['-newkey', 'rsa:2048'], 'client.example.test');
  ossl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=stranger',
    '-keyout',
    'self.key',
    '-out',
    'self.pem',
  ]);
  return {
    dir,
    caCert: p('ca.pem'),
    rsaCert: p('rsa.pem'),
    rsaKey: p('rsa.key'),
    rsaChain: p('rsa-chain.pem'),
    ecChain: p('ec-chain.pem'),
    rsa2Chain: p('rsa2-chain.pem'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    selfCert: p('self.pem'),
    selfKey: p('self.key'),
  };
}
