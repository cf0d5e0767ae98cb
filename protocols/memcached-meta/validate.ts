/**
 * Argument validators. Each one throws {@link InvalidArgumentError} naming the argument, before any
 * I/O, and returns the value in the form the encoder writes.
 *
 * memcached 1.6.18 range-checks numbers poorly (`F4294967296` is silently stored as 0, a negative
 * TTL expires the item at once: see docs/meta-protocol.md), so every range is enforced here.
 */
import { InvalidArgumentError } from '../../lib/errors.js';

const MAX_I32 = 2 ** 31 - 1;
const MAX_U32 = 2 ** 32 - 1;
const MAX_U64 = 2n ** 64n - 1n;
/** The server's opaque token holds 32 bytes including the `O` (see docs/meta-protocol.md). */
const MAX_OPAQUE = 31;
/** Room for `stats detail dump`, and short enough never to approach the line cap. */
const MAX_STATS_GROUP = 64;

/** A short, printable rendering of a bad value for an error message (never a whole long string). */
export function show(value: unknown): string {
  switch (typeof value) {
    case 'string': {
      const cut = value.length > 40 ? value.slice(0, 40) : value;
      return JSON.stringify(cut).replace(/[\x7f-\x9f]/g, escapeChar) + (cut === value ? '' : '…');
    }
    case 'bigint':
      return `${value}n`;
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    default:
      return value === null ? 'null' : `a value of type ${typeof value}`;
  }
}

function escapeChar(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

function fail(name: string, expected: string, value: unknown): never {
  throw new InvalidArgumentError(`${name} must be ${expected} (got ${show(value)})`);
}

/**
 * A TTL token as the wire takes it (the low-level `meta()` flags `T`/`N`/`R`): an integer from 0 to
 * 2^31-1. 0 means "never expires"; 1 to 2,592,000 are relative, larger values an absolute Unix time
 * (see docs/meta-protocol.md). The typed API takes {@link relativeTtl} instead.
 */
export function ttl(value: unknown, name = 'ttl'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_I32) {
    fail(name, `an integer from 0 to ${MAX_I32}`, value);
  }
  return value;
}

/** The longest TTL memcached reads as relative seconds; it reads larger values as Unix times. */
export const MAX_RELATIVE_TTL = 30 * 24 * 3600;

/** The client's clock in Unix seconds. */
function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * A TTL of the typed API: seconds from now, whatever their length (0: never expires), returned as
 * the wire token. Up to 30 days it is sent as is (the server's clock counts it); a longer one is
 * sent as the Unix time `now + ttl` by the client's clock, since memcached would read the number
 * itself as a time in 1970 and expire the item at once. It must end before 2038-01-19 (2^31-1).
 */
export function relativeTtl(value: unknown, name = 'ttl'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    fail(name, 'a whole number of seconds from now, ≥ 0', value);
  }
  if (value <= MAX_RELATIVE_TTL) return value;
  const at = nowSeconds() + value;
  if (at > MAX_I32) fail(name, `seconds from now that end before 2038-01-19 (Unix time ${MAX_I32})`, value);
  return at;
}

/**
 * An absolute expiry: a `Date` or Unix seconds, returned as the wire token. Times before
 * 1970-01-31 are refused (memcached would read them as relative seconds, and 0 as "never"), as are
 * times past 2038-01-19. A time already past stores an item that has already expired.
 */
export function expiresAt(value: unknown, name = 'expiresAt'): number {
  let seconds = NaN;
  if (value instanceof Date) seconds = Math.floor(value.getTime() / 1000);
  else if (typeof value === 'number' && Number.isInteger(value)) seconds = value;
  if (!(seconds > MAX_RELATIVE_TTL && seconds <= MAX_I32)) {
    fail(name, `a Date or Unix seconds from ${MAX_RELATIVE_TTL + 1} to ${MAX_I32}`, value);
  }
  return seconds;
}

/**
 * The expiry an options object asks for, as the wire token: from `ttl` (seconds from now) or
 * `expiresAt` (absolute), never both; `undefined` when it gives neither.
 */
export function expiry(
  options: { ttl?: unknown; expiresAt?: unknown } | undefined,
  name = 'ttl',
): number | undefined {
  const t = options?.ttl;
  const at = options?.expiresAt;
  if (at === undefined) return t === undefined ? undefined : relativeTtl(t, name);
  if (t !== undefined) throw new InvalidArgumentError(`${name} and expiresAt exclude each other: give one`);
  return expiresAt(at);
}

/** Client flags: a 32-bit unsigned integer (1.6.18 truncates larger values). */
export function clientFlags(value: unknown, name = 'flags'): number {
  return nonNegativeInt(value, name, MAX_U32);
}

/** An integer from 0 to `max` (at most `Number.MAX_SAFE_INTEGER`). */
export function nonNegativeInt(value: unknown, name: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    fail(name, `an integer from 0 to ${max}`, value);
  }
  return value;
}

/**
 * An unsigned 64-bit integer (a delta, an initial value): a safe non-negative integer number, or a
 * bigint from 0 to 2^64-1. Numbers beyond 2^53 are refused: they have already lost precision.
 */
export function u64(value: unknown, name: string): bigint {
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= MAX_U64) return value;
  } else if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    return BigInt(value);
  }
  return fail(name, 'a safe non-negative integer or a bigint from 0 to 2^64-1', value);
}

/** A CAS token: an unsigned 64-bit integer of at least 1 (0 means "no CAS"). */
export function cas(value: unknown, name = 'cas'): bigint {
  const n = u64(value, name);
  if (n === 0n) fail(name, 'at least 1', value);
  return n;
}

/** Tagged CAS tokens carry a server number above bit 64 (cas-token.ts); 32 bits of it at most. */
const MAX_CAS_TOKEN = 2n ** 96n - 1n;

/**
 * A CAS token of the typed API (`Item.cas`): a bigint whose low 64 bits are the server's value (at
 * least 1) and whose upper bits may name the server it came from; or a safe integer number.
 */
export function casToken(value: unknown, name = 'cas'): bigint {
  if (typeof value === 'bigint' && value > 0n && value <= MAX_CAS_TOKEN && (value & MAX_U64) !== 0n) {
    return value;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return BigInt(value);
  return fail(name, 'the cas of an item (a positive bigint, or a safe positive integer)', value);
}

/** An opaque: 1 to 31 bytes of printable ASCII (0x21–0x7E), so it is one token. */
export function opaque(value: unknown, name = 'opaque'): string {
  if (typeof value !== 'string' || value.length < 1 || value.length > MAX_OPAQUE) {
    fail(name, `a string of 1 to ${MAX_OPAQUE} printable ASCII characters`, value);
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) fail(name, 'printable ASCII without spaces', value);
  }
  return value;
}

/** A `stats` group: one or two words of `[a-z_]` (`settings`, `items`, `detail dump`). */
export function statsGroup(value: unknown, name = 'group'): string {
  if (typeof value !== 'string' || value.length > MAX_STATS_GROUP || !/^[a-z_]+(?: [a-z_]+)?$/.test(value)) {
    fail(name, 'one or two words of lower-case letters and underscores', value);
  }
  return value;
}
