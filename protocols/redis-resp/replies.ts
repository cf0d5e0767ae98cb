/**
 * Replies as the typed methods of {@link RedisClient} return them.
 */
import type { RespValue } from './values.js';

/** A bulk string, or `null` for Redis's nil. */
export function bulkOrNull(reply: RespValue): Buffer | null {
  return Buffer.isBuffer(reply) ? reply : null;
}

/** An integer reply, as RESP decodes it. */
export function toBigint(reply: RespValue): bigint {
  return reply as bigint;
}

/** An integer reply as a number (counts). */
export function toNumber(reply: RespValue): number {
  return Number(reply);
}

/** HGETALL: a flat array of names and values (RESP2) or a map (RESP3). */
export function toHash(reply: RespValue): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (reply instanceof Map) {
    for (const [name, value] of reply) out.set((name as Buffer).toString('utf8'), value as Buffer);
  } else {
    const flat = reply as Buffer[];
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i].toString('utf8'), flat[i + 1]);
  }
  return out;
}
