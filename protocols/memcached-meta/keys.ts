/**
 * Keys as they go on the wire. A key is checked before any I/O: a byte memcached would split on or
 * read as a line end would let a caller put their own commands on the wire (docs/meta-protocol.md,
 * docs/reliability.md), so it is refused, never re-encoded behind the caller's back. Binary keys
 * are an explicit opt-in and travel base64 with the `b` flag.
 */
import { InvalidKeyError } from '../../lib/errors.js';
import type { WireKey } from './request.js';

/** The longest key token the server accepts, in bytes. */
export const MAX_KEY_BYTES = 250;
/** The most raw bytes whose base64 form (with padding) fits in {@link MAX_KEY_BYTES}. */
export const MAX_BINARY_KEY_BYTES = 186;

/**
 * Checks a key and returns its wire form.
 *
 * A string key (with `prefix` in front) must be 1–250 UTF-8 bytes without any byte ≤ 0x20 or 0x7F;
 * non-ASCII characters are fine (their UTF-8 bytes are ≥ 0x80). A `Uint8Array` key, or any key when
 * `binary` is set, goes base64 with `b`: the prefix's UTF-8 and the key's bytes, 1–186 bytes.
 * `original` is the caller's key without the prefix (for a byte key, its base64).
 *
 * @throws InvalidKeyError
 */
export function wireKey(key: string | Uint8Array, prefix: string, binary: boolean): WireKey {
  if (typeof key === 'string') {
    if (key.length === 0) throw new InvalidKeyError('key is empty');
    if (binary) {
      // Every UTF-16 unit takes at least one byte: a long string is refused before it is encoded.
      if (prefix.length + key.length > MAX_BINARY_KEY_BYTES) throw binaryTooLong(prefix.length + key.length);
      const bytes = Buffer.from(prefix + key, 'utf8');
      // A lone surrogate would be encoded as U+FFFD: a different key than the caller's.
      if (bytes.toString('utf8') !== prefix + key) {
        throw new InvalidKeyError(`key contains a lone UTF-16 surrogate: ${preview(key)}`);
      }
      return binaryKey(bytes, key);
    }
    return textKey(prefix + key, key);
  }
  if (key instanceof Uint8Array) {
    if (key.length === 0) throw new InvalidKeyError('key is empty');
    if (key.length > MAX_BINARY_KEY_BYTES) throw binaryTooLong(key.length);
    const bytes = prefix.length === 0 ? key : Buffer.concat([Buffer.from(prefix, 'utf8'), key]);
    return binaryKey(bytes, Buffer.from(key.buffer, key.byteOffset, key.length).toString('base64'));
  }
  throw new InvalidKeyError(`key must be a string or a Uint8Array (got ${describeType(key)})`);
}

function textKey(token: string, original: string): WireKey {
  if (token.length > MAX_KEY_BYTES) {
    throw new InvalidKeyError(
      `key is ${token.length} characters, over ${MAX_KEY_BYTES} bytes: ${preview(token)}`,
    );
  }
  // One pass: checks every UTF-16 unit and counts UTF-8 bytes, without encoding anything.
  let bytes = 0;
  let ascii = true;
  const n = token.length;
  for (let i = 0; i < n; i++) {
    const c = token.charCodeAt(i);
    if (c < 0x80) {
      if (c <= 0x20 || c === 0x7f) {
        throw new InvalidKeyError(
          `key contains a space, control character or DEL (0x${c.toString(16).padStart(2, '0')}) ` +
            `at character ${i}: ${preview(token)}`,
        );
      }
      bytes += 1;
      continue;
    }
    ascii = false;
    if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate would be sent as U+FFFD: a different key than the caller's.
      const next = i + 1 < n ? token.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) {
        throw new InvalidKeyError(
          `key contains a lone UTF-16 surrogate at character ${i}: ${preview(token)}`,
        );
      }
      bytes += 4;
      i++;
    } else {
      bytes += 3;
    }
  }
  if (bytes > MAX_KEY_BYTES) {
    throw new InvalidKeyError(`key is ${bytes} bytes in UTF-8, over ${MAX_KEY_BYTES}: ${preview(token)}`);
  }
  return { token, base64: false, ascii, original };
}

