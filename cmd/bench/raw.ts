/**
 * The ceilings: a raw socket that pipelines requests with the least work a correct client can do.
 * Requests queued in one tick go out in one write; replies are counted by reading the `VA <size>`
 * header, skipping `size + 2` bytes, and scanning for the next `\r\n`. No per-reply objects: a reply is
 * compared in place against the value expected for its key (every client in the benchmark pays for one
 * such comparison) and reported to the waiter at the head of a ring-buffer FIFO.
 *
 * Two dialects. The minimal one sends `mg <key> v` and `ms <key> <len>`. The contract one sends what
 * memline's contract needs: `mg <key> v f c O<n>` (flags for the serializer, the CAS token, an opaque
 * checked against the FIFO's head), `ms <key> <len> O<n>`, and a getMulti as quiet
 * `mg <key> v f c q k O<n>` lines closed by `mn`, where a missing opaque before `MN` is a miss.
 */
import net from 'node:net';
import tls from 'node:tls';

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

/** Which requests a connection sends: see the file's comment. */
export type Dialect = 'minimal' | 'contract';

/** How a connection reaches its server: plain TCP, or TLS trusting `ca`. */
export interface RawTransport {
  tls?: { ca: string };
}

/** Opaques cycle through this many precomputed tokens (a power of two), as memline's do. */
const OPAQUES = 4096;
const OPAQUE_TOKENS = Array.from({ length: OPAQUES }, (_, i) => ' O' + String(i) + '\r\n');
const QUIET_TOKENS = Array.from({ length: OPAQUES }, (_, i) => ' v f c q k O' + String(i) + '\r\n');
const GET_TOKENS = Array.from({ length: OPAQUES }, (_, i) => ' v f c O' + String(i) + '\r\n');

/** The FIFO entry that stands for `mn`: everything quiet before it that has no reply was a miss. */
const MN_MARK: RawWaiter = { reply: () => undefined };
/** An entry's opaque when the request carries none. */
const NO_OPAQUE = -1;

export class RawConnection {
  readonly #socket: net.Socket;
  readonly #contract: boolean;
  #opaque = 0;
  #out = '';
  #scheduled = false;
  // FIFO of requests written and not yet answered: waiter and the value expected (undefined for ms).
  #waiters: (RawWaiter | undefined)[] = new Array<RawWaiter | undefined>(1024);
  #expect: (Buffer | undefined)[] = new Array<Buffer | undefined>(1024);
  // The opaque each entry was sent with (contract dialect; NO_OPAQUE otherwise), and whether it is quiet.
  #opaques = new Int32Array(1024);
  #quiet = new Uint8Array(1024);
  #head = 0;
  #tail = 0;
  // Reply parser state: bytes of value + CRLF still to skip, and how the value compares so far.
  #left = 0;
  #valueOk = true;
  #valueOffset = 0;
  #carry: Buffer | undefined;
  #closed = false;

  private constructor(socket: net.Socket, dialect: Dialect) {
    this.#socket = socket;
    this.#contract = dialect === 'contract';
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.#failAll());
  }

