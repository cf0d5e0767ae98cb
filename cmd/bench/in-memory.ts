/**
 * The in-process cells' server: a memcached that lives in the client's own process, behind a socket
 * that never reaches the kernel. A run against it measures a client's own CPU per call, without the
 * system calls, the loopback and memcached whose cost, and whose noise, swamp a small change in the
 * socket cells: the instrument for measuring a change to memline's hot path before and after.
 *
 * The worker replaces `net.connect` while an in-process cell is open: a connect to
 * {@link IN_PROCESS_ADDRESS} gets an {@link InMemorySocket}, any other goes to Node's own. Node's
 * clients (memline, the raw sockets) call it through the `net` module object, so they need no option
 * of their own for it. Its replies arrive as a socket's would: on a later turn of the event loop, in
 * reads of at most 64 KiB, into the reader's own memory when it passes Node's `onread` and as `data`
 * events otherwise.
 *
 * It answers the meta commands the benchmark's clients send, as memcached 1.6.18 does (returned flags
 * in the order asked, `k` and `O` echoed on a miss, `q` silencing `EN` and `HD`): `mg` with
 * `v f c k s t O q` (every item lives for ever: `t-1`), `ms` with `F T c k O q` (a plain set), `md`
 * with `k O q`, `mn` and `version`; any other command gets `ERROR`, and flags it does not know are
 * ignored.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import type { Keyspace } from './keyspace.js';

/** The address an in-process cell's clients connect to: port 1 (tcpmux), which no memcached uses. */
export const IN_PROCESS_HOST = '127.0.0.1';
export const IN_PROCESS_PORT = 1;
export const IN_PROCESS_ADDRESS = `${IN_PROCESS_HOST}:${IN_PROCESS_PORT}`;

/** The most one socket read hands over, as a Node socket reads at most 64 KiB at a time. */
const READ_BYTES = 64 * 1024;

interface StoredItem {
  value: Buffer;
  flags: number;
  cas: number;
}

/** The store and the command interpreter, shared by every socket of one cell. */
export class InMemoryMemcached {
  readonly items = new Map<string, StoredItem>();
  #cas = 0;
  /** Hit replies already made (emptied by any change to the items). */
  readonly #hits = new HitTable();

  /** A server holding every key of `ks` with its value. */
  static of(ks: Keyspace): InMemoryMemcached {
    const server = new InMemoryMemcached();
    for (let i = 0; i < ks.count; i++) server.store(ks.keys[i], ks.values[i], 0);
    return server;
  }

  store(key: string, value: Buffer, flags: number): StoredItem {
    const item = { value, flags, cas: ++this.#cas };
    this.items.set(key, item);
    this.#hits.clear();
    return item;
  }

  /**
   * Answers every whole request at the start of `input` into `out`; returns how much of `input` it
   * used (the rest is an unfinished request, kept for the next write).
   */
  answer(input: Buffer, out: ReplyBuffer): number {
    let pos = 0;
    for (;;) {
      const lf = input.indexOf(0x0a, pos);
      if (lf === -1) return pos;
      const eol = input[lf - 1] === 0x0d ? lf - 1 : lf;
      if (input[pos] === 0x6d && input[pos + 1] === 0x67 && input[pos + 2] === 0x20) {
        if (this.#quickGet(input, pos, eol, out)) {
          pos = lf + 1;
          continue;
        }
      }
      const tokens = input.toString('latin1', pos, eol).split(' ');
      const command = tokens[0];
      if (command === 'ms') {
        const end = lf + 1 + Number(tokens[2]);
        if (input.length < end + 2) return pos; // the data block is still coming
        this.#set(tokens, Buffer.from(input.subarray(lf + 1, end)), out);
        pos = end + 2;
        continue;
      }
      if (command === 'mg') this.#get(tokens, out);
      else if (command === 'md') this.#delete(tokens, out);
      else if (command === 'mn') out.text('MN\r\n');
      else if (command === 'version') out.text('VERSION 1.6.18\r\n');
      else out.text('ERROR\r\n');
      pos = lf + 1;
    }
  }

  /**
   * A hit, from the reply made before for the same line (up to its final `O` token, whose opaque is
   * echoed in place): the request costs the server a hash of its bytes instead of a parse, so a run
   * measures the client more than its server. False on a miss.
   */
  #quickGet(input: Buffer, pos: number, eol: number, out: ReplyBuffer): boolean {
    let opaque = eol - 1;
    while (opaque > pos + 3 && input[opaque] !== 0x20) opaque--;
    // Without a final `O` token the whole line is the request, and no echo goes in the middle.
    if (opaque <= pos + 3 || input[opaque + 1] !== 0x4f /* O */) opaque = eol;
    let hit = this.#hits.find(input, pos, opaque);
    if (hit === undefined) {
      const line = input.toString('latin1', pos, opaque);
      const echoes = opaque < eol;
      const tokens = (echoes ? `${line} O\u0000` : line).split(' ');
      if (!this.items.has(tokens[1])) return false;
      // Made once, the general way, with an opaque of its own cut out.
      const made = new ReplyBuffer();
      this.#get(tokens, made);
      const whole = made.read(made.unread);
      const at = echoes ? whole.indexOf(' O\u0000') : whole.indexOf('\r\n');
      hit = {
        request: Buffer.from(input.subarray(pos, opaque)),
        before: whole.subarray(0, at),
        after: whole.subarray(echoes ? at + 3 : at),
      };
      this.#hits.add(hit);
    }
    out.bytes(hit.before);
    out.bytes(input, opaque, eol);
    out.bytes(hit.after);
    return true;
  }

