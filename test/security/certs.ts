/**
 * Test certificates made with `openssl` at run time, in a temporary directory removed by
 * {@link TestPki.remove}: a CA, a server certificate it signed (SAN localhost and 127.0.0.1), a client
 * certificate it signed, a second ("rogue") CA with a client certificate of its own, and a
 * self-signed server certificate. Nothing is committed; every run has fresh keys.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its key: the file paths (for memcached) and the PEM text (for the client). */
export interface CertFiles {
  certPath: string;
  keyPath: string;
  cert: Buffer;
  key: Buffer;
}

export interface TestPki {
  dir: string;
  /** The test CA. */
  ca: CertFiles;
  /** Signed by {@link ca}; SAN DNS:localhost, IP:127.0.0.1. */
  server: CertFiles;
  /** Signed by {@link ca}; for mutual TLS. */
  client: CertFiles;
  /** A CA nobody trusts. */
  rogueCa: CertFiles;
  /** Signed by {@link rogueCa}. */
  rogueClient: CertFiles;
  /** Self-signed, SAN localhost and 127.0.0.1. */
  selfSigned: CertFiles;
  remove(): Promise<void>;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd });
}

async function load(dir: string, name: string): Promise<CertFiles> {
  const certPath = path.join(dir, `${name}.crt`);
  const keyPath = path.join(dir, `${name}.key`);
  return { certPath, keyPath, cert: await readFile(certPath), key: await readFile(keyPath) };
}

/** EC P-256 keys: quick to generate, and every TLS stack here speaks them. */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string, cn: string): Promise<void> {
  await openssl(dir, [
    'req', '-x509', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2',
    '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]); // prettier-ignore
}

async function makeLeaf(dir: string, name: string, ca: string, cn: string, ext: string): Promise<void> {
  await writeFile(path.join(dir, `${name}.ext`), ext);
  await openssl(dir, [
    'req', '-new', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`,
  ]); // prettier-ignore
  await openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`,
  ]); // prettier-ignore
}

const SERVER_EXT =
  'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' +
  'subjectAltName=DNS:localhost,IP:127.0.0.1\n';
const CLIENT_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n';

/** Generates the whole set (about a second). */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(path.join(tmpdir(), 'memline-pki-'));
  try {
    await Promise.all([makeCa(dir, 'ca', 'memline test CA'), makeCa(dir, 'rogue-ca', 'rogue CA')]);
    await Promise.all([
      makeLeaf(dir, 'server', 'ca', 'localhost', SERVER_EXT),
      makeLeaf(dir, 'client', 'ca', 'memline test client', CLIENT_EXT),
      makeLeaf(dir, 'rogue-client', 'rogue-ca', 'rogue client', CLIENT_EXT),
      openssl(dir, [
        'req', '-x509', ...NEW_KEY, '-keyout', 'self.key', '-out', 'self.crt', '-days', '2',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ]), // prettier-ignore
    ]);
    const [ca, server, client, rogueCa, rogueClient, selfSigned] = await Promise.all(
      ['ca', 'server', 'client', 'rogue-ca', 'rogue-client', 'self'].map((n) => load(dir, n)),
    );
    return {
      dir,
      ca,
      server,
      client,
      rogueCa,
      rogueClient,
      selfSigned,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