  static connect(
    address: string,
    dialect: Dialect = 'minimal',
    transport: RawTransport = {},
  ): Promise<RawConnection> {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon);
    const port = Number(address.slice(colon + 1));
    const socket =
      transport.tls === undefined
        ? net.connect({ host, port })
        : tls.connect({ host, port, ca: transport.tls.ca });
    const ready = transport.tls === undefined ? 'connect' : 'secureConnect';
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.once(ready, () => {
        socket.removeListener('error', reject);
        resolve(new RawConnection(socket, dialect));
      });
    });
  }

  /** Queues a get (`mg <key> v`, or with the contract's flags); the reply is checked against `expected`. */
  get(key: string, expected: Buffer, waiter: RawWaiter): void {
    if (!this.#contract) {
      this.#push(waiter, expected, NO_OPAQUE, 0);
      this.#queue('mg ' + key + ' v\r\n');
      return;
    }
    const n = this.#nextOpaque();
    this.#push(waiter, expected, n, 0);
    this.#queue('mg ' + key + GET_TOKENS[n]);
  }

  /** Queues a quiet get of a getMulti (contract dialect); {@link endBatch} closes the batch. */
  getQuiet(key: string, expected: Buffer, waiter: RawWaiter): void {
    const n = this.#nextOpaque();
    this.#push(waiter, expected, n, 1);
    this.#queue('mg ' + key + QUIET_TOKENS[n]);
  }

  /** Queues `mn`: its `MN` settles every quiet get before it that had no reply as a miss. */
  endBatch(): void {
    this.#push(MN_MARK, undefined, NO_OPAQUE, 0);
    this.#queue('mn\r\n');
  }

  /** Queues `ms <key> <len>` with `text` (ASCII) as the value; `HD` is the expected reply. */
  set(key: string, text: string, waiter: RawWaiter): void {
    const head = 'ms ' + key + ' ' + String(text.length);
    if (!this.#contract) {
      this.#push(waiter, undefined, NO_OPAQUE, 0);
      this.#queue(head + '\r\n' + text + '\r\n');
      return;
    }
    const n = this.#nextOpaque();
    this.#push(waiter, undefined, n, 0);
    this.#queue(head + OPAQUE_TOKENS[n] + text + '\r\n');
  }

  close(): void {
    this.#socket.destroy();
  }

  #nextOpaque(): number {
    const n = this.#opaque;
    this.#opaque = (n + 1) & (OPAQUES - 1);
    return n;
  }

  #push(waiter: RawWaiter, expected: Buffer | undefined, opaque: number, quiet: number): void {
    const mask = this.#waiters.length - 1;
    if (((this.#tail + 1) & mask) === this.#head) this.#grow();
    const t = this.#tail;
    this.#waiters[t] = waiter;
    this.#expect[t] = expected;
    this.#opaques[t] = opaque;
    this.#quiet[t] = quiet;
    this.#tail = (t + 1) & (this.#waiters.length - 1);
  }

  #grow(): void {
    const n = this.#waiters.length;
    const waiters = new Array<RawWaiter | undefined>(n * 2);
    const expect = new Array<Buffer | undefined>(n * 2);
    const opaques = new Int32Array(n * 2);
    const quiet = new Uint8Array(n * 2);
    let j = 0;
    for (let i = this.#head; i !== this.#tail; i = (i + 1) & (n - 1), j++) {
      waiters[j] = this.#waiters[i];
      expect[j] = this.#expect[i];
      opaques[j] = this.#opaques[i];
      quiet[j] = this.#quiet[i];
    }
    this.#waiters = waiters;
    this.#expect = expect;
    this.#opaques = opaques;
    this.#quiet = quiet;
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
    if (waiter === MN_MARK) {
      this.#socket.destroy(); // a reply where only MN may come: out of sync
      return;
    }
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
      if (this.#contract && !this.#match(chunk, pos, lf, c0 === 0x4d && c1 === 0x4e)) {
        pos = lf + 1; // MN, or a reply that failed its request
        continue;
      }
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

  /**
   * Contract dialect: lines up the reply in `chunk[pos, lf)` with the FIFO. Quiet gets ahead of it that
   * it does not answer were misses; `MN` ends them and is consumed here. Returns whether the reply is for
   * the (new) head, to be read as usual; false when it was consumed or failed the head.
   */
  #match(chunk: Buffer, pos: number, lf: number, mn: boolean): boolean {
    let opaque = NO_OPAQUE;
    if (!mn) {
      const at = chunk.lastIndexOf(' O', lf);
      if (at > pos) {
        opaque = 0;
        for (let i = at + 2, c = chunk[i]; c >= 0x30 && c <= 0x39; c = chunk[++i])
          opaque = opaque * 10 + c - 0x30;
      }
    }
    while (
      this.#head !== this.#tail &&
      this.#quiet[this.#head] === 1 &&
      this.#opaques[this.#head] !== opaque
    ) {
      this.#settle(MISMATCH); // a quiet get with no reply: a miss
    }
    if (mn) {
      if (this.#waiters[this.#head] !== MN_MARK) {
        this.#socket.destroy();
        return false;
      }
      this.#waiters[this.#head] = undefined;
      this.#head = (this.#head + 1) & (this.#waiters.length - 1);
      return false;
    }
    if (this.#head !== this.#tail && this.#opaques[this.#head] !== opaque) {
      this.#settle(FAILED);
      return false;
    }
    return true;
  }

  #failAll(): void {
    this.#closed = true;
    while (this.#head !== this.#tail) {
      if (this.#waiters[this.#head] === MN_MARK) {
        this.#waiters[this.#head] = undefined;
        this.#head = (this.#head + 1) & (this.#waiters.length - 1);
      } else this.#settle(FAILED);
    }
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
