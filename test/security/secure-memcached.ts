/**
 * memcached with TLS (`-Z`) or `-Y` authentication: a configuration of the shared child-process harness.
 *
 * Neither a TLS port nor a `-Y` server answers a plaintext `stats`, so this one adds a plaintext
 * (`notls:`) listener next to a TLS one and logs in before asking for the PID.
 */
import { memcachedArgs, memcachedPid, parseStats } from '../harness/memcached.js';
import {
  endsWith,
  exchange,
  HOST,
  ServerProcess,
  startServer,
  type ExchangeStep,
  type ServerConfig,
} from '../harness/server-process.js';

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

interface SecureConfig extends ServerConfig {
  options: SecureMemcachedOptions;
}

export class SecureMemcached extends ServerProcess {
  declare readonly config: SecureConfig;

  /** A plaintext port on the same server (the same as `port` without TLS). */
  get plainPort(): number {
    return this.ports.at(-1)!;
  }

  get plainAddress(): string {
    return `${HOST}:${this.plainPort}`;
  }

  /** A new process on the same ports and arguments (after SIGKILL to the current one), once it answers. */
  override async restart(): Promise<void> {
    await this.kill();
    await super.restart();
  }

  /** `stats` over a fresh plaintext connection (logged in first under `-Y`). */
  async stats(): Promise<Record<string, string>> {
    return parseStats(
      Buffer.from(await converse(this.plainPort, this.config.options.auth, 'stats\r\n', 'END\r\n')),
    );
  }
}

export function startSecureMemcached(options: SecureMemcachedOptions): Promise<SecureMemcached> {
  const { tls, auth } = options;
  const config: SecureConfig = {
    program: 'memcached',
    portCount: tls ? 2 : 1,
    args: ([port, plainPort]) => {
      const listen = tls ? `${HOST}:${port},notls:${HOST}:${plainPort}` : `${HOST}:${port}`;
      const args = memcachedArgs(listen, 1, options.memoryMb ?? 64);
      if (tls) {
        let o = `ssl_chain_cert=${tls.cert},ssl_key=${tls.key}`;
        if (tls.ca !== undefined) o += `,ssl_ca_cert=${tls.ca}`;
        if (tls.verifyMode !== undefined) o += `,ssl_verify_mode=${tls.verifyMode}`;
        args.push('-Z', '-o', o);
      }
      if (auth) args.push('-Y', auth.file);
      return [...args, ...(options.args ?? [])];
    },
    probePid: (ports, probe) => memcachedPid(ports.at(-1)!, login(auth), probe),
    options,
  };
  return startServer(SecureMemcached, config);
}

/**
 * Writes `bytes` on a fresh plaintext connection (after logging in with `auth`, alone and answered
 * first, as memcached requires) and returns what came back, up to and including `until`.
 */
export async function converse(
  port: number,
  auth: { username: string; password: string } | undefined,
  bytes: string,
  until: string,
  timeoutMs = 5000,
): Promise<string> {
  const replies = await exchange(port, [...login(auth), { write: bytes, until: endsWith(until) }], {
    timeoutMs,
  });
  return replies.at(-1)!.toString('latin1');
}

/** The `-Y` login (a `set` of "user password"), as the first step of an exchange. */
function login(auth: { username: string; password: string } | undefined): ExchangeStep[] {
  if (auth === undefined) return [];
  const text = `${auth.username} ${auth.password}`;
  return [{ write: `set _ 0 0 ${Buffer.byteLength(text)}\r\n${text}\r\n`, until: endsWith('\r\n') }];
}
