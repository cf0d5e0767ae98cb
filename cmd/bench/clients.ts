/**
 * memline and the peers behind the {@link Driver} interface. Each is used through its own fastest
 * documented API (callbacks where it has them), with its default options except for silencing loggers,
 * and is handed values in the form its `get` returns them.
 */
import { Memcache } from 'memcache';
import electrode from 'memcache-client';
import Memcached from 'memcached';
import memjs from 'memjs';
import {
  MemcacheClient,
  type Item,
  type MemcacheClientOptions,
} from '../../protocols/memcached-meta/index.js';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BASELINE_ENTRY, type CellSpec, type ClientName } from './cells.js';
import { RawDriver, type ClientCounters, type Driver, type LaneOps, type LaneSink } from './driver.js';
import type { Keyspace } from './keyspace.js';
import type { RawTransport } from './raw.js';

export function createDriver(name: ClientName, ks: Keyspace): Driver {
  switch (name) {
    case 'raw':
      return new RawDriver(ks, 'minimal');
    case 'raw-contract':
      return new RawDriver(ks, 'contract');
    case 'raw-promise':
      return new RawDriver(ks, 'contract', true);
    case 'memline':
      return new MemlineDriver(ks, name, {});
    case 'memline-coalesce':
      return new MemlineDriver(ks, name, { coalesce: true });
    case 'memline-near':
      // The near cache's defaults, spelt out so the report's figures keep their meaning.
      return new MemlineDriver(ks, name, { coalesce: true, nearCache: { maxAge: 1000, promoteChance: 0.1 } });
    case 'memline-signal':
      return new MemlineDriver(ks, name, {}, { sharedSignal: true });
    case 'memline-baseline':
      return new MemlineDriver(ks, name, {}, { baseline: process.env[BASELINE_ENV] });
    case 'memjs':
      return new MemjsDriver(ks);
    case 'memcached':
      return new MemcachedDriver(ks);
    case 'memcache-client':
      return new ElectrodeDriver(ks);
    case 'memcache':
      return new JaredwrayDriver(ks);
  }
}

// memcache-client is CommonJS whose named exports Node cannot detect: take them from the default export.
const { MemcacheClient: ElectrodeClient, NullLogger } = electrode;
type ElectrodeClient = InstanceType<typeof ElectrodeClient>;

/** Why a client without TLS support cannot run a TLS cell, or undefined. */
function noTls(name: string, cell: CellSpec): string | undefined {
  return cell.tls ? `${name} has no TLS support` : undefined;
}

function need<T>(client: T | undefined): T {
  if (client === undefined) throw new Error('driver used before open()');
  return client;
}

/** The environment variable that names a `--baseline` checkout to the worker processes. */
export const BASELINE_ENV = 'MEMLINE_BENCH_BASELINE';

/** How a memline variant runs besides its client options. */
interface MemlineRun {
  /** A checkout whose built client runs instead of this one (same API, another version of the code). */
  baseline?: string | undefined;
  /** Every call passes `{ signal }`: one AbortSignal, never aborted, shared by every call of every lane. */
  sharedSignal?: boolean;
}

/**
 * memline with its defaults, or with the options of one of its variants; with `baseline`, the client
 * built in that checkout; with `sharedSignal`, every call made with one AbortSignal.
 */
class MemlineDriver implements Driver {
  readonly valueType = 'Buffer';
  readonly baseline: string | undefined;
  #client: MemcacheClient | undefined;
  /** `{ signal }`, made once with the driver and passed to every call, or undefined. */
  readonly #callOptions: { readonly signal: AbortSignal } | undefined;
  constructor(
    readonly ks: Keyspace,
    readonly name: ClientName,
    readonly options: Omit<MemcacheClientOptions, 'servers' | 'tls'>,
    run: MemlineRun = {},
  ) {
    this.baseline = run.baseline;
    this.#callOptions = run.sharedSignal === true ? { signal: new AbortController().signal } : undefined;
  }

