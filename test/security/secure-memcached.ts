/**
 * memcached with TLS (`-Z`) or `-Y` authentication, on ports the OS picks, stopped by PID.
 *
 * The shared harness (`test/harness/memcached.ts`) decides a server is up when it answers a plaintext
 * `version`, which neither a TLS port nor a `-Y` server does. This launcher adds a plaintext
 * (`notls:`) listener next to a TLS one and logs in before asking, then checks by `stats pid` that
 * the answer came from its own child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 5000;

export interface SecureMemcachedOptions {
  /** Serve TLS on {@link SecureMemcached.port} (and plaintext on {@link SecureMemcached.plainPort}). */
  tls?: { cert: string; key: string; ca?: string; verifyMode?: 0 | 1 | 2 | 3 };
  /** `-Y <file>` and the credentials the launcher logs in with. */
  auth?: { file: string; username: string; password: string };
  /** Extra arguments, appended last. */
  args?: string[];
  /** `-m` in megabytes. @default 64 */
  memoryMb?: number;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) if (child.pid !== undefined) kill(child.pid, 'SIGKILL');
});

export class SecureMemcached {
  readonly host = HOST;
  #child: ChildProcess;
  #exited: Promise<void>;

  constructor(
    /** The TLS port with `tls`, else the only (plaintext) port. */
    readonly port: number,
    /** A plaintext port on the same server (the same as `port` without TLS). */
    readonly plainPort: number,
    private readonly argv: string[],
    private readonly options: SecureMemcachedOptions,
    launched: Launched,
  ) {
    this.#child = launched.child;
    this.#exited = launched.exited;
  }

  get address(): string {
    return `${HOST}:${this.port}`;
  }

  get plainAddress(): string {
    return `${HOST}:${this.plainPort}`;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Sends `sig` (SIGKILL by default) to the child by PID and resolves once it has exited. */
  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) kill(this.pid, sig);
    this.#child.ref();
    await this.#exited;
  }

  /** A new process on the same ports and arguments, once it answers. */
  async restart(): Promise<void> {
    await this.kill();
    const launched = await launch(this.argv, this.plainPort, this.options);
    this.#child = launched.child;
    this.#exited = launched.exited;
  }

  /** `stats` over a fresh plaintext connection (logged in first under `-Y`). */
  async stats(): Promise<Record<string, string>> {
    const reply = await converse(this.plainPort, this.options.auth, 'stats\r\n', 'END\r\n');
    const stats: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const line of reply.split('\r\n')) {
      const m = /^STAT (\S+) (.*)$/.exec(line);
      if (m) stats[m[1]] = m[2];
    }
    return stats;
  }
}

interface Launched {
  child: ChildProcess;
  exited: Promise<void>;
}

export async function startSecureMemcached(options: SecureMemcachedOptions): Promise<SecureMemcached> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const plainPort = options.tls ? await freePort() : port;
    const listen = options.tls ? `${HOST}:${port},notls:${HOST}:${plainPort}` : `${HOST}:${port}`;
    const argv = ['-l', listen, '-U', '0', '-t', '1', '-m', String(options.memoryMb ?? 64)];
    if (process.getuid?.() === 0) argv.push('-u', 'root');
    if (options.tls) {
      const { cert, key, ca, verifyMode } = options.tls;
      let o = `ssl_chain_cert=${cert},ssl_key=${key}`;
      if (ca !== undefined) o += `,ssl_ca_cert=${ca}`;
      if (verifyMode !== undefined) o += `,ssl_verify_mode=${verifyMode}`;
      argv.push('-Z', '-o', o);
    }
    if (options.auth) argv.push('-Y', options.auth.file);
    argv.push(...(options.args ?? []));
    try {
      const launched = await launch(argv, plainPort, options);
      return new SecureMemcached(port, plainPort, argv, options, launched);
    } catch (err) {
      // Another program may have taken a port between freePort() and memcached's bind.
      if (attempt >= 4 || !/Address already in use|another process/.test(String(err))) throw err;
    }
  }
}

async function launch(argv: string[], plainPort: number, options: SecureMemcachedOptions): Promise<Launched> {
  const child = spawn('memcached', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const pipe = child.stderr as net.Socket;
  pipe.setEncoding('utf8');
  pipe.on('data', (s: string) => {
    if (stderr.length < 8192) stderr += s;
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  }).then(() => {
    running.delete(child);
    pipe.destroy();
  });
  child.unref();
  pipe.unref();
  let gone = false;
  void exited.then(() => (gone = true));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (let backoff = 5; !gone && Date.now() < deadline; backoff = Math.min(2 * backoff, 50)) {
    const reply = await converse(plainPort, options.auth, 'stats\r\n', 'END\r\n', 500).catch(() => '');
    const pid = /STAT pid (\d+)/.exec(reply)?.[1];
    if (pid !== undefined) {
      if (Number(pid) === child.pid) return { child, exited };
      break; // someone else's memcached answered on our port
    }
    await new Promise((resolve) => setTimeout(resolve, backoff));
  }
  if (child.pid !== undefined) kill(child.pid, 'SIGKILL');
  child.ref();
  await exited;
  throw new Error(`memcached ${argv.join(' ')} did not start (or another process answered): ${stderr}`);
}

/**
 * Writes `bytes` on a fresh plaintext connection (after logging in with `auth`, alone and answered
 * first, as memcached requires) and returns what came back, up to and including `until`.
 */
export function converse(
  port: number,
  auth: { username: string; password: string } | undefined,
  bytes: string,
  until: string,
  timeoutMs = 5000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let received = '';
    let loggedIn = auth === undefined;
    const timer = setTimeout(() => finish(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(received);
    };
    socket.on('connect', () => {
      if (auth === undefined) socket.write(bytes);
      else {
        const login = `${auth.username} ${auth.password}`;
        socket.write(`set _ 0 0 ${Buffer.byteLength(login)}\r\n${login}\r\n`);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!loggedIn) {
        if (!received.includes('\r\n')) return;
        if (!received.startsWith('STORED\r\n')) return finish(new Error('login refused'));
        loggedIn = true;
        received = received.slice(8);
        socket.write(bytes);
      }
      if (received.endsWith(until)) finish();
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error('closed before the reply ended')));
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port: 0 }, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function kill(pid: number, sig: NodeJS.Signals): void {
  if (!(pid > 0)) return; // never 0 or -1: those address process groups
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
