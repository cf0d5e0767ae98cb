/**
 * The servers of a client and the routing of requests to them by key.
 *
 * A distribution (ketama by default) maps a routing key to a backend. Bulk requests are split with
 * {@link Cluster.partition}: one part per backend, sent in parallel by the layer above. The server
 * list can change at runtime ({@link Cluster.setServers}): backends whose address stays are kept
 * (with their connections), new ones are added, removed ones finish what they have in flight and
 * close; only the keys whose owner changed move.
 */
import { Backend, type BackendOptions, type BackendStats, type ServerAddress } from './backend.js';
import { createDistribution, type Distribution, type DistributionKind } from './distribution/index.js';
import { InvalidArgumentError, type MemlineError } from './errors.js';
import type { SendOptions } from './request-entry.js';

/**
 * A server given as `"host:port"` (`"[::1]:11211"`, or with the protocol's URL scheme:
 * `"memcached://host:port"`), a Unix socket path (`"/run/memcached.sock"`), or as an object.
 */
export type ServerSpec = string | { host: string; port: number; weight?: number };

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/,@]+)):(\d{1,5})$/;

/**
 * Parses and validates one server spec; throws ERR_INVALID_ARGUMENT naming the problem. A string
 * may start with `<scheme>://` (and end with `/`) when `scheme` is given.
 */
export function parseServer(spec: ServerSpec, scheme?: string): ServerAddress {
  if (typeof spec === 'string') {
    if (spec.startsWith('/')) {
      // A Unix socket: any path without control characters or a comma.
      const bad = (c: number): boolean => c < 0x20 || c === 0x7f || c === 0x2c; // controls, DEL, comma
      if (spec.length > 1024 || Array.from(spec, (ch) => ch.charCodeAt(0)).some(bad)) {
        throw new InvalidArgumentError(`servers: "${spec}" is not a usable Unix socket path`);
      }
      return { host: spec, port: 0, weight: 1, address: spec };
    }
    const prefix = scheme === undefined ? undefined : `${scheme}://`;
    const bare =
      prefix !== undefined && spec.startsWith(prefix) ? spec.slice(prefix.length).replace(/\/$/, '') : spec;
    if (bare.includes(',')) {
      throw new InvalidArgumentError(
        `servers: "${spec}" holds several servers; give them as array elements or as one comma-separated string`,
      );
    }
    const m = HOST_PORT.exec(bare);
    if (m === null) throw new InvalidArgumentError(`servers: "${spec}" is not "host:port" nor a socket path`);
    const host = m[1] ?? m[2];
    return checkPort({ host, port: Number(m[3]), weight: 1, address: bare });
  }
  if (typeof spec !== 'object' || spec === null || typeof spec.host !== 'string' || spec.host === '') {
    throw new InvalidArgumentError('servers: each server is "host:port" or { host, port, weight? }');
  }
  const weight = spec.weight ?? 1;
  if (!Number.isInteger(weight) || weight < 1) {
    throw new InvalidArgumentError(`servers: weight of ${spec.host}:${spec.port} must be a positive integer`);
  }
  if (spec.host.startsWith('/')) {
    return { ...parseServer(spec.host), weight };
  }
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return checkPort({ host: spec.host, port: spec.port, weight, address: `${host}:${spec.port}` });
}

function checkPort(address: ServerAddress): ServerAddress {
  if (!Number.isInteger(address.port) || address.port < 1 || address.port > 65535) {
    throw new InvalidArgumentError(`servers: port of "${address.address}" must be an integer in 1..65535`);
  }
  return address;
}

/**
 * Parses a whole server list: non-empty, no address twice. A string is a comma-separated list
 * (`"a:11211,b:11211"`, as pasted from a config).
 */
export function parseServers(servers: readonly ServerSpec[] | string, scheme?: string): ServerAddress[] {
  const given: unknown = typeof servers === 'string' ? servers.split(',') : servers;
  if (!Array.isArray(given) || given.length === 0) {
    throw new InvalidArgumentError('servers: at least one server is required');
  }
  const parsed = (given as ServerSpec[]).map((spec) => parseServer(spec, scheme));
  const seen = new Set<string>();
  for (const s of parsed) {
    if (seen.has(s.address)) throw new InvalidArgumentError(`servers: "${s.address}" is listed twice`);
    seen.add(s.address);
  }
  return parsed;
}

