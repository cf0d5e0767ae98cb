/**
 * `memline/keyv`: a Keyv v6 storage adapter.
 *
 * ```ts
 * import Keyv from 'keyv';
 * import { KeyvStore } from 'memline/keyv';
 * const keyv = new Keyv({ store: new KeyvStore({ servers: ['127.0.0.1:11211'] }), namespace: 'users' });
 * ```
 *
 * Keys on the server are `<namespace>:<generation>:<key>` (`keyv` for no namespace). `clear()` never
 * sends `flush_all`: it bumps the namespace's generation counter (`generations.ts`).
 */
import { EventEmitter } from 'node:events';
import type {
  KeyvStorageAdapter,
  KeyvStorageMethod,
  KeyvStorageCapability,
  KeyvStorageEntry,
  KeyvStorageGetResult,
} from 'keyv';
import type { MemcacheClient } from '../client.js';
import type { Item } from '../results.js';
import { Generations } from './generations.js';
export type { ClientOrOptions } from './shared.js';
import { resolveClient, secondsUntil, type ClientOrOptions } from './shared.js';

/** Client flags of an item whose value is JSON (Keyv passes an object when its serialization is off). */
const JSON_FLAG = 1;
/**
 * Keyv v5 (the one cache-manager 7 depends on) passes a relative TTL in ms where v6 passes a Unix time
 * in ms; an expiry below this (September 2001, or a TTL of 31 years) is taken as a v5 TTL.
 */
const RELATIVE_BELOW = 1e12;

/** Whole seconds to live for Keyv's `expires`, rounded up; 0: never expires; negative: already expired. */
function ttlSeconds(expires: number | undefined): number {
  if (expires === undefined) return 0;
  if (expires < RELATIVE_BELOW) return expires > 0 ? Math.ceil(expires / 1000) : 0;
  const seconds = secondsUntil(expires);
  return seconds > 0 ? seconds : -1;
}

const METHODS = 'get getMany has hasMany set setMany delete deleteMany clear disconnect'.split(' ');

/** Options of {@link KeyvStore}. */
export interface KeyvStoreOptions {
  /** The namespace; Keyv sets it from its own `namespace` option. @default undefined (`keyv` on the wire) */
  namespace?: string;
  /**
   * How long (ms) a generation read from the server is reused. 0 reads it before every call (calls
   * started in the same tick share one read), so a `clear()` by any process is seen at once; a larger
   * value saves that round trip but lets other processes see a `clear()` up to this late.
   * @default 0
   */
  generationCacheMs?: number;
}

/**
 * A Keyv v6 storage adapter on memcached. Pass a {@link MemcacheClient} to share it (then
 * `disconnect()` leaves it open) or client options (then the store owns the client and
 * `disconnect()` closes it). Keys must be valid memcached keys, or create the client with
 * `binaryKeys: true` and `hashLongKeys: true` to accept any string.
 */
