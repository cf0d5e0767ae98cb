import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

/** `'upstream'` is client → server, `'downstream'` server → client. */
export type Direction = 'upstream' | 'downstream';
/** A {@link Direction} or both. */
export type Toward = Direction | 'both';

/** Options for {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** Keep the event loop alive while the proxy has a server, socket or timer. Unref'd by default, like the
   * scripted server, so that `activeResources()` shows only what the code under test holds. @default false */
  ref?: boolean;
}

interface Toxics {
  latency?: { ms: number; jitterMs: number };
  bandwidth?: number;
  slicer?: { averageSize: number; sizeVariation: number; delayMs: number };
  blackhole?: boolean;
  limit?: number;
}

const HIGH_WATER = 256 * 1024; // queued bytes at which a pipe stops reading its source

/**
 * An in-process TCP proxy in front of one server, with toxiproxy-style faults ("toxics") that can be set
 * at any time and apply to live and new connections. Created by {@link startFaultProxy}.
 */
export class FaultProxy {
  readonly address: string;
  /** Connections accepted so far, including those refused or reset on accept. */
  totalAccepted = 0;
  /** Bytes written to the server, summed over all connections. */
  bytesUpstream = 0;
  /** Bytes written to the clients, summed over all connections. */
  bytesDownstream = 0;
  readonly #pairs = new Set<{ client: net.Socket; server: net.Socket; pipes: readonly Pipe[] }>();
  readonly #sockets = new Map<net.Socket, Promise<void>>();
  /** @internal The toxics of each direction, replaced (not mutated) on every change. */
  readonly toxics: Record<Direction, Readonly<Toxics>> = { upstream: {}, downstream: {} };
  #onAccept: 'forward' | 'refuse' | 'reset' = 'forward';
  #closing: Promise<void> | undefined;