/** The settings of a {@link Cluster}: how keys are distributed, plus those given to every backend. */
export interface ClusterOptions<Req, Res, Frame> extends BackendOptions<Req, Res, Frame> {
  /** How keys map to servers. */
  readonly distribution: DistributionKind;
  /** The URL scheme a server string may carry (`"memcached"` reads `"memcached://a:1"` as `"a:1"`). */
  readonly scheme?: string;
}

/** What a server-list change did. */
export interface ServerListChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/**
 * The servers a client talks to, one {@link Backend} each, and the routing of every request to the
 * backend that owns its key; the list can be changed while requests run.
 */
export class Cluster<Req, Res, Frame> {
  #options: ClusterOptions<Req, Res, Frame>;
  #backends: Backend<Req, Res, Frame>[];
  #distribution: Distribution;
  #closed = false;
  /** Backends removed from the list that are finishing their requests. */
  #draining = new Set<Backend<Req, Res, Frame>>();

  constructor(servers: readonly ServerSpec[] | string, options: ClusterOptions<Req, Res, Frame>) {
    this.#options = options;
    const addresses = parseServers(servers, options.scheme);
    this.#distribution = createDistribution(options.distribution, addresses);
    this.#backends = addresses.map((a) => new Backend<Req, Res, Frame>(a, options));
  }

  /** The backends, in the order of the server list. */
  get backends(): readonly Backend<Req, Res, Frame>[] {
    return this.#backends;
  }

  /** The backend that owns `key` (the first one for requests without a key). */
  backendFor(key: string | undefined): Backend<Req, Res, Frame> {
    const backends = this.#backends;
    if (key === undefined || backends.length === 1) return backends[0];
    return backends[this.#distribution.pick(key)];
  }

  /** Sends `req` to the backend its routing key maps to. */
  send(req: Req, options: SendOptions): Promise<Res> {
    return this.backendFor(this.#options.codec.routingKey(req)).send(req, options);
  }

  /**
   * Splits items by the backend that owns each one's key: for each backend, the indexes (into
   * `keys`) it owns, in their original order; items without a key go to the first backend.
   */
  partition(keys: readonly (string | undefined)[]): Map<Backend<Req, Res, Frame>, number[]> {
    const parts = new Map<Backend<Req, Res, Frame>, number[]>();
    if (this.#backends.length === 1) {
      // One server owns every key: no key is looked at.
      const all = keys.map((_, i) => i);
      return all.length === 0 ? parts : parts.set(this.#backends[0], all);
    }
    for (let i = 0; i < keys.length; i++) {
      const backend = this.backendFor(keys[i]);
      const part = parts.get(backend);
      if (part === undefined) parts.set(backend, [i]);
      else part.push(i);
    }
    return parts;
  }

  /**
   * Replaces the server list. Backends whose address stays keep their connections; removed ones
   * finish what they have in flight, then close. Throws ERR_INVALID_ARGUMENT (and changes nothing)
   * on a bad list.
   */
  setServers(servers: readonly ServerSpec[] | string): ServerListChange {
    if (this.#closed) return { added: [], removed: [] };
    const addresses = parseServers(servers, this.#options.scheme);
    const distribution = createDistribution(this.#options.distribution, addresses);
    const current = new Map(this.#backends.map((b) => [b.server, b]));
    const added: string[] = [];
    const next = addresses.map((a) => {
      const kept = current.get(a.address);
      if (kept !== undefined && kept.address.weight === a.weight) {
        current.delete(a.address);
        return kept;
      }
      added.push(a.address);
      return new Backend<Req, Res, Frame>(a, this.#options);
    });
    this.#backends = next;
    this.#distribution = distribution;
    for (const gone of current.values()) {
      this.#draining.add(gone);
      void gone.close().then(() => this.#draining.delete(gone));
    }
    return { added, removed: [...current.keys()] };
  }

  get stats(): BackendStats[] {
    return this.#backends.map((b) => b.stats);
  }

  /** Graceful: every backend, including ones being removed, finishes what it issued, then closes. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#backends, ...this.#draining].map((b) => b.close()));
  }

  /** Immediate: closes every connection; pending requests reject with `error` (or ERR_CLIENT_CLOSED). */
  destroy(error?: MemlineError): void {
    this.#closed = true;
    for (const b of [...this.#backends, ...this.#draining]) b.destroy(error);
  }
}
