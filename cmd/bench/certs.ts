/**
 * A self-signed certificate for the TLS cell, made with `openssl` at run time in a temporary directory
 * and removed afterwards: EC P-256, valid for 127.0.0.1 and localhost. Nothing is committed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BenchCert {
  /** Files for memcached's `ssl_chain_cert` and `ssl_key`. */
  certPath: string;
  keyPath: string;
  /** The certificate as PEM: what the clients trust. */
  pem: string;
  remove(): Promise<void>;
}

export async function makeCert(): Promise<BenchCert> {
  const dir = await mkdtemp(join(tmpdir(), 'memline-bench-tls-'));
  const certPath = join(dir, 'server.crt');
  const keyPath = join(dir, 'server.key');
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]); // prettier-ignore
    return { certPath, keyPath, pem: await readFile(certPath, 'latin1'), remove };
  } catch (err) {
    await remove();
    throw new Error(`cannot make a TLS certificate with openssl: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
