/**
 * Starts a throwaway memcached on a free loopback port for the programs (example, soak, bench), and stops it (by PID) on
 * exit or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface LocalMemcached {
  readonly address: string;
  readonly pid: number;
  stop(): Promise<void>;
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
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(500, () => socket.destroy());
    socket.once('connect', () => socket.write('version\r\n'));
    socket.once('data', (chunk) => {
      socket.destroy();
      resolve(chunk.toString('latin1').startsWith('VERSION '));
    });
    socket.once('close', () => resolve(false));
    socket.once('error', () => undefined);
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startLocalMemcached(): Promise<LocalMemcached> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-t', '1', '-m', '64'];
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
        return { address: `127.0.0.1:${port}`, pid: child.pid!, stop };
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGKILL');
    await exited(child);
    if (!/Address already in use/.test(stderr)) throw new Error(`memcached did not start: ${stderr.trim()}`);
  }
  throw new Error('memcached did not start: no free port after 5 attempts');
}
