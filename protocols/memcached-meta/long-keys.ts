/**
 * `hashLongKeys`: a key too long for memcached is replaced by a readable head of it plus a SHA-256
 * digest of the whole key, so that any length works:
 *
 * ```
 * text key  (> 250 bytes with the prefix)   <prefix><head of key>~<SHA-256 of the key, base64url, 43 chars>
 * binary key (> 186 bytes with the prefix)  <prefix><head of key bytes>~<SHA-256 of the key, 32 raw bytes>
 * ```
 *
 * The rules for bytes are unchanged: a text key with a space or control character is still refused.
 * Short keys are sent as they are, so turning the option on moves no existing key. Cost: one
 * SHA-256 of the key (about 1 µs) for long keys only; short keys pay a length check.
 */
import { createHash } from 'node:crypto';
import { InvalidKeyError } from '../../lib/errors.js';
import { MAX_BINARY_KEY_BYTES, MAX_KEY_BYTES, wireKey } from './keys.js';
import type { WireKey } from './request.js';

/** `~` and 43 base64url characters. */
const TEXT_TAIL = 44;
/** `~` and 32 digest bytes. */
const BINARY_TAIL = 33;
const SEPARATOR = 0x7e; // '~'

/** {@link wireKey}, with keys over the limit replaced by their hashed form. */
export function hashedWireKey(key: string | Uint8Array, prefix: string, binary: boolean): WireKey {
  if (typeof key === 'string') {
    // No UTF-16 unit takes more than 3 UTF-8 bytes: most keys are known to be short without encoding.
    const units = prefix.length + key.length;
    if (binary) {
      if (units * 3 <= MAX_BINARY_KEY_BYTES) return wireKey(key, prefix, true);
      const bytes = Buffer.from(prefix + key, 'utf8');
      if (bytes.length <= MAX_BINARY_KEY_BYTES) return wireKey(key, prefix, true);
      if (bytes.toString('utf8') !== prefix + key) {
        throw new InvalidKeyError('key contains a lone UTF-16 surrogate');
      }
      const own = bytes.subarray(Buffer.byteLength(prefix, 'utf8'));
      return { ...wireKey(hashedBytes(own, prefix), prefix, true), original: key };
    }
    if (units * 3 <= MAX_KEY_BYTES || Buffer.byteLength(prefix + key, 'utf8') <= MAX_KEY_BYTES) {
      return wireKey(key, prefix, false);
    }
    checkText(key);
    const budget = MAX_KEY_BYTES - Buffer.byteLength(prefix, 'utf8') - TEXT_TAIL;
    if (budget < 0) throw prefixTooLong();
    const digest = createHash('sha256').update(key, 'utf8').digest('base64url');
    return { ...wireKey(head(key, budget) + '~' + digest, prefix, false), original: key };
  }
  if (key instanceof Uint8Array && Buffer.byteLength(prefix, 'utf8') + key.length > MAX_BINARY_KEY_BYTES) {
    return {
      ...wireKey(hashedBytes(key, prefix), prefix, true),
      original: Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64'),
    };
  }
  return wireKey(key, prefix, binary);
}

/** The hashed form of a binary key: a head of its bytes, `~`, the raw digest. */
function hashedBytes(key: Uint8Array, prefix: string): Buffer {
  const budget = MAX_BINARY_KEY_BYTES - Buffer.byteLength(prefix, 'utf8') - BINARY_TAIL;
  if (budget < 0) throw prefixTooLong();
  const digest = createHash('sha256').update(key).digest();
  const out = Buffer.allocUnsafe(budget + BINARY_TAIL);
  out.set(key.subarray(0, budget), 0);
  out[budget] = SEPARATOR;
  digest.copy(out, budget + 1);
  return out;
}

/** The longest start of `key` that fits in `budget` UTF-8 bytes, never splitting a character. */
function head(key: string, budget: number): string {
  let bytes = 0;
  let i = 0;
  while (i < key.length) {
    const c = key.charCodeAt(i);
    const [size, units] =
      c < 0x80 ? [1, 1] : c < 0x800 ? [2, 1] : c >= 0xd800 && c <= 0xdbff ? [4, 2] : [3, 1];
    if (bytes + size > budget) break;
    bytes += size;
    i += units;
  }
  return key.slice(0, i);
}

/** A long text key obeys the same byte rules as a short one (keys.ts). */
function checkText(key: string): void {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) {
      throw new InvalidKeyError(
        `key contains a space, control character or DEL (0x${c.toString(16).padStart(2, '0')}) at character ${i}`,
      );
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < key.length ? key.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) {
        throw new InvalidKeyError(`key contains a lone UTF-16 surrogate at character ${i}`);
      }
      i++;
    }
  }
}

function prefixTooLong(): InvalidKeyError {
  return new InvalidKeyError('keyPrefix is too long to leave room for a hashed key');
}
