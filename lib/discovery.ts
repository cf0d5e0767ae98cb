/**
 * Server discovery: where a cluster whose membership changes at runtime gets its server list from.
 *
 * A source pushes full lists, never diffs, so a consumer that starts late sees the same thing as
 * one that saw every change. Sources retry by themselves and report each failure without stopping:
 * a config endpoint that is down for a minute must not freeze the list for good.
 *
 * {@link ShortExchange} is the transport of polling sources: one short connection, one request, one
 * reply, with a deadline and a size bound, and nothing left behind.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { parseServer, type ServerSpec } from './cluster.js';
import { InvalidArgumentError, ProtocolError, TimeoutError, type MemlineError } from './errors.js';
import { Transport } from './transport.js';

/** A source of the server list, for clusters whose membership changes at runtime. */
export interface DiscoverySource {
  /**
   * Starts watching; calls `onServers` with the full current list (only when it changed) and
   * `onError` on failures (the source keeps trying). Neither callback runs inside `start()` itself.
   */
  start(onServers: (servers: ServerSpec[]) => void, onError: (error: MemlineError) => void): void;
  /** Stops watching; no timer or socket remains afterwards and neither callback runs again. */
  stop(): Promise<void>;
}

/**
 * A fixed list, delivered once. For tests, examples, and code written against
 * {@link DiscoverySource} that runs somewhere without discovery.
 *
 * @example
 * const source = new StaticDiscovery(['10.0.0.1:11211', '10.0.0.2:11211']);
 * source.start((servers) => cluster.setServers(servers), () => {});
 */
export class StaticDiscovery implements DiscoverySource {
  readonly #servers: readonly ServerSpec[];
  #state: 'idle' | 'started' | 'stopped' = 'idle';

  /**
   * Throws ERR_INVALID_ARGUMENT if the list is empty or a server is malformed; server strings may
   * carry `scheme` (`"memcached"` reads `"memcached://a:1"` as `"a:1"`).
   */
  constructor(servers: readonly ServerSpec[], scheme?: string) {
    const given: unknown = servers;
    if (!Array.isArray(given) || given.length === 0) {
      throw new InvalidArgumentError('servers: at least one server is required');
    }
    for (const spec of servers) parseServer(spec, scheme);
    this.#servers = servers.map(copy);
  }

  start(onServers: (servers: ServerSpec[]) => void, _onError: (error: MemlineError) => void): void {
    if (this.#state !== 'idle') throw new InvalidArgumentError('start: a discovery source starts only once');
    this.#state = 'started';
    // Deferred so that the callback never runs before start() has returned, as with a real source.
    process.nextTick(() => {
      if (this.#state === 'started') onServers(this.#servers.map(copy));
    });
  }

  stop(): Promise<void> {
    this.#state = 'stopped';
    return Promise.resolve();
  }
}

function copy(spec: ServerSpec): ServerSpec {
  return typeof spec === 'string' ? spec : { ...spec };
}

/** What a {@link ShortExchange} sends, where, and how it knows the reply is complete. */
export interface ShortExchangeOptions {
  host: string;
  port: number;
  /** `"host:port"`, for error messages and `error.server`. */
  server: string;
  /** The request, written once connected (after the TLS handshake with `tls`). */
  request: string | Buffer;
  /** ms for the whole exchange, connecting included. */
  timeout: number;
  /** Connect with TLS and these options; absent for plain TCP. */
  tls?: tls.ConnectionOptions | undefined;
  /** Bytes buffered before the reply is refused as too large (ERR_PROTOCOL). */
  maxReplyBytes: number;
  /**
   * The length of the complete reply at the start of `buffered`, or undefined while it cannot be
   * told yet. May throw a MemlineError (a reply that cannot be framed).
   */
  replyLength: (buffered: Buffer) => number | undefined;
}

/**
 * One request over a connection of its own, then closed: how a poller asks a config endpoint.
 * `onDone` runs exactly once, from a socket or timer event, with the reply (the bytes up to
 * `replyLength`; anything after them is included, for the parser to refuse) or with
 * ERR_TIMEOUT, ERR_CONNECTION, ERR_TLS or ERR_PROTOCOL. The socket is destroyed before it runs.
 */
export class ShortExchange {
  /** Resolves once the socket has closed: from then on it holds no handle. */
  readonly closed: Promise<void>;
  readonly #options: ShortExchangeOptions;
  readonly #transport: Transport;
  readonly #socket: net.Socket;
  readonly #timer: NodeJS.Timeout;
  readonly #onDone: (reply: Buffer | MemlineError) => void;
  #buffer: Buffer = Buffer.alloc(0);
  #done = false;

  constructor(options: ShortExchangeOptions, onDone: (reply: Buffer | MemlineError) => void) {
    this.#options = options;
    this.#onDone = onDone;
    const { host, port } = options;
    this.#transport = new Transport({ host, port, tls: options.tls }, () =>
      this.#socket.write(options.request),
    );
    this.#socket = this.#transport.socket;
    this.closed = new Promise((resolve) => this.#socket.once('close', () => resolve()));
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('close', () => this.#finish(this.#closeError()));
    this.#timer = setTimeout(() => {
      const phase = this.#transport.ready ? 'request' : this.#transport.phase;
      const message = `request to ${options.server} timed out after ${options.timeout} ms`;
      this.#finish(new TimeoutError(message, phase));
    }, options.timeout);
  }

  /** Ends the exchange without calling `onDone`; resolves once the socket has closed. */
  cancel(): Promise<void> {
    this.#done = true;
    clearTimeout(this.#timer);
    this.#socket.destroy();
    return this.closed;
  }

  #onData(chunk: Buffer): void {
    if (this.#done) return;
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    let length: number | undefined;
    try {
      length = this.#options.replyLength(this.#buffer);
    } catch (err) {
      this.#finish(err as MemlineError);
      return;
    }
    const max = this.#options.maxReplyBytes;
    if ((length ?? this.#buffer.length) > max) {
      this.#finish(new ProtocolError(`the reply of ${this.#options.server} is over ${max} bytes`));
      return;
    }
    if (length !== undefined && this.#buffer.length >= length) this.#finish(this.#buffer);
  }

  #closeError(): MemlineError {
    const server = this.#options.server;
    return this.#transport.closeError(server, `${server} closed the connection before a complete reply`);
  }

  #finish(outcome: Buffer | MemlineError): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    this.#socket.destroy();
    if (!Buffer.isBuffer(outcome)) outcome.server ??= this.#options.server;
    this.#onDone(outcome);
  }
}
