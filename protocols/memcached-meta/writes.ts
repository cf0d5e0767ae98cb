/**
 * Single-key writes: the stores (`set`, `add`, `replace`, `append`, `prepend`, `cas`, and
 * `setValue` through the serializer), `delete`, `invalidate`, and the counters `incr`/`decr`.
 */
import { InvalidArgumentError } from '../../lib/errors.js';
import { asError, type RoutedCallOptions } from '../../lib/kit/index.js';
import { notStored } from './correlation.js';
import type {
  AppendOptions,
  CounterOptions,
  DeleteOptions,
  StoreOptions,
  ValueStoreOptions,
} from './call-options.js';
import type { Dispatch } from './dispatch.js';
import type { MetaFrame } from './frame.js';
import { MetaRequest } from './request.js';
import { toCounter, valueBytes, type Key, type Value } from './results.js';
import * as validate from './validate.js';

/** The store modes: `ms` with no mode (set), `ME` (add), `MR` (replace), `MA`/`MP` (append/prepend). */
export type StoreMode = '' | ' ME' | ' MR' | ' MA' | ' MP';

/**
 * Sends an `ms`; resolves with its reply, or `undefined` when nothing was sent (a CAS token read
 * from another server than the one the key maps to now).
 */
export function store(
  d: Dispatch,
  key: Key,
  value: Value,
  options: (StoreOptions & AppendOptions) | undefined,
  mode: StoreMode,
  cas: bigint | number | undefined,
): Promise<MetaFrame | undefined> {
  // append and prepend keep the item's TTL and flags, and may vivify; the others may set a new CAS.
  const appending = mode === ' MA' || mode === ' MP';
  return d.core.run<MetaFrame | undefined>(options, (so) => {
    const wk = d.key(key);
    const bytes = valueBytes(value, d.options.maxStoreSize);
    let flags = mode + (appending ? '' : storeFlags(options));
    if (cas !== undefined) {
      const token = validate.casToken(cas);
      const raw = d.casTags.untag(token, d.backendFor(wk, options).server);
      if (raw === undefined) {
        // Read from another server: the number may name another version here.
        if (options?.newCas !== undefined) validate.cas(options.newCas, 'newCas');
        return Promise.resolve(undefined);
      }
      flags = ` C${raw}` + flags;
    }
    // Only a plain set may be replayed: add/replace/append/prepend/cas could apply twice.
    const idempotent = mode === '' && cas === undefined;
    const newCas = appending ? undefined : options?.newCas;
    const vivify = appending ? options?.vivify : undefined;
    if (newCas === undefined && vivify === undefined)
      return d.send(MetaRequest.meta('ms', wk, flags, bytes, idempotent), so, options);
    if (newCas !== undefined) {
      const e = ` E${validate.cas(newCas, 'newCas')}`;
      const req = MetaRequest.meta('ms', wk, flags + e, bytes, idempotent);
      return d.sendGated(req, options, so, 'explicitCas', 'newCas');
    }
    if (wk.base64) {
      throw new InvalidArgumentError(
        'vivify is refused for binary keys: the server would store the created item under the raw key bytes',
      );
    }
    const n = ` N${validate.relativeTtl(vivify, 'vivify')}`;
    const req = MetaRequest.meta('ms', wk, flags + n, bytes, false);
    return d.sendGated(req, options, so, 'appendVivify', 'append/prepend with vivify');
  });
}

/** The `T` and `F` flags of a store (none for 0). */
export function storeFlags(options: StoreOptions | undefined): string {
  const ttl = validate.expiry(options) ?? 0;
  const flags = options?.flags === undefined ? 0 : validate.clientFlags(options.flags);
  return (ttl === 0 ? '' : ` T${ttl}`) + (flags === 0 ? '' : ` F${flags}`);
}

/** Whether a store answered HD; `undefined` (nothing sent: a CAS token from another server) is not. */
export function stored(frame: MetaFrame | undefined): boolean {
  return frame?.status === 'HD';
}

