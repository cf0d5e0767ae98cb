/**
 * One line of memcached's text protocol on a short-lived connection, for the programs' probes
 * (readiness, `stats`, `version`), opened by the engine's transport like every other connection;
 * only the benchmark's raw ceiling opens its own sockets, as it must not go through memline.
 */
import { Transport } from '../../lib/transport.js';

/**
 * Sends `line` to `address` (`host:port`) and resolves with everything read once `complete` says the
 * reply is whole, or undefined on an error, a close or `timeoutMs` without it.
 */
export function ask(
  address: string,
  line: string,
  complete: (reply: string) => boolean,
  timeoutMs: number,
): Promise<string | undefined> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const transport = new Transport(
      { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) },
      () => transport.socket.write(`${line}\r\n`), // on connect, after the assignment
    );
    const socket = transport.socket;
    let reply = '';
    const done = (value: string | undefined): void => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.startsWith('ERROR') || reply.startsWith('CLIENT_ERROR')) done(undefined);
      else if (complete(reply)) done(reply);
    });
    socket.once('error', () => done(undefined));
    socket.once('close', () => done(undefined));
  });
}

/** memcached's `stats` as a map, or undefined when it does not answer within `timeoutMs`. */
export async function serverStats(
  address: string,
  timeoutMs = 2000,
): Promise<Map<string, string> | undefined> {
  const reply = await ask(address, 'stats', (r) => r.endsWith('END\r\n'), timeoutMs);
  if (reply === undefined) return undefined;
  const stats = new Map<string, string>();
  for (const m of reply.matchAll(/^STAT (\S+) (.*)\r$/gm)) stats.set(m[1], m[2]);
  return stats;
}

/** What `version` answers (e.g. "1.6.18"), or undefined when it does not answer within `timeoutMs`. */
export async function serverVersion(address: string, timeoutMs = 2000): Promise<string | undefined> {
  const reply = await ask(address, 'version', (r) => /^VERSION \S+\r\n/.test(r), timeoutMs);
  return reply === undefined ? undefined : /^VERSION (\S+)/.exec(reply)?.[1];
}