  #get(tokens: string[], out: ReplyBuffer): void {
    const key = tokens[1];
    const item = this.items.get(key);
    let value = false;
    let quiet = false;
    let flags = '';
    let echoes = '';
    for (let i = 2; i < tokens.length; i++) {
      const t = tokens[i];
      switch (t.charCodeAt(0)) {
        case 0x76 /* v */:
          value = true;
          break;
        case 0x71 /* q */:
          quiet = true;
          break;
        case 0x6b /* k */:
          flags += ' k' + key;
          echoes += ' k' + key;
          break;
        case 0x4f /* O */:
          flags += ' ' + t;
          echoes += ' ' + t;
          break;
        case 0x66 /* f */:
          if (item !== undefined) flags += ' f' + item.flags;
          break;
        case 0x63 /* c */:
          if (item !== undefined) flags += ' c' + item.cas;
          break;
        case 0x73 /* s */:
          if (item !== undefined) flags += ' s' + item.value.length;
          break;
        case 0x74 /* t */:
          flags += ' t-1';
          break;
      }
    }
    if (item === undefined) {
      if (!quiet) out.text('EN' + echoes + '\r\n');
    } else if (value) {
      out.text('VA ' + item.value.length + flags + '\r\n');
      out.bytes(item.value);
      out.text('\r\n');
    } else out.text('HD' + flags + '\r\n');
  }

  #set(tokens: string[], value: Buffer, out: ReplyBuffer): void {
    const key = tokens[1];
    let clientFlags = 0;
    let quiet = false;
    let askCas = -1;
    let echoes = '';
    for (let i = 3; i < tokens.length; i++) {
      const t = tokens[i];
      switch (t.charCodeAt(0)) {
        case 0x46 /* F */:
          clientFlags = Number(t.slice(1));
          break;
        case 0x71 /* q */:
          quiet = true;
          break;
        case 0x63 /* c */:
          askCas = echoes.length;
          break;
        case 0x6b /* k */:
          echoes += ' k' + key;
          break;
        case 0x4f /* O */:
          echoes += ' ' + t;
          break;
      }
    }
    const item = this.store(key, value, clientFlags);
    if (quiet) return;
    if (askCas >= 0) echoes = echoes.slice(0, askCas) + ' c' + item.cas + echoes.slice(askCas);
    out.text('HD' + echoes + '\r\n');
  }

  #delete(tokens: string[], out: ReplyBuffer): void {
    const key = tokens[1];
    let quiet = false;
    let echoes = '';
    for (let i = 2; i < tokens.length; i++) {
      const t = tokens[i];
      if (t === 'q') quiet = true;
      else if (t === 'k') echoes += ' k' + key;
      else if (t.charCodeAt(0) === 0x4f /* O */) echoes += ' ' + t;
    }
    const found = this.items.delete(key);
    this.#hits.clear();
    if (!(found && quiet)) out.text((found ? 'HD' : 'NF') + echoes + '\r\n');
  }
}

/**
 * A hit's reply, made for the bytes of a request line up to its final `O` token: the reply's bytes
 * before the opaque's echo, and after it (line end, value, CRLF).
 */
interface Hit {
  request: Buffer;
  before: Buffer;
  after: Buffer;
}

/**
 * Hits by the bytes of their request, in an open-addressed table hashed with FNV-1a: found without
 * making a string of the request (a Map keyed by a fresh slice of the input costs about 150 ns).
 */
class HitTable {
  #slots = new Int32Array(1 << 12).fill(-1);
  #hits: Hit[] = [];

  find(input: Buffer, start: number, end: number): Hit | undefined {
    const mask = this.#slots.length - 1;
    for (let slot = hash(input, start, end) & mask; ; slot = (slot + 1) & mask) {
      const at = this.#slots[slot];
      if (at === -1) return undefined;
      const request = this.#hits[at].request;
      if (request.length !== end - start) continue;
      let i = 0;
      while (i < request.length && request[i] === input[start + i]) i++;
      if (i === request.length) return this.#hits[at];
    }
  }

