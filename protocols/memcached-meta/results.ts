/**
 * Turning reply frames into what the client's methods return, and user values into bytes.
 */
import { InvalidArgumentError, ProtocolError, ValueTooLargeError } from '../../lib/errors.js';
import { type MetaFrame } from './frame.js';
import { casOf, isLeasePlaceholder, returnedFlags, type ReturnedFlags } from './returned-flags.js';

/**
 * A key as a method takes it: a string (UTF-8; with `binaryKeys`, any string, sent base64), or bytes
 * (a `Buffer` or `Uint8Array`, always sent base64 with the `b` flag, at most 186 bytes with the
 * prefix). Results name a key as a string: a string key as given, a byte key as the base64 of its
 * bytes (`Buffer.from(item.key, 'base64')` gives them back).
 */
export type Key = string | Uint8Array;

/** A stored item. */
export interface Item {
  /**
   * The key as given, without the client's `keyPrefix`; for a `Buffer`/`Uint8Array` key, the base64
   * of its bytes (see {@link Key}).
   */
  key: string;
  value: Buffer;
  /** The client flags stored with the item (a 32-bit unsigned integer). */
  flags: number;
  /** The item's CAS token, for {@link MemcacheClient.cas}. 0n when the server runs with CAS disabled. */
  cas: bigint;
  /**
   * Remaining TTL in seconds (-1: never expires), when the read asked for `'ttl'`. With `touch`, the
   * new TTL.
   */
  ttl?: number;
  /** Seconds since the item was last accessed, before this read; when asked for `'lastAccess'`. */
  lastAccess?: number;
  /** Whether the item had been read before this read; when asked for `'fetched'`. */
  fetched?: boolean;
  /** Size of the value in bytes; when asked for `'size'`. */
  size?: number;
}

/** Metadata a read can return on its {@link Item} (`mg` flags `t`, `l`, `h`, `s`). */
export type ItemMetaField = 'ttl' | 'lastAccess' | 'fetched' | 'size';

/** The `mg` flag of each {@link ItemMetaField}. */
export const META_FIELD_FLAGS: Readonly<Record<ItemMetaField, 't' | 'l' | 'h' | 's'>> = Object.freeze({
  ttl: 't',
  lastAccess: 'l',
  fetched: 'h',
  size: 's',
});

/** What `me` (meta debug) says about an item (docs/meta-protocol.md). For humans, not hot paths. */
export interface DebugInfo {
  key: string;
  /**
   * Remaining TTL in seconds, -1 for an item that never expires. Servers before 1.6.24 print it
   * negated, and this is corrected; on them an item with one second left also reads -1.
   */
  ttl: number;
  /** Seconds since the last access. */
  lastAccess: number;
  cas: bigint;
  /** Whether the item has been read since it was stored. */
  fetched: boolean;
  /** The slab class the item lives in. */
  slabClass: number;
  /** Memory the item takes in the server, header and key included (not the value's length). */
  size: number;
  /** Every `name=value` pair as the server printed it. */
  fields: Record<string, string>;
}

/** The parsed reply of a low-level meta request. */
export interface MetaResult {
  /** The two-letter status: `VA HD EN NF NS EX MN ME`. */
  status: string;
  /** The flags the server returned. */
  flags: ReturnedFlags;
  /** The data block, for `VA`. */
  value: Buffer | undefined;
  /** The raw status line, without CRLF. */
  line: string;
}

/** A value to store: bytes, or a string stored as UTF-8. */
export type Value = Buffer | Uint8Array | string;

/** Validates a value and returns its bytes (never copied when it is already a Buffer). */
export function valueBytes(value: unknown, maxValueSize: number): Buffer {
  let bytes: Buffer;
  if (Buffer.isBuffer(value)) bytes = value;
  else if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  else throw new InvalidArgumentError('value must be a Buffer, a Uint8Array or a string');
  if (bytes.length > maxValueSize) {
    throw new ValueTooLargeError(`value of ${bytes.length} bytes is over maxValueSize (${maxValueSize})`);
  }
  return bytes;
}

/** `mg … v f c` → an Item, or `null` on a miss (a lease placeholder is one: see `isLeasePlaceholder`). */
export function toItem(key: string, frame: MetaFrame): Item | null {
  if (frame.status === 'EN') return null;
  if (frame.status !== 'VA' || frame.value === undefined) {
    throw new ProtocolError(`expected VA or EN to a get, got ${frame.status}`, { mayHaveExecuted: true });
  }
  if (isLeasePlaceholder(frame)) return null;
  // The decoder's scan found `f` and `c`: no token is sliced, no ReturnedFlags built (a getMulti does this per key).
  return { key, value: frame.value, flags: frame.clientFlags, cas: casOf(frame) };
}

/** `mg … v f c` plus any of `t l h s` → an Item with the metadata asked for, or `null` on a miss. */
export function toDetailedItem(key: string, frame: MetaFrame): Item | null {
  const item = toItem(key, frame);
  if (item === null) return null;
  const f = returnedFlags(frame);
  if (f.t !== undefined) item.ttl = f.t;
  if (f.l !== undefined) item.lastAccess = f.l;
  if (f.h !== undefined) item.fetched = f.h;
  if (f.s !== undefined) item.size = f.s;
  return item;
}

/**
 * An `ME <key> exp=… la=… cas=… fetch=… cls=… size=…` line. `expPositive`: the server prints the
 * remaining TTL as is (1.6.24 and later) rather than negated.
 */
export function toDebugInfo(key: string, line: string, expPositive: boolean): DebugInfo {
  const fields = Object.create(null) as Record<string, string>;
  const tokens = line.split(' ');
  for (let i = 2; i < tokens.length; i++) {
    const eq = tokens[i].indexOf('=');
    if (eq > 0) fields[tokens[i].slice(0, eq)] = tokens[i].slice(eq + 1);
  }
  const number = (name: string): number => {
    const text = fields[name];
    if (text === undefined || !/^-?\d+$/.test(text)) {
      throw new ProtocolError(`the me reply has no number ${name}=`, { mayHaveExecuted: true });
    }
    return Number(text);
  };
  const exp = number('exp');
  const cas = fields.cas;
  return {
    key,
    ttl: exp === -1 || expPositive ? exp : -exp,
    lastAccess: number('la'),
    cas: cas !== undefined && /^\d+$/.test(cas) ? BigInt(cas) : 0n,
    fetched: fields.fetch === 'yes',
    slabClass: number('cls'),
    size: number('size'),
    fields,
  };
}

/** The numeric value of an `ma … v` reply (memcached pads shortened numbers with spaces). */
export function toCounter(frame: MetaFrame): bigint | null {
  if (frame.status === 'NF' || frame.status === 'NS') return null;
  const text = frame.value?.toString('latin1').trim() ?? '';
  if (frame.status !== 'VA' || !/^\d{1,20}$/.test(text)) {
    throw new ProtocolError(`expected a number from ma, got ${frame.status}`, { mayHaveExecuted: true });
  }
  return BigInt(text);
}

export function toMetaResult(frame: MetaFrame): MetaResult {
  return { status: frame.status, flags: returnedFlags(frame), value: frame.value, line: frame.line };
}