export class KeyvStore
  extends EventEmitter
  // The emitter half of the interface is Node's EventEmitter, whose `listeners()` Keyv types more narrowly.
  implements Omit<KeyvStorageAdapter, keyof EventEmitter>
{
  /** Set by Keyv from its `namespace` option. */
  namespace: string | undefined;
  /** Options seen by legacy Keyv tooling (`@keyv/test-suite` writes to it). */
  readonly opts: Record<string, unknown> = {};
  readonly client: MemcacheClient;
  readonly #owned: boolean;
  readonly #gens: Generations;

  constructor(client: ClientOrOptions, options: KeyvStoreOptions = {}) {
    super();
    ({ client: this.client, owned: this.#owned } = resolveClient(client));
    this.#gens = new Generations(this.client, options.generationCacheMs ?? 0);
    this.namespace = options.namespace;
  }

  /**
   * Declares the v6 contract (`set` takes an absolute expiry in ms), built here rather than with
   * keyv's `keyvStorageCapability` so that the store loads with Keyv v5 too.
   */
  get capabilities(): KeyvStorageCapability {
    const method = (exists: boolean): KeyvStorageMethod => ({
      exists,
      methodType: exists ? 'async' : 'none',
    });
    const methods = Object.fromEntries(METHODS.map((n) => [n, method(true)]));
    const all = { ...methods, iterator: method(false) } as KeyvStorageCapability['methods'];
    return { compatible: true, store: 'keyvStorage', methods: all, expires: true };
  }

  async get<Value>(key: string): Promise<KeyvStorageGetResult<Value>> {
    const item = await this.client.get(await this.#key(key));
    return item === null ? undefined : decode<Value>(item);
  }

  /** One pipelined bulk read (`getMulti`). */
  async getMany<Value>(keys: string[]): Promise<Array<KeyvStorageGetResult<Value | undefined>>> {
    const wire = await this.#keys(keys);
    const items = await this.client.getMulti(wire);
    return wire.map((k) => {
      const item = items.get(k);
      return item === undefined ? undefined : decode<Value>(item);
    });
  }

  /**
   * Stores the value (a string as is, anything else as JSON).
   * @param expires Unix time in ms (Keyv v6; a TTL in ms from Keyv v5); absent: never expires. Sent as
   * whole seconds from now, rounded up (the client converts TTLs above 30 days for the wire); an
   * expiry already past deletes the key.
   */
  async set(key: string, value: unknown, expires?: number): Promise<boolean> {
    const wk = await this.#key(key);
    const ttl = ttlSeconds(expires);
    const [bytes, flags] = encode(value);
    await (ttl < 0 ? this.client.delete(wk) : this.client.set(wk, bytes, { ttl, flags }));
    return true;
  }

  /** One quiet bulk write (`setMulti`) per distinct TTL and flags. */
  async setMany<Value>(entries: KeyvStorageEntry<Value>[]): Promise<boolean[]> {
    const wire = await this.#keys(entries.map((e) => e.key));
    const groups = new Map<string, { ttl: number; flags: number; items: [string, string][] }>();
    const expired: string[] = [];
    entries.forEach((e, i) => {
      const ttl = ttlSeconds(e.expires);
      if (ttl < 0) return void expired.push(wire[i]);
      const [bytes, flags] = encode(e.value);
      const id = `${ttl}/${flags}`;
      const group = groups.get(id) ?? { ttl, flags, items: [] };
      group.items.push([wire[i], bytes]);
      groups.set(id, group);
    });
    await Promise.all([
      ...[...groups.values()].map((g) => this.client.setMulti(g.items, { ttl: g.ttl, flags: g.flags })),
      expired.length > 0 ? this.client.deleteMulti(expired) : undefined,
    ]);
    return entries.map(() => true);
  }

  async has(key: string): Promise<boolean> {
    const reply = await this.client.meta({ command: 'mg', key: await this.#key(key) });
    return reply.status === 'HD';
  }

  /** Checks sent together: they leave in one write. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    const wire = await this.#keys(keys);
    const replies = await Promise.all(wire.map((key) => this.client.meta({ command: 'mg', key })));
    return replies.map((r) => r.status === 'HD');
  }

  async delete(key: string): Promise<boolean> {
    return this.client.delete(await this.#key(key));
  }

  async deleteMany(keys: string[]): Promise<boolean[]> {
    const wire = await this.#keys(keys);
    const deleted = await this.client.deleteMulti(wire);
    return wire.map((k) => deleted.get(k) === true);
  }

  /** Empties this namespace only, by moving it to a new generation (see the module's comment). */
  async clear(): Promise<void> {
    await this.#gens.bump(this.namespace ?? 'keyv');
  }

  /** Closes the client if the store created it; a borrowed client stays open. */
  async disconnect(): Promise<void> {
    if (this.#owned) await this.client.close();
  }

  async #key(key: string): Promise<string> {
    return (await this.#keys([key]))[0];
  }

  async #keys(keys: string[]): Promise<string[]> {
    const ns = this.namespace ?? 'keyv';
    const prefix = `${ns}:${await this.#gens.current(ns)}:`;
    return keys.map((k) => prefix + k);
  }
}

function encode(value: unknown): [string, number] {
  return typeof value === 'string' ? [value, 0] : [JSON.stringify(value), JSON_FLAG];
}

function decode<Value>(item: Item): KeyvStorageGetResult<Value> {
  const text = item.value.toString('utf8');
  return item.flags === JSON_FLAG ? (JSON.parse(text) as KeyvStorageGetResult<Value>) : text;
}
