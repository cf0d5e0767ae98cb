/**
 * What the integrations share: each store takes either a {@link MemcacheClient} it borrows or the
 * options of one it creates and owns (and closes when it is disconnected).
 */
import { MemcacheClient } from '../client.js';
import type { MemcacheClientOptions } from '../options.js';
import { InvalidArgumentError } from '../../../lib/errors.js';

/** A client to borrow, or the options of a client the store creates and owns. */
export type ClientOrOptions = MemcacheClient | MemcacheClientOptions;

/** The client to use, and whether the store created it (and so must close it). */
export function resolveClient(source: ClientOrOptions): { client: MemcacheClient; owned: boolean } {
  if (source instanceof MemcacheClient) return { client: source, owned: false };
  if (typeof source !== 'object' || source === null) {
    throw new InvalidArgumentError('client must be a MemcacheClient or the options of one');
  }
  return { client: new MemcacheClient(source), owned: true };
}

/** Whole seconds left until `expiresMs` (a Unix time in ms), rounded up; ≤ 0 when it has passed. */
export function secondsUntil(expiresMs: number, now = Date.now()): number {
  return Math.ceil((expiresMs - now) / 1000);
}
