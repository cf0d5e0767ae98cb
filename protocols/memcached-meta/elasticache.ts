/**
 * AWS ElastiCache (memcached) auto discovery: the cluster's configuration endpoint tells which
 * nodes it has, and a poller turns that into server lists for a {@link DiscoverySource} consumer.
 *
 * The exchange, as AWS documents it ("Adding Auto Discovery to your client library", Output Format)
 * and as their cluster clients read it:
 *
 * ```
 * config get cluster\r\n                          engines >= 1.4.14; older ones answer ERROR
 * CONFIG cluster 0 <bytes>\r\n
 * <version>\n                                   ┐ the data block: <bytes> counts both lines
 * <host>|<ip>|<port> <host>|<ip>|<port> …\n     ┘ and their LFs (the version line has no CR)
 * \r\n
 * END\r\n
 * ```
 *
 * Engines before 1.4.14 keep the same data block in an item: `get AmazonElastiCache:cluster`
 * answers `VALUE AmazonElastiCache:cluster 0 <bytes>` instead of the CONFIG line.
 */
import net from 'node:net';
import type tls from 'node:tls';
import type { ServerAddress } from '../../lib/backend.js';
import { parseServer } from '../../lib/cluster.js';
import { ShortExchange, type DiscoverySource } from '../../lib/discovery.js';
import { InvalidArgumentError, ProtocolError, type MemlineError } from '../../lib/errors.js';

/** A parsed cluster configuration. */
export interface ClusterConfig {
  /** Raised by ElastiCache each time a node joins or leaves. */
  version: number;
  /** The nodes, in the order the endpoint listed them; `host` is the IP when one was given. */
  servers: { host: string; port: number }[];
}

/** Which configuration endpoint {@link ElastiCacheDiscovery} polls, how often, and how. */
export interface ElastiCacheDiscoveryOptions {
  /** The configuration endpoint, `"host:port"` (its name contains `.cfg.`). */
  endpoint: string;
  /** ms from the end of one poll to the start of the next; polls never overlap. @default 60000 */
  interval?: number;
  /** ms one poll may take, connecting included, before it fails with ERR_TIMEOUT. @default 1000 */
  timeout?: number;
  /** Poll over TLS (in-transit encryption) with these `tls.connect` options. @default undefined */
  tls?: tls.ConnectionOptions;
}

/** The defaults of {@link ElastiCacheDiscoveryOptions}. */
export const ELASTICACHE_DISCOVERY_DEFAULTS = Object.freeze({ interval: 60_000, timeout: 1000 });

const CONFIG_COMMAND = 'config get cluster\r\n';
const LEGACY_COMMAND = 'get AmazonElastiCache:cluster\r\n';
const TRAILER = '\r\nEND\r\n';
const HEADER = /^(?:CONFIG cluster|VALUE AmazonElastiCache:cluster) \d{1,10} (\d{1,10})$/;
/** A config of a few hundred nodes is tens of KiB; anything near this is not a config. */
const MAX_REPLY_BYTES = 1024 * 1024;
const MAX_HEADER_BYTES = 1024;
/** Node runs longer timers after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9.])?$/;

/**
 * The length of the reply at the start of `reply` once its first line is complete (a CONFIG or
 * VALUE line says how much follows; any other line is the whole reply), or undefined before that.
 * Throws ERR_PROTOCOL when no line ends within the first kilobyte.
 */
export function configReplyLength(reply: Buffer): number | undefined {
  const eol = reply.indexOf('\r\n');
  if (eol < 0) {
    if (reply.length > MAX_HEADER_BYTES) throw bad(`no line end in the first ${MAX_HEADER_BYTES} bytes`);
    return undefined;
  }
  const m = HEADER.exec(reply.toString('latin1', 0, eol));
  return m === null ? eol + 2 : eol + 2 + Number(m[1]) + TRAILER.length;
}

/**
 * Parses one complete reply to `config get cluster` (or `get AmazonElastiCache:cluster`).
 * Throws ERR_PROTOCOL on anything else: an error line, a wrong length, a missing END, a
 * non-numeric version or port, an empty node list.
 */
