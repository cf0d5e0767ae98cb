import { once } from 'node:events';
import net from 'node:net';
import { startMemcached } from './memcached.js';

/** A loopback port where a TCP connect neither completes nor fails. */
export interface Blackhole {
  port: number;
  address: string;
  /** Destroys the queue fillers and ends the listening process. Idempotent. */
  close(): Promise<void>;
}

const FILLERS = 4;

/**
 * Starts a listener whose accept queue is full, so the kernel drops every new SYN and a client's
 * `connect()` stays pending (for connect-timeout tests).
 *
 * Node cannot listen without accepting (libuv accepts as soon as the socket is readable, and a
 * `backlog` of 0 becomes 511), so the listener is a memcached started with `-b 0` and then stopped
 * with SIGSTOP. A few connects fill its accept queue: Linux queues backlog + 1 = 1 connection and
 * drops SYNs from then on; the other fillers stay half-open themselves.
 */
export async function startBlackhole(): Promise<Blackhole> {
  const listener = await startMemcached({ args: ['-b', '0'] });
  await listener.pause();

  const fillers: net.Socket[] = [];
  for (let i = 0; i < FILLERS; i++) {
    const socket = net.connect({ host: listener.host, port: listener.port });
    socket.on('error', () => {}); // half-open fillers time out after minutes; nothing to report
    socket.unref();
    fillers.push(socket);
  }
  await Promise.race(fillers.map((socket) => once(socket, 'connect')));

  let closing: Promise<void> | undefined;
  return {
    port: listener.port,
    address: listener.address,
    close() {
      closing ??= (async () => {
        for (const socket of fillers) socket.destroy();
        await listener.stop();
      })();
      return closing;
    },
  };
}
