/**
 * Type tests, compiled (never run) by `tsc -p test/types` under `strict` and
 * `exactOptionalPropertyTypes`: how applications with those settings call the clients. Every
 * `@ts-expect-error` line is a wrong use that must keep failing to compile.
 */
import {
  MemcacheClient,
  type AppendOptions,
  type CallOptions,
  type CounterOptions,
  type DeleteOptions,
  type GetOrSetOptions,
  type Item,
  type MetaRequestSpec,
  type ReadOptions,
  type StoreOptions,
  type UpdateOptions,
  type ValueStoreOptions,
} from '../../protocols/memcached-meta/index.js';
import type { RedisClient } from '../../protocols/redis-resp/index.js';
import { type CommandOptions, type SetOptions } from '../../protocols/redis-resp/index.js';

declare const client: MemcacheClient;
declare const redis: RedisClient;
declare const maybeNumber: number | undefined;
declare const maybeSignal: AbortSignal | undefined;
declare const maybeString: string | undefined;

// ---- per-call options take `undefined` members (options passed through from a caller) ----------

const call: CallOptions = {
  timeout: maybeNumber,
  signal: maybeSignal,
  routingKey: maybeString,
  server: maybeString,
};
const read: ReadOptions = { ...call, meta: undefined, touch: maybeNumber };
const store: StoreOptions = {
  ...call,
  ttl: maybeNumber,
  expiresAt: undefined,
  flags: maybeNumber,
  newCas: undefined,
};
const valueStore: ValueStoreOptions = { ttl: maybeNumber, newCas: undefined };
const append: AppendOptions = { vivify: maybeNumber };
const del: DeleteOptions = { keepItem: undefined };
const counter: CounterOptions = { initial: undefined, ttl: maybeNumber };
const lease: GetOrSetOptions = { ttl: 60, leaseTtl: maybeNumber, waitTimeout: undefined, recache: undefined };
const upd: UpdateOptions = { flags: undefined, maxRetries: maybeNumber };
const spec: MetaRequestSpec = { command: 'mn', key: undefined, flags: undefined, value: undefined };

export async function passesOptionsThrough(timeout?: number): Promise<void> {
  await client.get('k', { timeout });
  await client.get('k', read);
  await client.set('k', 'v', store);
  await client.setValue('k', 'v', valueStore);
  await client.append('k', 'v', append);
  await client.delete('k', del);
  await client.incr('k', 1, counter);
  await client.getOrSet('k', () => 'v', lease);
  await client.update('k', () => undefined, upd);
  await client.meta(spec, call);
  await client.invalidate('k', { staleTtl: maybeNumber });
  await client.stats(undefined, { server: maybeString });
  await client.flushAll(undefined, { server: '127.0.0.1:11211' });

  const set: SetOptions = { ex: maybeNumber, px: undefined, nx: undefined, xx: undefined, timeout };
  const routed: CommandOptions = { routingKey: maybeString, server: undefined };
  await redis.set('k', 'v', set);
  await redis.get('k', { timeout, signal: maybeSignal });
  await redis.sendCommand(['PING'], routed);
}

// ---- keys: strings or bytes; results name a key as a string ------------------------------------

export async function takesByteKeys(): Promise<void> {
  const bytes = Buffer.from([0, 1, 2]);
  const item: Item | null = await client.get(bytes);
  const name: string | undefined = item?.key; // a byte key comes back as the base64 of its bytes
  await client.set(new Uint8Array([1, 2]), 'v');
  await client.touch(bytes, 10);
  await client.incr(bytes);
  const items: Map<string, Item> = await client.getMulti(['a', bytes]);
  await client.setMulti([[bytes, 'v']]);
  await client.deleteMulti([bytes]);
  await client.meta({ command: 'mg', key: bytes, flags: { v: true } });
  const server: string = client.serverFor(bytes, { server: maybeString });
  void [name, items, server];
}

// ---- wrong uses ---------------------------------------------------------------------------------

export async function refusesWrongUses(): Promise<void> {
  // @ts-expect-error a key is a string or bytes
  await client.get(42);
  // @ts-expect-error a misspelt option is not an option
  await client.get('k', { tiemout: 5 });
  // @ts-expect-error timeout is a number
  await client.get('k', { timeout: '5' });
  // @ts-expect-error server is an address string
  await client.stats(undefined, { server: 11211 });
  // @ts-expect-error a value is bytes or a string
  await client.set('k', 5);
  // @ts-expect-error setValue takes no flags: the serializer chooses them
  await client.setValue('k', 'v', { flags: 1 });
  // @ts-expect-error debug refuses byte keys (the reply can carry the raw bytes)
  await client.debug(Buffer.from('k'));
  const item = await client.get(Buffer.from('k'));
  // @ts-expect-error the key in a result is a string, whatever the key given
  const bytes: Buffer | undefined = item?.key;
  // @ts-expect-error without a serializer, values are Buffers
  await client.getValue<number>('k');
  // @ts-expect-error a pool is a server list or { servers, distribution }
  new MemcacheClient({ pools: { main: 11211 } });
  // @ts-expect-error Redis's set has no ttl option (ex / px)
  await redis.set('k', 'v', { ttl: 5 });
  void bytes;
}