  unsupported(): undefined {
    return undefined;
  }

  async open(servers: readonly string[], transport: RawTransport): Promise<void> {
    let Client = MemcacheClient;
    if (this.baseline !== undefined) {
      const entry = pathToFileURL(join(this.baseline, BASELINE_ENTRY)).href;
      ({ MemcacheClient: Client } = (await import(entry)) as { MemcacheClient: typeof MemcacheClient });
    }
    this.#client = new Client({
      ...this.options,
      servers: [...servers],
      ...(transport.tls === undefined ? {} : { tls: { ca: transport.tls.ca } }),
    });
    await this.#client.get(this.ks.keys[0]);
  }

  lane(sink: LaneSink): LaneOps {
    const client = need(this.#client);
    const { keys, values, batches } = this.ks;
    const onItem = (item: Item | null): void => sink.value(item === null ? null : item.value);
    const onMulti = (items: Map<string, Item>): void => sink.multi(items);
    const onStored = (): void => sink.stored();
    const onError = (err: unknown): void => sink.error(err);
    const options = this.#callOptions;
    if (options === undefined) {
      return {
        get: (i) => void client.get(keys[i]).then(onItem, onError),
        set: (i) => void client.set(keys[i], values[i]).then(onStored, onError),
        getMulti: (b) => void client.getMulti(batches[b]).then(onMulti, onError),
      };
    }
    // The same calls, each given the one options object (no closure or object per call).
    return {
      get: (i) => void client.get(keys[i], options).then(onItem, onError),
      set: (i) => void client.set(keys[i], values[i], options).then(onStored, onError),
      getMulti: (b) => void client.getMulti(batches[b], options).then(onMulti, onError),
    };
  }

  readMulti(result: unknown, key: string): Buffer | undefined {
    return (result as Map<string, Item>).get(key)?.value;
  }

  counters(): ClientCounters {
    const { nearHits, coalesced } = need(this.#client).metrics.total;
    return { nearHits, coalesced };
  }

  async close(): Promise<void> {
    await this.#client?.close();
  }
}

const silent = { log: (): void => undefined };

class MemjsDriver implements Driver {
  readonly name = 'memjs';
  readonly valueType = 'Buffer';
  #client: memjs.Client | undefined;
  constructor(readonly ks: Keyspace) {}

  unsupported(cell: CellSpec): string | undefined {
    return cell.op === 'getMulti' ? 'memjs has no multi-get (memcachier/memjs#105)' : noTls('memjs', cell);
  }

  async open(servers: readonly string[]): Promise<void> {
    this.#client = memjs.Client.create(servers.join(','), { logger: silent });
    await this.#client.get(this.ks.keys[0]);
  }

  lane(sink: LaneSink): LaneOps {
    const client = need(this.#client);
    const { keys, values } = this.ks;
    const onGet = (err: Error | null, value: Buffer | null): void =>
      err ? sink.error(err) : sink.value(value);
    const onSet = (err: Error | null): void => (err ? sink.error(err) : sink.stored());
    const options = {};
    return {
      get: (i) => client.get(keys[i], onGet),
      set: (i) => client.set(keys[i], values[i], options, onSet),
      getMulti: () => sink.error(new Error('unsupported')),
    };
  }

  readMulti(): undefined {
    return undefined;
  }

  close(): Promise<void> {
    this.#client?.close();
    return Promise.resolve();
  }
}

class MemcachedDriver implements Driver {
  readonly name = 'memcached';
  readonly valueType = 'string';
  #client: Memcached | undefined;
  constructor(readonly ks: Keyspace) {}

  unsupported(cell: CellSpec): string | undefined {
    return noTls('memcached', cell);
  }

  async open(servers: readonly string[]): Promise<void> {
    const client = new Memcached(servers.length === 1 ? servers[0] : [...servers]);
    this.#client = client;
    await new Promise<void>((resolve, reject) =>
      client.get(this.ks.keys[0], (err: unknown) => (err ? reject(toError(err)) : resolve())),
    );
  }

  lane(sink: LaneSink): LaneOps {
    const client = need(this.#client);
    const { keys, texts, batches } = this.ks;
    const onGet = (err: unknown, data: unknown): void =>
      err ? sink.error(err) : sink.value(data as string | Buffer | undefined);
    const onSet = (err: unknown): void => (err ? sink.error(err) : sink.stored());
    const onMulti = (err: unknown, data: unknown): void => (err ? sink.error(err) : sink.multi(data));
    return {
      get: (i) => client.get(keys[i], onGet),
      set: (i) => client.set(keys[i], texts[i], 0, onSet),
      getMulti: (b) => client.getMulti(batches[b], onMulti),
    };
  }

  readMulti(result: unknown, key: string): string | Buffer | undefined {
    return (result as Record<string, string | Buffer | undefined>)[key];
  }

  close(): Promise<void> {
    this.#client?.end();
    return Promise.resolve();
  }
}

class ElectrodeDriver implements Driver {
  readonly name = 'memcache-client';
  readonly valueType = 'string';
  #client: ElectrodeClient | undefined;
  constructor(readonly ks: Keyspace) {}

  unsupported(cell: CellSpec): string | undefined {
    return cell.servers > 1
      ? 'memcache-client treats several servers as redundant copies, not shards (no key distribution)'
      : undefined;
  }

  async open(servers: readonly string[], transport: RawTransport): Promise<void> {
    this.#client = new ElectrodeClient({
      server: servers[0],
      logger: NullLogger,
      ...(transport.tls === undefined ? {} : { tls: { ca: transport.tls.ca } }),
    });
    await this.#client.get(this.ks.keys[0]);
  }

  lane(sink: LaneSink): LaneOps {
    const client = need(this.#client);
    const { keys, texts, batches } = this.ks;
    type Reply = { value: string } | undefined;
    const onGet = (err?: Error | null, data?: Reply): void =>
      err ? sink.error(err) : sink.value(data?.value);
    const onSet = (err?: Error | null): void => (err ? sink.error(err) : sink.stored());
    const onMulti = (err?: Error | null, data?: unknown): void => (err ? sink.error(err) : sink.multi(data));
    return {
      get: (i) => void client.get<string>(keys[i], onGet),
      set: (i) => void client.set(keys[i], texts[i], onSet),
      getMulti: (b) => void client.get(batches[b], onMulti),
    };
  }

  readMulti(result: unknown, key: string): string | undefined {
    return (result as Record<string, { value: string } | undefined>)[key]?.value;
  }

  close(): Promise<void> {
    this.#client?.shutdown();
    return Promise.resolve();
  }
}

class JaredwrayDriver implements Driver {
  readonly name = 'memcache';
  readonly valueType = 'string';
  #client: Memcache | undefined;
  constructor(readonly ks: Keyspace) {}

  unsupported(cell: CellSpec): string | undefined {
    return noTls('memcache', cell);
  }

  async open(servers: readonly string[]): Promise<void> {
    this.#client = new Memcache({ nodes: [...servers] });
    await this.#client.get(this.ks.keys[0]);
  }

  lane(sink: LaneSink): LaneOps {
    const client = need(this.#client);
    const { keys, texts, batches } = this.ks;
    const onGet = (value: string | undefined): void => sink.value(value);
    const onSet = (ok: boolean): void => (ok ? sink.stored() : sink.error(new Error('not stored')));
    const onMulti = (values: Map<string, string>): void => sink.multi(values);
    const onError = (err: unknown): void => sink.error(err);
    return {
      get: (i) => void client.get(keys[i]).then(onGet, onError),
      set: (i) => void client.set(keys[i], texts[i]).then(onSet, onError),
      getMulti: (b) => void client.gets(batches[b]).then(onMulti, onError),
    };
  }

  readMulti(result: unknown, key: string): string | undefined {
    return (result as Map<string, string>).get(key);
  }

  async close(): Promise<void> {
    await this.#client?.disconnect();
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