export function parseClusterConfig(reply: Buffer | string): ClusterConfig {
  const buf = typeof reply === 'string' ? Buffer.from(reply) : reply;
  const eol = buf.indexOf('\r\n');
  if (eol < 0) throw bad('the reply has no complete first line');
  const header = buf.toString('latin1', 0, eol);
  const m = HEADER.exec(header);
  if (m === null) {
    if (header === 'END') throw bad('the endpoint holds no cluster configuration');
    if (/^(ERROR|CLIENT_ERROR|SERVER_ERROR)\b/.test(header)) {
      throw bad(`the endpoint refused the request: ${JSON.stringify(header.slice(0, 200))}`);
    }
    throw bad(`unexpected first line ${JSON.stringify(header.slice(0, 200))}`);
  }
  const start = eol + 2;
  const end = start + Number(m[1]);
  if (buf.length < end + TRAILER.length) throw bad(`the reply ends before its ${m[1]} bytes and END`);
  if (buf.toString('latin1', end, end + TRAILER.length) !== TRAILER) {
    throw bad(`the ${m[1]}-byte data block is not followed by \\r\\nEND\\r\\n`);
  }
  if (buf.length > end + TRAILER.length) throw bad('unexpected bytes after END');
  // Lenient on line ends inside the block (CRLF, no final LF): they cannot change the meaning.
  const block = /^([^\r\n]*)\r?\n([^\r\n]*)(?:\r?\n)?$/.exec(buf.toString('latin1', start, end));
  if (block === null) throw bad('the data block is not "<version>\\n<node list>\\n"');
  const [, version = '', list = ''] = block;
  if (!/^\d{1,15}$/.test(version)) throw bad(`the config version ${JSON.stringify(version)} is not a number`);
  const nodes = list.split(' ').filter((node) => node !== '');
  if (nodes.length === 0) throw bad('the node list is empty');
  return { version: Number(version), servers: nodes.map(parseNode) };
}

/** `hostname|ip|port`; the IP is preferred (no DNS lookup per connection), the hostname if it is empty. */
function parseNode(node: string): { host: string; port: number } {
  const m = /^([^|]*)\|([^|]*)\|(\d{1,5})$/.exec(node);
  if (m === null) throw bad(`node ${JSON.stringify(node)} is not hostname|ip|port`);
  const [, hostname = '', ip = '', port = ''] = m;
  if (ip !== '' && net.isIP(ip) === 0) throw bad(`node ${JSON.stringify(node)} has an invalid IP`);
  if (ip === '' && !HOSTNAME.test(hostname)) throw bad(`node ${JSON.stringify(node)} has no IP nor hostname`);
  if (Number(port) < 1 || Number(port) > 65535) throw bad(`node ${JSON.stringify(node)} has an invalid port`);
  return { host: ip !== '' ? ip : hostname, port: Number(port) };
}

function bad(message: string): ProtocolError {
  return new ProtocolError(`cluster config: ${message}`);
}

function formatServer({ host, port }: { host: string; port: number }): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Polls an ElastiCache memcached configuration endpoint and reports the node list whenever its
 * version or its members change (servers as `"host:port"`, IPs when the endpoint gives them).
 *
 * The first poll starts with `start()`; each next one `interval` ms after the previous ended. The
 * timer between polls is unref'd: discovery alone never keeps a process alive (a poll in flight
 * does, for at most `timeout` ms). Callbacks run like event listeners: one that throws is an
 * uncaught exception, and polling goes on.
 *
 * @example
 * const endpoint = 'mycluster.x1y2z3.cfg.use1.cache.amazonaws.com:11211';
 * const discovery = new ElastiCacheDiscovery({ endpoint });
 * discovery.start((servers) => cluster.setServers(servers), (err) => log.warn({ code: err.code }));
 */
export class ElastiCacheDiscovery implements DiscoverySource {
  /** The configuration endpoint, as `"host:port"`. */
  readonly endpoint: string;
  readonly #target: ServerAddress;
  readonly #interval: number;
  readonly #timeout: number;
  readonly #tls: tls.ConnectionOptions | undefined;
  #state: 'idle' | 'started' | 'stopped' = 'idle';
  #timer: NodeJS.Timeout | undefined;
  /** Exchanges whose socket has not closed yet (the one in flight, one just finished). */
  #exchanges = new Set<ShortExchange>();
  /** The engine answered `config get cluster` with ERROR: it predates 1.4.14. */
  #legacy = false;
  #reported: string | undefined;
  #version: number | undefined;
  #onServers: (servers: string[]) => void = () => {};
  #onError: (error: MemlineError) => void = () => {};

