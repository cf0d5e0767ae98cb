/**
 * Calls over many keys: one quiet request per key (with an opaque), one batch per server fenced by
 * `mn`, servers in parallel (`Dispatch.batches`). A failing server fails only its own keys: the
 * call then rejects with ERR_PARTIAL_RESULT holding what the others answered.
 */
import {
  InvalidArgumentError,
  PartialResultError,
  ResponseTooLargeError,
  type MemlineError,
} from '../../lib/errors.js';
import { finishPartial, type RoutedCallOptions } from '../../lib/kit/index.js';
import type { ReadManyOptions, StoreOptions } from './call-options.js';
import type { BatchReply, Dispatch } from './dispatch.js';
import { MetaFrame } from './frame.js';
import { decodeValue, handBackWin, nearItem, readOne } from './reads.js';
import { MetaRequest, type WireKey } from './request.js';
import { toItem, valueBytes, type Item, type Key, type Value } from './results.js';
import * as validate from './validate.js';
import { decodeAll } from './values.js';
import { notStored } from './correlation.js';
import { storeFlags } from './writes.js';

/** getMulti: the hits as items; misses absent. */
export function getMulti(d: Dispatch, keys: Iterable<Key>, options: ReadManyOptions | undefined) {
  return readMulti(d, keys, () => ' v f c', options, true);
}

/** gatMulti: getMulti with each hit's TTL set to `ttl`. */
export function gatMulti(
  d: Dispatch,
  keys: Iterable<Key>,
  ttl: number,
  options: RoutedCallOptions | undefined,
) {
  return readMulti(d, keys, () => ` T${validate.relativeTtl(ttl)} v f c`, options, false);
}

/** `mg <flags>` for every key: the hits as items, counted per server. */
function readMulti(
  d: Dispatch,
  keys: Iterable<Key>,
  /** The flags of each `mg`, validated inside the call. */
  flags: () => string,
  options: ReadManyOptions | undefined,
  /** A plain read, which the hot-key layer may answer. */
  plain: boolean,
): Promise<Map<string, Item>> {
  return d.core.run(options, async (so) => {
    let mg = flags();
    let wks = d.uniqueKeys(keys);
    const total = wks.length;
    const joinErrors = new Map<string, MemlineError>();
    const result = new Map<string, Item>();
    const tooLarge = new Map<string, MemlineError>();
    const hot = plain && d.hot.active && options?.server === undefined && options?.routingKey === undefined;
    let joined: Promise<void>[] | undefined;
    let epoch = 0;
    if (hot) {
      epoch = d.hot.begin();
      if (d.hot.near !== undefined) mg = ' v f c h l t';
      const toSend: WireKey[] = [];
      for (const wk of wks) {
        const found = d.hot.lookup(
          wk.token,
          so,
          options?.coalesce,
          () => readOne(d, wk, so, d.hot.begin()),
          () => d.counters.of(d.backendFor(wk, undefined).server),
        );
        if (found === undefined) toSend.push(wk);
        else if (!(found instanceof Promise)) result.set(wk.original, found);
        else {
          (joined ??= []).push(
            found.then(
              (item) => {
                if (item !== null) result.set(wk.original, item);
              },
              (err: MemlineError) => {
                joinErrors.set(wk.original, err);
              },
            ),
          );
        }
      }
      wks = toSend;
    }
    const near = hot && d.hot.near !== undefined;
    const errors = await d.batches<BatchReply>(
      wks,
      so,
      options,
      (wk) => MetaRequest.read(wk, mg),
      (b, wk, reply) => {
        if (!(reply instanceof MetaFrame)) {
          // An Item (or null) the codec made, tagged and counted; undefined: no reply, a miss.
          if (reply === undefined) d.counters.count(b.server, false);
          else if (reply !== null) result.set(reply.key, reply);
          return;
        }
        const f = reply;
        if (f.skipped !== -1) {
          // Read past by the decoder: this key fails, the others and the connection are fine.
          tooLarge.set(wk.original, oversize(f, d.options.maxValueSize, b.server));
          return;
        }
        let item: Item | null;
        if (near) item = nearItem(d, wk, f, b.server, epoch);
        else {
          item = toItem(wk.original, f);
          if (item !== null) item.cas = d.casTags.tag(item.cas, b.server);
        }
        d.counters.count(b.server, item !== null);
        if (item === null) return;
        handBackWin(d, b, wk, f);
        result.set(item.key, item);
      },
      // The near cache reads `h l t` from each frame; otherwise the codec makes the Items.
      !near,
      // A plain read changes no item: one request per server, not one per key.
      plain ? mg : undefined,
    );
    if (joined !== undefined) await Promise.all(joined);
    for (const [key, err] of tooLarge) errors.set(key, err);
    for (const [key, err] of joinErrors) errors.set(key, err);
    if (errors.size > 0 && d.counters.missAll(errors)) return result;
    return finishPartial(result, errors, total);
  });
}