function binaryKey(bytes: Uint8Array, original: string): WireKey {
  if (bytes.length > MAX_BINARY_KEY_BYTES) throw binaryTooLong(bytes.length);
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return { token: buf.toString('base64'), base64: true, ascii: true, original };
}

function binaryTooLong(bytes: number): InvalidKeyError {
  return new InvalidKeyError(
    `binary key is too long (at least ${bytes} bytes; at most ${MAX_BINARY_KEY_BYTES} fit in ${MAX_KEY_BYTES} base64 characters)`,
  );
}

/**
 * The key a reply's `k` flag names, as text. `base64` is whether a bare `b` followed it. The
 * token comes from a latin1 line, so a UTF-8 key is decoded from its bytes.
 */
export function decodeReturnedKey(token: string, base64: boolean): string {
  if (base64) return Buffer.from(token, 'base64').toString('utf8');
  for (let i = 0; i < token.length; i++) {
    if (token.charCodeAt(i) >= 0x80) return Buffer.from(token, 'latin1').toString('utf8');
  }
  return token;
}

/**
 * Whether a reply's `k` token names `key`. The server echoes the key in the form it was stored in,
 * so a base64 request can come back as text and the reverse (`mg YQ== b k` → `ka`): when the
 * forms differ the bytes are compared.
 */
export function keyMatches(key: WireKey, token: string, tokenBase64: boolean): boolean {
  if (key.base64 === tokenBase64 && key.ascii) return token === key.token;
  return keyBytes(key.token, key.base64, 'utf8').equals(keyBytes(token, tokenBase64, 'latin1'));
}

function keyBytes(token: string, base64: boolean, encoding: 'utf8' | 'latin1'): Buffer {
  return Buffer.from(token, base64 ? 'base64' : encoding);
}

/** At most 40 characters of a key, with anything unprintable escaped. */
function preview(key: string): string {
  const cut = key.length > 40 ? key.slice(0, 40) : key;
  let out = '';
  for (let i = 0; i < cut.length; i++) {
    const c = cut.charCodeAt(i);
    out += c <= 0x20 || (c >= 0x7f && c <= 0x9f) ? `\\x${c.toString(16).padStart(2, '0')}` : cut[i];
  }
  return `"${out}"${cut === key ? '' : '…'}`;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/**
 * The most slots {@link withoutRepeats} keeps between calls (256 KiB): a call over more keys uses a
 * table of its own, so one huge call does not hold memory for good.
 */
const MAX_SHARED_SLOTS = 1 << 16;
/** withoutRepeats' table, shared by every call (each is synchronous): no allocation per call. */
let sharedSlots = new Int32Array(256);

/**
 * Removes from `wks`, in place, every key whose token came before; keeps the first of each, in
 * order, and returns `wks`. Each token is hashed into a table kept between calls: a Set per call
 * allocated about 52 bytes per key as it grew, and getMulti spent 12–14% more CPU per key with it.
 */
export function withoutRepeats(wks: WireKey[]): WireKey[] {
  const n = wks.length;
  if (n < 2) return wks;
  let size = 16;
  while (size < n * 2) size *= 2;
  let slots = sharedSlots;
  if (size > slots.length) {
    slots = new Int32Array(size);
    if (size <= MAX_SHARED_SLOTS) sharedSlots = slots;
  }
  slots.fill(-1, 0, size);
  const mask = size - 1;
  let kept = 0;
  outer: for (let i = 0; i < n; i++) {
    const wk = wks[i];
    const token = wk.token;
    let slot = tokenHash(token) & mask;
    for (let at = slots[slot]; at !== -1; at = slots[slot]) {
      if (wks[at].token === token) continue outer;
      slot = (slot + 1) & mask;
    }
    slots[slot] = kept;
    wks[kept++] = wk;
  }
  wks.length = kept;
  return wks;
}

/** FNV-1a over a token's UTF-16 units. */
function tokenHash(token: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
