/**
 * The ceiling: a raw `net.Socket` that pipelines `mg <key> v` (and `ms`) with the least work a correct
 * client can do. Requests queued in one tick go out in one write; replies are counted by reading the
 * `VA <size>` header, skipping `size + 2` bytes, and scanning for the next `\r\n`. No per-reply objects:
 * a reply is compared in place against the value expected for its key (every client in the benchmark
 * pays for one such comparison) and reported to the waiter at the head of a ring-buffer FIFO.
 */
import net from 'node:net';

/** How a reply turned out. */
export const OK = 0;
/** A miss, or a value other than the one expected. */
export const MISMATCH = 1;
/** A reply that does not fit the request, or a closed connection. */
export const FAILED = 2;
export type Outcome = typeof OK | typeof MISMATCH | typeof FAILED;

/** Receives one reply per request it queued, in order. */
export interface RawWaiter {
  reply(outcome: Outcome): void;
}

const LF = 0x0a;

export class RawConnection {
  readonly #socket: net.Socket;
  #out = '';
  #scheduled = false;
  // FIFO of requests written and not yet answered: waiter and the value expected (undefined for ms).
  #waiters: (RawWaiter | undefined)[] = new Array<RawWaiter | undefined>(1024);
  #expect: (Buffer | undefined)[] = new Array<Buffer | undefined>(1024);
  #head = 0;
  #tail = 0;
  // Reply parser state: bytes of value + CRLF still to skip, and how the value compares so far.
  #left = 0;
  #valueOk = true;
  #valueOffset = 0;
  #carry: Buffer | undefined;
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.#failAll());
  }

  static connect(address: string): Promise<RawConnection> {
    const colon = address.lastIndexOf(':');
    const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawConnection(socket));
      });
    });
  }

  /** Queues `mg <key> v`; the reply is checked against `expected`. */
  get(key: string, expected: Buffer, waiter: RawWaiter): void {
    this.#push(waiter, expected);
    this.#queue('mg ' + key + ' v\r\n');
  }

  /** Queues `ms <key> <len>` with `text` (ASCII) as the value; `HD` is the expected reply. */
  set(key: string, text: string, waiter: RawWaiter): void {
    this.#push(waiter, undefined);
    this.#queue('ms ' + key + ' ' + String(text.length) + '\r\n' + text + '\r\n');
  }

  close(): void {
    this.#socket.destroy();
  }

  #push(waiter: RawWaiter, expected: Buffer | undefined): void {
    const mask = this.#waiters.length - 1;
    if (((this.#tail + 1) & mask) === this.#head) this.#grow();
    this.#waiters[this.#tail] = waiter;
    this.#expect[this.#tail] = expected;
    this.#tail = (this.#tail + 1) & (this.#waiters.length - 1);
  }

  #grow(): void {
    const n = this.#waiters.length;
    const waiters = new Array<RawWaiter | undefined>(n * 2);
    const expect = new Array<Buffer | undefined>(n * 2);
    let j = 0;
    for (let i = this.#head; i !== this.#tail; i = (i + 1) & (n - 1), j++) {
      waiters[j] = this.#waiters[i];
      expect[j] = this.#expect[i];
    }
    this.#waiters = waiters;
    this.#expect = expect;
    this.#head = 0;
    this.#tail = j;
  }

  #queue(text: string): void {
    if (this.#closed) {
      this.#failAll();
      return;
    }
    this.#out += text;
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const out = this.#out;
    this.#out = '';
    if (!this.#closed) this.#socket.write(out, 'latin1');
  };

  /** Settles the head of the FIFO. */
  #settle(outcome: Outcome): void {
    if (this.#head === this.#tail) {
      this.#socket.destroy(); // a reply nobody asked for: out of sync
      return;
    }
    const waiter = this.#waiters[this.#head]!;
    this.#waiters[this.#head] = undefined;
    this.#expect[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#waiters.length - 1);
    waiter.reply(outcome);
  }

  #onData(incoming: Buffer): void {
    let chunk = incoming;
    if (this.#carry !== undefined) {
      chunk = Buffer.concat([this.#carry, incoming]);
      this.#carry = undefined;
    }
    const len = chunk.length;
    let pos = 0;
    while (pos < len) {
      if (this.#left > 0) {
        // Inside a value: compare what is here with the expected bytes, then skip it and its CRLF.
        const n = Math.min(this.#left, len - pos);
        const bytes = Math.min(n, this.#left - 2);
        if (bytes > 0 && this.#valueOk) {
          const expected = this.#expect[this.#head]!;
          const at = this.#valueOffset;
          if (chunk.compare(expected, at, at + bytes, pos, pos + bytes) !== 0) this.#valueOk = false;
          this.#valueOffset = at + bytes;
        }
        pos += n;
        this.#left -= n;
        if (this.#left === 0) this.#settle(this.#valueOk ? OK : MISMATCH);
        continue;
      }
      const lf = chunk.indexOf(LF, pos);
      if (lf < 0) {
        this.#carry = chunk.subarray(pos);
        return;
      }
      const c0 = chunk[pos];
      const c1 = chunk[pos + 1];
      if (c0 === 0x56 && c1 === 0x41) {
        // "VA <size> ...": the value follows.
        let size = 0;
        for (let i = pos + 3, c = chunk[i]; c >= 0x30 && c <= 0x39; c = chunk[++i])
          size = size * 10 + c - 0x30;
        const expected = this.#expect[this.#head];
        this.#valueOk = expected !== undefined && expected.length === size;
        this.#valueOffset = 0;
        this.#left = size + 2;
      } else if (c0 === 0x48 && c1 === 0x44) {
        this.#settle(this.#expect[this.#head] === undefined ? OK : MISMATCH); // HD
      } else if (c0 === 0x45 && c1 === 0x4e) {
        this.#settle(MISMATCH); // EN: a miss
      } else {
        this.#settle(FAILED);
      }
      pos = lf + 1;
    }
  }

  #failAll(): void {
    this.#closed = true;
    while (this.#head !== this.#tail) this.#settle(FAILED);
  }
}

/** Counts the replies to a batch of requests; resolves when all have come. */
export class RawBatch implements RawWaiter {
  readonly counts = [0, 0, 0];
  #left: number;
  readonly #resolve: () => void;
  readonly done: Promise<void>;

  constructor(n: number) {
    this.#left = n;
    let resolve!: () => void;
    this.done = new Promise<void>((r) => (resolve = r));
    this.#resolve = resolve;
    if (n === 0) resolve();
  }

  reply(outcome: Outcome): void {
    this.counts[outcome]++;
    if (--this.#left === 0) this.#resolve();
  }
}

/** memcached's `stats` as a map (one short-lived connection), or undefined when it does not answer. */
export function serverStats(address: string): Promise<Map<string, string> | undefined> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    let reply = '';
    const done = (value: Map<string, string> | undefined): void => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(2000, () => done(undefined));
    socket.once('connect', () => socket.write('stats\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.startsWith('ERROR')) done(undefined);
      if (!reply.endsWith('END\r\n')) return;
      const stats = new Map<string, string>();
      for (const m of reply.matchAll(/^STAT (\S+) (.*)\r$/gm)) stats.set(m[1], m[2]);
      done(stats);
    });
    socket.once('error', () => done(undefined));
    socket.once('close', () => done(undefined));
  });
}