  /** Throws ERR_INVALID_ARGUMENT naming the first bad option. */
  constructor(options: ElastiCacheDiscoveryOptions) {
    const given: unknown = options;
    if (typeof given !== 'object' || given === null) {
      throw new InvalidArgumentError('options: must be an object');
    }
    const endpoint: unknown = options.endpoint;
    if (typeof endpoint !== 'string') {
      throw new InvalidArgumentError('endpoint: must be a "host:port" string');
    }
    try {
      this.#target = parseServer(endpoint);
    } catch {
      throw new InvalidArgumentError(`endpoint: "${endpoint}" is not "host:port" with a port in 1..65535`);
    }
    this.endpoint = this.#target.address;
    this.#interval = milliseconds('interval', options.interval, ELASTICACHE_DISCOVERY_DEFAULTS.interval);
    this.#timeout = milliseconds('timeout', options.timeout, ELASTICACHE_DISCOVERY_DEFAULTS.timeout);
    const tlsOptions: unknown = options.tls;
    if (tlsOptions !== undefined && (typeof tlsOptions !== 'object' || tlsOptions === null)) {
      throw new InvalidArgumentError('tls: must be an object of tls.connect options');
    }
    this.#tls = options.tls;
  }

  /** The version of the last configuration reported, if any. */
  get configVersion(): number | undefined {
    return this.#version;
  }

  start(onServers: (servers: string[]) => void, onError: (error: MemlineError) => void): void {
    if (this.#state !== 'idle') throw new InvalidArgumentError('start: a discovery source starts only once');
    this.#state = 'started';
    this.#onServers = onServers;
    this.#onError = onError;
    this.#poll(); // at once: a client waiting for its first servers should not wait an interval
  }

  async stop(): Promise<void> {
    this.#state = 'stopped';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#exchanges].map((exchange) => exchange.cancel()));
  }

  #poll(): void {
    this.#timer = undefined;
    const legacy = this.#legacy;
    const exchange = new ShortExchange(
      {
        host: this.#target.host,
        port: this.#target.port,
        server: this.endpoint,
        request: legacy ? LEGACY_COMMAND : CONFIG_COMMAND,
        timeout: this.#timeout,
        tls: this.#tls,
        maxReplyBytes: MAX_REPLY_BYTES,
        replyLength: configReplyLength,
      },
      (reply) => this.#settle(reply, legacy),
    );
    this.#exchanges.add(exchange);
    void exchange.closed.then(() => this.#exchanges.delete(exchange));
  }

  #settle(reply: Buffer | MemlineError, legacy: boolean): void {
    if (this.#state !== 'started') return;
    if (!legacy && Buffer.isBuffer(reply) && /^ERROR(?: .*)?\r\n$/.test(reply.toString('latin1'))) {
      // Engines before 1.4.14 do not know `config`; they keep the same data in an item.
      this.#legacy = true;
      this.#poll();
      return;
    }
    // Armed before the callbacks run, so that one that throws cannot end the polling.
    this.#timer = setTimeout(() => this.#poll(), this.#interval);
    this.#timer.unref();
    let config: ClusterConfig;
    try {
      if (!Buffer.isBuffer(reply)) throw reply;
      config = parseClusterConfig(reply);
    } catch (err) {
      const error = err as MemlineError;
      error.server ??= this.endpoint;
      this.#onError(error);
      return;
    }
    // Deduplicated: a list naming a node twice would be refused as a whole by the cluster.
    const servers = [...new Set(config.servers.map(formatServer))];
    const key = `${config.version} ${[...servers].sort().join(' ')}`;
    if (key === this.#reported) return;
    this.#reported = key;
    this.#version = config.version;
    this.#onServers(servers);
  }
}

function milliseconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`${name}: must be an integer number of ms in 1..${MAX_TIMER_MS}`);
  }
  return value;
}
