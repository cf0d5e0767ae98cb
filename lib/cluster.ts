/**
 * The servers of a client and the routing of requests to them by key.
 *
 * This version routes to a single server; consistent hashing over many servers (ketama, jump,
 * modula) and bulk requests split by backend build on the same `backendFor()` seam.
 */
import { Backend, type BackendOptions, type BackendStats, type ServerAddress } from './backend.js';
import { InvalidArgumentError, type MemlineError } from './errors.js';
import type { SendOptions } from './request-entry.js';

/** A server given as `"host:port"` or as an object. */
export type ServerSpec = string | { host: string; port: number; weight?: number };

/** Parses and validates one server spec; throws ERR_INVALID_ARGUMENT naming the problem. */
export function parseServer(spec: ServerSpec): ServerAddress {
  if (typeof spec === 'string') {
    const m = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(spec);
    if (m === null) throw new InvalidArgumentError(`servers: "${spec}" is not "host:port"`);
    return checkPort({ host: m[1], port: Number(m[2]), weight: 1, address: spec });
  }
  if (typeof spec !== 'object' || spec === null || typeof spec.host !== 'string' || spec.host === '') {
    throw new InvalidArgumentError('servers: each server is "host:port" or { host, port, weight? }');
  }
  const weight = spec.weight ?? 1;
  if (!Number.isInteger(weight) || weight < 1) {
    throw new InvalidArgumentError(`servers: weight of ${spec.host}:${spec.port} must be a positive integer`);
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

export class Cluster<Req, Res, Frame> {
  readonly backends: readonly Backend<Req, Res, Frame>[];

  constructor(servers: readonly ServerSpec[], options: BackendOptions<Req, Res, Frame>) {
    const given: unknown = servers;
    if (!Array.isArray(given) || given.length === 0) {
      throw new InvalidArgumentError('servers: at least one server is required');
    }
    if (servers.length > 1) {
      throw new InvalidArgumentError('servers: this version supports one server; distribution comes next');
    }
    this.backends = servers.map((spec) => new Backend<Req, Res, Frame>(parseServer(spec), options));
  }

  /** The backend that owns `key`. */
  backendFor(_key: string | undefined): Backend<Req, Res, Frame> {
    return this.backends[0];
  }

  /** Sends `req` to the backend its routing key maps to. */
  send(req: Req, options: SendOptions): Promise<Res> {
    const backend = this.backendFor(this.backends[0].codec.routingKey(req));
    return backend.send(req, options);
  }

  get stats(): BackendStats[] {
    return this.backends.map((b) => b.stats);
  }

  async close(): Promise<void> {
    await Promise.all(this.backends.map((b) => b.close()));
  }

  destroy(error?: MemlineError): void {
    for (const b of this.backends) b.destroy(error);
  }
}