  add(hit: Hit): void {
    if ((this.#hits.length + 1) * 2 > this.#slots.length) {
      this.#slots = new Int32Array(this.#slots.length * 2).fill(-1);
      for (let i = 0; i < this.#hits.length; i++) this.#place(this.#hits[i], i);
    }
    this.#hits.push(hit);
    this.#place(hit, this.#hits.length - 1);
  }

  clear(): void {
    if (this.#hits.length === 0) return;
    this.#slots.fill(-1);
    this.#hits = [];
  }

  #place(hit: Hit, index: number): void {
    const mask = this.#slots.length - 1;
    let slot = hash(hit.request, 0, hit.request.length) & mask;
    while (this.#slots[slot] !== -1) slot = (slot + 1) & mask;
    this.#slots[slot] = index;
  }
}

/** FNV-1a of the length and the last 16 bytes (where keys differ most), for {@link HitTable}. */
function hash(bytes: Buffer, start: number, end: number): number {
  let h = Math.imul(0x811c9dc5 ^ (end - start), 0x01000193);
  for (let i = Math.max(start, end - 16); i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/** Replies not yet read by the client, in one growing buffer. */
export class ReplyBuffer {
  #buf = Buffer.allocUnsafe(READ_BYTES);
  #length = 0;
  #read = 0;

  get unread(): number {
    return this.#length - this.#read;
  }

  text(s: string): void {
    this.#room(s.length);
    this.#length += this.#buf.write(s, this.#length, 'latin1');
  }

  bytes(b: Buffer, start = 0, end = b.length): void {
    const n = end - start;
    this.#room(n);
    if (n > 32) {
      this.#length += b.copy(this.#buf, this.#length, start, end);
      return;
    }
    const buf = this.#buf;
    let at = this.#length;
    for (let i = start; i < end; i++) buf[at++] = b[i];
    this.#length = at;
  }

  /** Copies up to `into.length` unread bytes into `into`; returns how many. */
  readInto(into: Uint8Array): number {
    const n = this.#buf.copy(into, 0, this.#read, Math.min(this.#length, this.#read + into.length));
    this.#advance(n);
    return n;
  }

  /** Up to `max` unread bytes in a buffer of their own. */
  read(max: number): Buffer {
    const n = Math.min(this.unread, max);
    const chunk = Buffer.allocUnsafe(n);
    this.#buf.copy(chunk, 0, this.#read, this.#read + n);
    this.#advance(n);
    return chunk;
  }

  #advance(n: number): void {
    this.#read += n;
    if (this.#read === this.#length) this.#read = this.#length = 0;
  }

  #room(n: number): void {
    if (this.#length + n <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#length - this.#read + n));
    this.#length = this.#buf.copy(bigger, 0, this.#read, this.#length);
    this.#read = 0;
    this.#buf = bigger;
  }
}

/**
 * A connected socket to an {@link InMemoryMemcached}. Writes are taken whole at once (the "kernel"
 * never fills); the replies to all the writes of one turn are read on the next.
 */
export class InMemorySocket extends Duplex {
  readonly #server: InMemoryMemcached;
  readonly #onread: net.OnReadOpts | undefined;
  /** Bytes written but not yet a whole request. */
  #input: Buffer | undefined;
  readonly #replies = new ReplyBuffer();
  #scheduled = false;

  constructor(server: InMemoryMemcached, onread: net.OnReadOpts | undefined) {
    super({ decodeStrings: false });
    this.#server = server;
    this.#onread = onread;
    setImmediate(() => this.emit('connect'));
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, done: () => void): void {
    this.#take(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
    done();
  }

  override _writev(chunks: { chunk: Buffer | string; encoding: BufferEncoding }[], done: () => void): void {
    for (const { chunk, encoding } of chunks) {
      this.#take(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
    }
    done();
  }

  override _read(): void {
    // Replies are pushed as they are made; there is nothing to pull.
  }

  override _final(done: () => void): void {
    done();
    setImmediate(() => this.push(null));
  }

  #take(chunk: Buffer): void {
    const input = this.#input === undefined ? chunk : Buffer.concat([this.#input, chunk]);
    const used = this.#server.answer(input, this.#replies);
    // A copy: the writer may fill its buffer again once the write is done.
    this.#input = used === input.length ? undefined : Buffer.from(input.subarray(used));
    if (this.#replies.unread > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#deliver);
    }
  }

  readonly #deliver = (): void => {
    this.#scheduled = false;
    const replies = this.#replies;
    while (replies.unread > 0 && !this.destroyed) {
      const onread = this.#onread;
      if (onread === undefined) {
        this.push(replies.read(READ_BYTES));
        continue;
      }
      const into = typeof onread.buffer === 'function' ? onread.buffer() : onread.buffer;
      const room = into.length > READ_BYTES ? into.subarray(0, READ_BYTES) : into;
      const n = replies.readInto(room);
      onread.callback(n, into);
    }
  };
}

/**
 * Routes connects to {@link IN_PROCESS_ADDRESS} to `server` until the returned function is called.
 * Every other connect goes to Node's `net.connect` as before.
 */
export function installInMemoryServer(server: InMemoryMemcached): () => void {
  const netModule = net as { connect: (...args: unknown[]) => net.Socket };
  const original = netModule.connect;
  netModule.connect = (...args: unknown[]): net.Socket => {
    const opts = args[0] as net.NetConnectOpts & { onread?: net.OnReadOpts };
    if (
      typeof opts === 'object' &&
      'port' in opts &&
      opts.host === IN_PROCESS_HOST &&
      opts.port === IN_PROCESS_PORT
    ) {
      return new InMemorySocket(server, opts.onread) as unknown as net.Socket;
    }
    return original(...args);
  };
  return () => {
    netModule.connect = original;
  };
}
