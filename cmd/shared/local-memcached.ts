/**
 * Starts a throwaway memcached on a free loopback port for the programs (example, soak, bench), and stops it (by PID) on
 * exit or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { serverVersion } from './ask.js';

export interface LocalMemcached {
  /** Where clients connect (TLS when the server was started with {@link LocalMemcachedOptions.tls}). */
  readonly address: string;
  /** A plaintext listener of the same server, for `stats` and `version` (the same as `address` without TLS). */
  readonly plainAddress: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface LocalMemcachedOptions {
  /** Serve TLS (`-Z`) on `address` with this certificate and key, and plaintext on `plainAddress`. */
  tls?: { certPath: string; keyPath: string };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function answersVersion(port: number): Promise<boolean> {
  return (await serverVersion(`127.0.0.1:${port}`, 500)) !== undefined;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startLocalMemcached(options: LocalMemcachedOptions = {}): Promise<LocalMemcached> {
  const { tls } = options;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const tlsPort = tls === undefined ? port : await freePort();
    const listen =
      tls === undefined
        ? ['-l', '127.0.0.1', '-p', String(port)]
        : ['-l', `127.0.0.1:${tlsPort},notls:127.0.0.1:${port}`, '-Z'];
    const args = [...listen, '-U', '0', '-t', '1', '-m', '64'];
    if (tls !== undefined) args.push('-o', `ssl_chain_cert=${tls.certPath},ssl_key=${tls.keyPath}`);
    if (process.getuid?.() === 0) args.push('-u', 'root');
    const child = spawn('memcached', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    for (let i = 0; i < 50 && child.exitCode === null; i++) {
      const ready = await Promise.race([answersVersion(port), spawnError]);
      if (ready instanceof Error)
        throw new Error(`cannot start memcached (${ready.message}); is it installed?`);
      if (ready) {
        const stop = async (): Promise<void> => {
          child.kill('SIGKILL');
          await exited(child);
        };
        const onSignal = (): void => {
          child.kill('SIGKILL');
          process.exit(130);
        };
        process.once('SIGINT', onSignal);
        process.once('exit', () => child.kill('SIGKILL'));
        return {
          address: `127.0.0.1:${tlsPort}`,
          plainAddress: `127.0.0.1:${port}`,
          pid: child.pid!,
          stop,
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGKILL');
    await exited(child);
    if (!/Address already in use/.test(stderr)) throw new Error(`memcached did not start: ${stderr.trim()}`);
  }
  throw new Error('memcached did not start: no free port after 5 attempts');
}