/** `set`: resolves when stored; anything but HD is an error. */
export function set(d: Dispatch, key: Key, value: Value, options: StoreOptions | undefined): Promise<void> {
  if (options?.newCas !== undefined) {
    return store(d, key, value, options, '', undefined).then((f) => {
      if (f?.status !== 'HD') throw notStored(f?.status);
    });
  }
  // The busiest write: written out rather than through d.core.run (a closure per call), and its reply
  // checked by the codec (MetaRequest.set), so the caller's promise is the engine's own.
  try {
    const so = d.core.prepare(options);
    const wk = d.key(key);
    const bytes = valueBytes(value, d.options.maxStoreSize);
    const req = MetaRequest.set(wk, storeFlags(options), bytes);
    return d.send(req, so, options) as Promise<unknown> as Promise<void>;
  } catch (err) {
    return Promise.reject(asError(err));
  }
}

/** `setValue`: the value through the serializer (compression included in the call's deadline). */
export function setValue(
  d: Dispatch,
  key: Key,
  value: unknown,
  options: ValueStoreOptions | undefined,
): Promise<void> {
  const values = d.options.values;
  if (values === undefined) return set(d, key, value as Value, options);
  return d.core.guard(() => {
    if ((options as { flags?: unknown } | undefined)?.flags !== undefined) {
      throw new InvalidArgumentError('setValue takes no flags: the serializer chooses them');
    }
    const started = performance.now();
    const encoded = values.encode(value);
    if (!(encoded instanceof Promise))
      return set(d, key, encoded.value, { ...options, flags: encoded.flags });
    d.key(key); // a bad key is refused before the compression work
    return encoded.then((e) => {
      // The deadline still counts from the call, compression included.
      const timeout = (options?.timeout ?? d.core.timeout) - (performance.now() - started);
      return set(d, key, e.value, { ...options, flags: e.flags, timeout: Math.max(1, timeout) });
    });
  });
}

/** `cas`: a missing token (`item?.cas` after a miss) must not turn into an unconditional write. */
export function casStore(
  d: Dispatch,
  key: Key,
  value: Value,
  cas: bigint | number,
  options: StoreOptions | undefined,
): Promise<boolean> {
  if (cas === undefined || cas === null) {
    return Promise.reject(
      new InvalidArgumentError(`cas must be the token of an item (got ${validate.show(cas)})`),
    );
  }
  return store(d, key, value, options, '', cas).then(stored);
}

/** `delete`; with `keepItem`, empties the value instead (`md x`, gated on the server's version). */
export function remove(d: Dispatch, key: Key, options: DeleteOptions | undefined): Promise<boolean> {
  return d.core.run(options, (so) => {
    const wk = d.key(key);
    const keepItem = options?.keepItem;
    if (keepItem === undefined || keepItem === false) {
      return d.send(MetaRequest.meta('md', wk, '', undefined, true), so, options).then(stored);
    }
    if (keepItem !== true) throw new InvalidArgumentError('keepItem must be true or false');
    const req = MetaRequest.meta('md', wk, ' x', undefined, true);
    return d.sendGated(req, options, so, 'deleteKeepsItem', 'delete({ keepItem })').then(stored);
  });
}

/** Marks the item stale (`md I`). */
export function invalidate(
  d: Dispatch,
  key: Key,
  options: (RoutedCallOptions & { staleTtl?: number | undefined }) | undefined,
): Promise<boolean> {
  return d.core.run(options, (so) => {
    const t = validate.relativeTtl(options?.staleTtl ?? 30, 'staleTtl');
    return d.send(MetaRequest.meta('md', d.key(key), ` I T${t}`, undefined, true), so, options).then(stored);
  });
}

/** `incr` (mode `''`) and `decr` (mode `' MD'`): `ma … v`, the new value or `null`. */
export function counter(
  d: Dispatch,
  key: Key,
  delta: number | bigint | undefined,
  options: CounterOptions | undefined,
  mode: '' | ' MD',
): Promise<bigint | null> {
  return d.core.run(options, (so) => {
    const wk = d.key(key);
    let flags: string = mode;
    const dl = delta === undefined ? 1n : validate.u64(delta, 'delta');
    if (dl !== 1n) flags += ` D${dl}`;
    if (options?.initial !== undefined) {
      const ttl = validate.expiry(options) ?? 0;
      flags = ` N${ttl} J${validate.u64(options.initial, 'initial')}` + flags;
    } else if (options?.ttl !== undefined || options?.expiresAt !== undefined) {
      throw new InvalidArgumentError(
        'ttl and expiresAt apply to the item created from `initial`; give `initial` too',
      );
    }
    return d.send(MetaRequest.meta('ma', wk, flags + ' v', undefined, false), so, options).then(toCounter);
  });
}
