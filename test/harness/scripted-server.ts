import net from 'node:net';
import tls from 'node:tls';

/** One memcached text request as the scripted server parsed it. */
export interface ScriptedRequest {
  /** The request line without its `\r\n`, decoded as latin1 (one char per byte). */
  line: string;
  /** The data block of a storage request (`ms`, `set`, `add`, …), without its trailing `\r\n`. */
  data?: Buffer;
}

/** Options for {@link startScriptedServer}. */
export interface ScriptedServerOptions {
  /** Serve TLS with these options instead of plain TCP. */
  tls?: tls.TlsOptions;
}

// Index of the data-length token in request lines that are followed by a data block.
const DATALEN_TOKEN: Readonly<Record<string, number>> = {
  ms: 2, // ms <key> <datalen> <flags>*
  set: 4, // set <key> <flags> <exptime> <bytes> [noreply]
  add: 4,
  replace: 4,
  append: 4,
  prepend: 4,
  cas: 4,
};

/** One accepted client connection. It never answers unless the handler tells it to. */
export class ScriptedConnection {
  /** Every request parsed so far, in order. */
  readonly requests: ScriptedRequest[] = [];
  /** Resolves when the socket has closed, for whatever reason. */
  readonly closed: Promise<void>;
  /** The socket's last error (ECONNRESET and the like), if any. */
  error: Error | undefined;
  #chunks: Buffer[] = [];
  #pending: Buffer = Buffer.alloc(0);
  #listeners: ((req: ScriptedRequest) => void)[] = [];
  #cursor = 0;
  #waiters: { resolve: (req: ScriptedRequest) => void; reject: (err: Error) => void }[] = [];