/** getValues: getMulti's values, decoded; a value that cannot be decoded fails its key only. */
export function getValues(
  d: Dispatch,
  keys: Iterable<Key>,
  options: RoutedCallOptions | undefined,
): Promise<Map<string, unknown>> {
  const decode = d.options.values === undefined ? undefined : (item: Item) => decodeValue(d, item, options);
  return getMulti(d, keys, options).then(
    (items) => decodeAll(items, new Map(), decode),
    (err: unknown) => {
      if (!(err instanceof PartialResultError)) throw err;
      const partial = err as PartialResultError<Map<string, Item>>;
      return decodeAll(partial.results, partial.errors, decode);
    },
  );
}

/** Sets the TTL of many keys: `true` for each key found. */
export function touchMulti(
  d: Dispatch,
  keys: Iterable<Key>,
  ttl: number,
  options: RoutedCallOptions | undefined,
) {
  // mg q suppresses only the miss (EN): a touched key answers HD.
  return yesNoMulti(
    d,
    keys,
    options,
    () => ['mg', ` T${validate.relativeTtl(ttl)}`],
    (f) => f !== undefined,
  );
}

/** Stores every entry; ERR_PARTIAL_RESULT names the keys that were not stored. */
export function setMulti(
  d: Dispatch,
  entries: Map<Key, Value> | Iterable<readonly [Key, Value]>,
  options: StoreOptions | undefined,
): Promise<void> {
  return d.core.run(options, async (so) => {
    const flags = storeFlags(options);
    const wks: WireKey[] = [];
    const values = new Map<WireKey, Buffer>();
    const given: unknown = entries;
    if (typeof given !== 'object' || given === null || !(Symbol.iterator in given)) {
      throw new InvalidArgumentError('entries must be a Map or an iterable of [key, value]');
    }
    for (const [key, value] of entries) {
      const wk = d.key(key);
      wks.push(wk);
      values.set(wk, valueBytes(value, d.options.maxStoreSize));
    }
    const ok = new Map<string, boolean>();
    const refused = new Map<string, MemlineError>();
    const errors = await d.batches(
      wks,
      so,
      options,
      (wk) => MetaRequest.meta('ms', wk, flags, values.get(wk), true),
      (_b, wk, f) => {
        if (f === undefined || f.status === 'HD') ok.set(wk.original, true);
        else refused.set(wk.original, notStored(f?.status));
      },
    );
    for (const [key, err] of refused) errors.set(key, err);
    finishPartial(ok, errors, wks.length);
  });
}

/** Deletes every key: `true` for each deleted, `false` for each not found. */
export function deleteMulti(d: Dispatch, keys: Iterable<Key>, options: RoutedCallOptions | undefined) {
  return yesNoMulti(
    d,
    keys,
    options,
    () => ['md', ''],
    (f) => f === undefined || f.status === 'HD',
  );
}

/**
 * One quiet `<command> <key><flags>` per key (`request` validates inside the call), each key's
 * answer `yes(frame)`, where `undefined` is the quiet success.
 */
function yesNoMulti(
  d: Dispatch,
  keys: Iterable<Key>,
  options: RoutedCallOptions | undefined,
  request: () => ['mg' | 'md', string],
  yes: (frame: MetaFrame | undefined) => boolean,
): Promise<Map<string, boolean>> {
  return d.core.run(options, async (so) => {
    const [command, flags] = request();
    const wks = d.uniqueKeys(keys);
    const result = new Map<string, boolean>();
    const errors = await d.batches(
      wks,
      so,
      options,
      (wk) => MetaRequest.meta(command, wk, flags, undefined, true),
      (_b, wk, f) => void result.set(wk.original, yes(f)),
    );
    return finishPartial(result, errors, wks.length);
  });
}

function oversize(frame: MetaFrame, max: number, server: string): MemlineError {
  return new ResponseTooLargeError(
    `the value of ${frame.skipped} bytes is over maxValueSize ${max}; it was read past, not kept`,
    { mayHaveExecuted: true, server },
  );
}
