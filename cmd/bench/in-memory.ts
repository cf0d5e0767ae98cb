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
  /**
   * Hit replies already made for this item, by the request's flags before its final `O` token: the
   * reply's bytes before the opaque's echo, and after it (line end, value, CRLF).
   */
  replies: Map<string, [before: Buffer, after: Buffer]> | undefined;
}

/** The store and the command interpreter, shared by every socket of one cell. */
export class InMemoryMemcached {
  readonly items = new Map<string, StoredItem>();
  #cas = 0;

  /** A server holding every key of `ks` with its value. */
  static of(ks: Keyspace): InMemoryMemcached {
    const server = new InMemoryMemcached();
    for (let i = 0; i < ks.count; i++) server.store(ks.keys[i], ks.values[i], 0);
    return server;
  }

  store(key: string, value: Buffer, flags: number): StoredItem {
    const item = { value, flags, cas: ++this.#cas, replies: undefined };
    this.items.set(key, item);
    return item;
  }

  /**
   * Answers every whole request at the start of `input` (latin1 text) into `out`; returns how much of
   * `input` it used (the rest is an unfinished request, kept for the next write).
   */
  answer(input: string, out: ReplyBuffer): number {
    let pos = 0;
    for (;;) {
      const eol = input.indexOf('\r\n', pos);
      if (eol === -1) return pos;
      if (input.startsWith('mg ', pos) && this.#quickGet(input, pos, eol, out)) {
        pos = eol + 2;
        continue;
      }
      const tokens = input.slice(pos, eol).split(' ');
      const command = tokens[0];
      if (command === 'ms') {
        const size = Number(tokens[2]);
        const end = eol + 2 + size;
        if (input.length < end + 2) return pos; // the data block is still coming
        this.#set(tokens, Buffer.from(input.slice(eol + 2, end), 'latin1'), out);
        pos = end + 2;
        continue;
      }
      if (command === 'mg') this.#get(tokens, out);
      else if (command === 'md') this.#delete(tokens, out);
      else if (command === 'mn') out.text('MN\r\n');
      else if (command === 'version') out.text('VERSION 1.6.18\r\n');
      else out.text('ERROR\r\n');
      pos = eol + 2;
    }
  }

  /**
   * A hit on a get whose last token is its opaque, the form the clients send in a loop, from the
   * replies made before for the same flags: a request costs the server a few string searches instead
   * of a parse, so a run measures the client more than its server. False when it does not apply.
   */
  #quickGet(input: string, pos: number, eol: number, out: ReplyBuffer): boolean {
    const keyEnd = input.indexOf(' ', pos + 3);
    const opaque = input.lastIndexOf(' ', eol); // the line's last token is at least its key
    if (keyEnd === -1 || opaque <= keyEnd || input.charCodeAt(opaque + 1) !== 0x4f /* O */) return false;
    const item = this.items.get(input.slice(pos + 3, keyEnd));
    if (item === undefined) return false;
    const flags = input.slice(keyEnd, opaque);
    item.replies ??= new Map();
    let reply = item.replies.get(flags);
    if (reply === undefined) {
      // Made once, the general way, with an opaque of its own cut out.
      const made = new ReplyBuffer();
      this.#get(`mg ${input.slice(pos + 3, keyEnd)}${flags} O\u0000`.split(' '), made);
      const whole = made.read(made.unread);
      const at = whole.indexOf(' O\u0000');
      reply = [whole.subarray(0, at), whole.subarray(at + 3)];
      item.replies.set(flags, reply);
    }
    out.bytes(reply[0]);
    out.text(input.slice(opaque, eol));
    out.bytes(reply[1]);
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
    if (!(found && quiet)) out.text((found ? 'HD' : 'NF') + echoes + '\r\n');
  }
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

  bytes(b: Buffer): void {
    this.#room(b.length);
    this.#length += b.copy(this.#buf, this.#length);
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
  #input = '';
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

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.#take(typeof chunk === 'string' ? chunk : chunk.toString('latin1'));
    done();
  }

  override _writev(chunks: { chunk: Buffer | string }[], done: () => void): void {
    for (const { chunk } of chunks) {
      this.#take(typeof chunk === 'string' ? chunk : chunk.toString('latin1'));
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

  #take(text: string): void {
    const input = this.#input.length === 0 ? text : this.#input + text;
    const used = this.#server.answer(input, this.#replies);
    this.#input = used === input.length ? '' : input.slice(used);
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