  /** @internal Created by the server on accept. */
  constructor(
    readonly socket: net.Socket,
    onBytes: (chunk: Buffer) => void,
  ) {
    socket.setNoDelay(true); // writeChunks' pieces must leave as separate segments
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      onBytes(chunk);
      this.#parse(chunk);
    });
    socket.on('error', (err) => (this.error = err));
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        for (const w of this.#waiters.splice(0)) w.reject(new Error('connection closed before a request'));
        resolve();
      });
    });
  }

  /** Every byte received on this connection so far. */
  get received(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  /** Calls `fn` for every request: those already parsed, then each new one as it completes. */
  onRequest(fn: (req: ScriptedRequest) => void): void {
    this.#listeners.push(fn);
    for (const req of this.requests) fn(req);
  }

  /** The next request not yet returned by this method; rejects if the connection closes first. */
  nextRequest(): Promise<ScriptedRequest> {
    const req = this.requests[this.#cursor];
    if (req) {
      this.#cursor++;
      return Promise.resolve(req);
    }
    if (this.socket.destroyed) return Promise.reject(new Error('connection closed before a request'));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Writes bytes as they are. */
  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /**
   * Writes `bytes` in pieces of the given sizes (the rest, if any, as a last piece) or one byte at a
   * time, each once the previous one was flushed to the kernel and the event loop has turned, so that
   * a client in the same process reads them separately.
   */
  async writeChunks(bytes: string | Buffer, sizes: number[] | 'bytewise'): Promise<void> {
    const buf = Buffer.from(bytes);
    let offset = 0;
    for (let i = 0; offset < buf.length; i++) {
      const size = sizes === 'bytewise' ? 1 : (sizes[i] ?? buf.length - offset);
      const piece = buf.subarray(offset, offset + Math.max(1, size));
      offset += piece.length;
      await new Promise<void>((resolve, reject) =>
        this.socket.write(piece, (err) => (err ? reject(err) : resolve())),
      );
      await nextLoopTurn();
    }
  }

  /** Sends FIN; the connection can still receive. */
  end(): void {
    this.socket.end();
  }

  /** Closes the socket (FIN, without waiting for pending writes). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Closes with RST: the client sees ECONNRESET. */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  /** Stops reading, so the client's writes back up into its socket buffer. */
  pauseReading(): void {
    this.socket.pause();
  }

  /** Undoes {@link pauseReading}. */
  resumeReading(): void {
    this.socket.resume();
  }

  #parse(chunk: Buffer): void {
    this.#pending = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    for (let req = this.#take(); req; req = this.#take()) {
      this.requests.push(req);
      for (const fn of this.#listeners) fn(req);
      const waiter = this.#waiters.shift();
      if (waiter) {
        this.#cursor++;
        waiter.resolve(req);
      }
    }
  }

  /** Removes one complete request from the pending bytes, if there is one. */
  #take(): ScriptedRequest | undefined {
    const nl = this.#pending.indexOf(0x0a);
    if (nl < 0) return undefined;
    const line = this.#pending.subarray(0, nl).toString('latin1').replace(/\r$/, '');
    const len = dataLength(line);
    if (len === undefined) {
      this.#pending = this.#pending.subarray(nl + 1);
      return { line };
    }
    const end = nl + 1 + len + 2;
    if (this.#pending.length < end) return undefined;
    const data = Buffer.from(this.#pending.subarray(nl + 1, nl + 1 + len));
    this.#pending = this.#pending.subarray(end);
    return { line, data };
  }
}

/** A loopback server whose connections do what the test script says. Neither it nor its sockets keep
 * the event loop alive. */
export class ScriptedServer {
  /** Every connection ever accepted, in order. */
  readonly connections: ScriptedConnection[] = [];
  readonly address: string;
  #chunks: Buffer[] = [];
  #sockets = new Set<net.Socket>(); // also raw TLS sockets still in their handshake
  #cursor = 0;
  #waiters: { resolve: (conn: ScriptedConnection) => void; reject: (err: Error) => void }[] = [];
  #closing: Promise<void> | undefined;

  /** @internal Use {@link startScriptedServer}. */
  constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {
    this.address = `127.0.0.1:${port}`;
    // Unref'd so that a forgotten server cannot hold the process open and that activeResources()
    // shows only what the code under test keeps.
    server.unref();
    server.on('connection', (socket: net.Socket) => {
      socket.unref();
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  /** Every byte received over all connections, in arrival order. */
  received(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  /** The next connection not yet returned by this method, waiting for an accept if needed. */
  nextConnection(): Promise<ScriptedConnection> {
    const conn = this.connections[this.#cursor];
    if (conn) {
      this.#cursor++;
      return Promise.resolve(conn);
    }
    if (this.#closing) return Promise.reject(new Error('scripted server closed'));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Destroys every socket and closes the server. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const w of this.#waiters.splice(0)) w.reject(new Error('scripted server closed'));
      for (const socket of this.#sockets) socket.destroy();
      this.server.close(() => resolve());
    });
    return this.#closing;
  }

  /** @internal */
  accept(socket: net.Socket, handler: (conn: ScriptedConnection) => void): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const conn = new ScriptedConnection(socket, (chunk) => this.#chunks.push(chunk));
    this.connections.push(conn);
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#cursor++;
      waiter.resolve(conn);
    }
    handler(conn);
  }
}

/** Starts a scripted server on 127.0.0.1 and a free port; `handler` runs for every accepted connection. */
export async function startScriptedServer(
  handler: (conn: ScriptedConnection) => void,
  options: ScriptedServerOptions = {},
): Promise<ScriptedServer> {
  const server = options.tls ? tls.createServer(options.tls) : net.createServer();
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
  const scripted = new ScriptedServer(server, port);
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: net.Socket) =>
    scripted.accept(socket, handler),
  );
  return scripted;
}

function dataLength(line: string): number | undefined {
  const tokens = line.split(' ');
  const index = DATALEN_TOKEN[tokens[0]];
  const token = index === undefined ? undefined : tokens[index];
  return token !== undefined && /^\d+$/.test(token) ? Number(token) : undefined;
}

// Two setImmediate turns: the first runs in the current loop iteration's check phase, the second only
// after the next poll phase, where a same-process client reads what was just written.
function nextLoopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
