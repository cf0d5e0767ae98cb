/**
 * Turning reply frames into what the client's methods return, and user values into bytes.
 */
import { InvalidArgumentError, ProtocolError, ValueTooLargeError } from '../../lib/errors.js';
import { returnedFlags, type MetaFrame, type ReturnedFlags } from './frame.js';

/** A stored item. */
export interface Item {
  /** The key as given (without the client's `keyPrefix`). */
  key: string;
  value: Buffer;
  /** The client flags stored with the item (a 32-bit unsigned integer). */
  flags: number;
  /** The item's CAS token, for {@link MemcacheClient.cas}. 0n when the server runs with CAS disabled. */
  cas: bigint;
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

/** `mg … v f c` → an Item, or `null` on a miss. */
export function toItem(key: string, frame: MetaFrame): Item | null {
  if (frame.status === 'EN') return null;
  if (frame.status !== 'VA' || frame.value === undefined) {
    throw new ProtocolError(`expected VA or EN to a get, got ${frame.status}`, { mayHaveExecuted: true });
  }
  const f = returnedFlags(frame);
  return { key, value: frame.value, flags: f.f ?? 0, cas: f.c ?? 0n };
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