  /** @internal Use {@link startFaultProxy}. */
  constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
    readonly ref: boolean,
  ) {
    this.address = `127.0.0.1:${port}`;
    if (!ref) server.unref();
    server.on('connection', (socket: net.Socket) => this.#accept(socket));
  }

  /** Live client/server pairs (until both of their sockets have closed). */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Delays each chunk by `ms` ± a uniform `jitterMs` from when it was read, keeping the byte order. */
  latency(ms: number, jitterMs = 0, direction: Toward = 'downstream'): void {
    check({ ms, jitterMs });
    this.#set(direction, { latency: { ms, jitterMs } });
  }

  /** Forwards at most `bytesPerSecond`, in pieces of a tenth of a second's worth. */
  bandwidth(bytesPerSecond: number, direction: Toward = 'downstream'): void {
    check({ bytesPerSecond }, 1);
    this.#set(direction, { bandwidth: bytesPerSecond });
  }

  /** Splits chunks into pieces of `averageSize` ± `sizeVariation` bytes, each written once the previous
   * one was flushed and `delayMs` (or, at 0, an event-loop turn) has passed. */
  slicer(averageSize: number, sizeVariation = 0, delayMs = 0, direction: Toward = 'downstream'): void {
    check({ averageSize }, 1);
    check({ sizeVariation, delayMs });
    this.#set(direction, { slicer: { averageSize, sizeVariation, delayMs } });
  }

  /** Reads and drops every byte, keeping the sockets open, until {@link clear}. Bytes already queued are
   * dropped too: nothing sent meanwhile arrives later. */
  blackhole(direction: Toward = 'both'): void {
    this.#set(direction, { blackhole: true });
  }

  /** Closes a pair (FIN both ways) once `bytes` more have been forwarded in `direction` on it. */
  limitData(bytes: number, direction: Toward = 'downstream'): void {
    check({ bytes });
    for (const pipe of this.#set(direction, { limit: bytes })) pipe.startLimit();
  }

  /** Sends RST to both sides of every live pair now: the client sees ECONNRESET. */
  resetPeer(): void {
    for (const { client, server } of this.#pairs) for (const s of [client, server]) s.resetAndDestroy();
  }

  /** While on, resets (RST) every new connection right after accepting it. */
  resetNew(on = true): void {
    this.#onAccept = on ? 'reset' : 'forward';
  }

  /** While on, closes (FIN) every new connection right after accepting it, without connecting upstream. */
  refuse(on = true): void {
    this.#onAccept = on ? 'refuse' : 'forward';
  }

  /** Sends FIN to every live client; the server connections stay open (until the client closes too). */
  halfClose(): void {
    for (const pair of this.#pairs) pair.client.end();
  }

  /** Removes every toxic and accepts normally again. */
  clear(): void {
    this.toxics.upstream = {};
    this.toxics.downstream = {};
    this.#onAccept = 'forward';
    for (const pair of this.#pairs) for (const pipe of pair.pipes) pipe.wake();
  }

  /** Destroys every socket, stops the server and every timer. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const socket of this.#sockets.keys()) socket.destroy(); // each 'close' stops the pipes on it
      await Promise.all([serverClosed, ...this.#sockets.values()]);
    })();
    return this.#closing;
  }

  /** Sets `toxic` on the pipes of `direction`, live and new; returns the pipes so set. */
  #set(direction: Toward, toxic: Toxics): Pipe[] {
    for (const d of direction === 'both' ? (['upstream', 'downstream'] as const) : [direction]) {
      this.toxics[d] = { ...this.toxics[d], ...toxic };
    }
    const pipes = [...this.#pairs].flatMap((pair) => pair.pipes);
    for (const pipe of pipes) pipe.wake();
    return pipes.filter((pipe) => direction === 'both' || pipe.direction === direction);
  }

  /** Resolves once `socket` has closed. */
  #track(socket: net.Socket): Promise<void> {
    if (!this.ref) socket.unref();
    socket.setNoDelay(true); // the slicer's pieces must leave as separate segments
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    this.#sockets.set(socket, closed);
    void closed.then(() => this.#sockets.delete(socket));
    return closed;
  }

  #accept(client: net.Socket): void {
    this.totalAccepted++;
    const clientClosed = this.#track(client);
    client.on('error', () => {}); // expected: the peer of a fault
    if (this.#closing || this.#onAccept === 'refuse') return void client.destroy();
    if (this.#onAccept === 'reset') return void client.resetAndDestroy();
    const server = net.connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    const serverClosed = this.#track(server);
    // An error (a reset, a refused connect) on one side resets the other, as the closest fault there is.
    client.on('error', () => server.resetAndDestroy());
    server.on('error', () => client.resetAndDestroy());
    // limitData: FIN both ways once pending writes are flushed; nothing queued is forwarded any more.
    const end = (): void => {
      for (const pipe of pair.pipes) pipe.stop();
      for (const socket of [client, server]) socket.destroySoon();
    };
    const up = new Pipe(this, 'upstream', client, server, end);
    const pair = { client, server, pipes: [up, new Pipe(this, 'downstream', server, client, end)] };
    this.#pairs.add(pair);
    void Promise.all([clientClosed, serverClosed]).then(() => this.#pairs.delete(pair));
  }
}

/**
 * One direction of a pair. Chunks wait in a queue that a single pump drains in order, applying the
 * toxics it finds at each step; a toxic change wakes the pump so that it takes effect at once.
 */
class Pipe {
  readonly #queue: { chunk: Buffer; readAt: number; jitter: number }[] = [];
  #queued = 0;
  #forwarded = 0;
  #limitFrom = 0;
  #sendAt = 0; // bandwidth: when the next piece may leave
  #pumping = false;
  #sourceDone: 'end' | 'close' | undefined;
  #stopped = false;
  #wake: (() => void) | undefined; // ends the current wait

  constructor(
    private readonly proxy: FaultProxy,
    readonly direction: Direction,
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly endPair: () => void,
  ) {
    from.on('data', (chunk: Buffer) => {
      if (this.#toxics.blackhole || this.#stopped) return;
      this.#queue.push({ chunk, readAt: performance.now(), jitter: Math.random() * 2 - 1 });
      this.#queued += chunk.length;
      if (this.#queued >= HIGH_WATER) from.pause();
      void this.#pump();
    });
    // A FIN is forwarded as a FIN; a closed source closes the destination. Both after the queue drained.
    from.once('end', () => this.#finish('end'));
    from.once('close', () => this.#finish('close'));
    to.once('close', () => this.stop());
  }

  get #toxics(): Readonly<Toxics> {
    return this.proxy.toxics[this.direction];
  }

  /** limitData counts from here. */
  startLimit(): void {
    this.#limitFrom = this.#forwarded;
  }

  /** Ends the current wait, if any, so that the pump re-reads the toxics. */
  wake(): void {
    this.#wake?.();
  }

  /** Drops the queue and ends the current wait: the pump returns and leaves no timer. */
  stop(): void {
    this.#stopped = true;
    this.#queue.length = 0;
    this.wake();
  }

  #finish(how: 'end' | 'close'): void {
    this.#sourceDone = how;
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    while (!this.#stopped && this.#queue.length > 0) {
      const item = this.#queue[0];
      for (let t = this.#toxics.latency; t && !this.#stopped; t = this.#toxics.latency) {
        const due = item.readAt + Math.max(0, t.ms + item.jitter * t.jitterMs);
        if (due <= performance.now()) break;
        await this.#wait(due - performance.now());
      }
      if (this.#stopped) break;
      this.#queue.shift();
      this.#queued -= item.chunk.length;
      if (this.#queued < HIGH_WATER / 2 && this.from.isPaused()) this.from.resume();
      if (this.#toxics.blackhole) continue;
      const limit = this.#toxics.limit;
      const left = limit === undefined ? Infinity : Math.max(0, limit - (this.#forwarded - this.#limitFrom));
      await this.#send(left < item.chunk.length ? item.chunk.subarray(0, left) : item.chunk);
      if (left <= item.chunk.length) this.endPair();
    }
    this.#pumping = false;
    if (this.#stopped || this.#queue.length > 0 || this.to.destroyed) return;
    if (this.#sourceDone === 'close') this.to.destroySoon();
    else if (this.#sourceDone === 'end' && !this.to.writableEnded) this.to.end();
  }

  /** Writes `chunk` in pieces as the slicer and bandwidth toxics say; resolves once it may go on. */
  async #send(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length && !this.#stopped;) {
      for (let rate = this.#toxics.bandwidth; rate && !this.#stopped; rate = this.#toxics.bandwidth) {
        if (this.#sendAt <= performance.now()) break;
        await this.#wait(this.#sendAt - performance.now());
      }
      const { slicer, bandwidth } = this.#toxics;
      let size = chunk.length - offset;
      if (slicer) size = Math.round(slicer.averageSize + (Math.random() * 2 - 1) * slicer.sizeVariation);
      if (bandwidth) size = Math.min(size, Math.floor(bandwidth / 10));
      const piece = chunk.subarray(offset, offset + Math.max(1, size));
      offset += piece.length;
      if (this.to.writableEnded || this.to.destroyed || this.#stopped) return;
      this.#forwarded += piece.length;
      this.proxy[this.direction === 'upstream' ? 'bytesUpstream' : 'bytesDownstream'] += piece.length;
      if (bandwidth)
        this.#sendAt = Math.max(this.#sendAt, performance.now()) + (piece.length * 1000) / bandwidth;
      // One write in flight at a time: the callback comes once the kernel took the piece.
      await this.#wait(new Promise<void>((resolve) => this.to.write(piece, () => resolve())));
      if (slicer) await (slicer.delayMs > 0 ? this.#wait(slicer.delayMs) : nextLoopTurn());
    }
  }

  /** Resolves after `what` (milliseconds, or a promise), or earlier on {@link wake} or {@link stop}. */
  #wait(what: number | Promise<unknown>): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#stopped) return resolve();
      const timer = typeof what === 'number' ? setTimeout(() => done(), what) : undefined;
      if (timer && !this.proxy.ref) timer.unref();
      const done = (): void => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
      if (typeof what !== 'number') void what.then(done);
    });
  }
}

/** Starts a proxy on 127.0.0.1 and a free port that forwards every connection to `target`. */
export async function startFaultProxy(
  target: { host: string; port: number },
  options: FaultProxyOptions = {},
): Promise<FaultProxy> {
  // Half-open, so that a FIN is forwarded after the data still queued instead of ending both ways at once.
  const server = net.createServer({ allowHalfOpen: true }).listen({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening'); // rejects on 'error'
  const { port } = server.address() as net.AddressInfo;
  return new FaultProxy(server, port, target, options.ref ?? false);
}

function check(values: Record<string, number>, min = 0): void {
  for (const [name, value] of Object.entries(values)) {
    if (!(value >= min && Number.isFinite(value))) throw new RangeError(`${name} must be ≥ ${min}: ${value}`);
  }
}

// Two setImmediate turns: a client in the same process reads one piece before the next is written.
function nextLoopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
