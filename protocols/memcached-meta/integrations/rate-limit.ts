/**
 * `memline/rate-limit`: a store for express-rate-limit (fixed windows, shared by every process that
 * uses the same memcached).
 *
 * ```ts
 * import { rateLimit } from 'express-rate-limit';
 * import { RateLimitStore } from 'memline/rate-limit';
 * app.use(rateLimit({ windowMs: 60_000, limit: 100, store: new RateLimitStore({ servers: ['127.0.0.1:11211'] }) }));
 * ```
 *
 * A hit is one request: `ma <prefix><key> N<window> J1 v t` (meta-protocol.md §4.4). On the first hit of
 * a window `N` creates the counter at `J` = 1 with the window as its TTL (autovivify stores `J` and
 * does not apply the delta); later hits add 1 and leave the TTL alone, so the window is fixed. `v`
 * returns the count and `t` the seconds left, which give `resetTime`. The server does the counting, so
 * the count is exact however many clients and processes hit at once.
 */
import type { ClientRateLimitInfo, IncrementResponse, Options, Store } from 'express-rate-limit';
import type { MemcacheClient } from '../client.js';
import { InvalidArgumentError, ServerErrorReply } from '../../../lib/errors.js';
import type { MetaResult } from '../results.js';
export type { ClientOrOptions } from './shared.js';
import { resolveClient, type ClientOrOptions } from './shared.js';

/** Options of {@link RateLimitStore}. */
export interface RateLimitStoreOptions {
  /** Put before every client's key; give each limiter its own. @default 'rl:' */
  prefix?: string;
}

/** The defaults of {@link RateLimitStoreOptions}. */
export const RATE_LIMIT_STORE_DEFAULTS = Object.freeze({ prefix: 'rl:' });

/** memcached reads a TTL above 30 days as a Unix time (meta-protocol.md §7). */
const MAX_RELATIVE_TTL = 2_592_000;

/**
 * An express-rate-limit store on memcached. Pass a {@link MemcacheClient} to share it, or client
 * options (then the store owns the client and `shutdown()` closes it). Windows are whole seconds
 * (a `windowMs` under 1 s counts as 1 s, others are rounded up): memcached's TTLs are.
 */
export class RateLimitStore implements Store {
  readonly client: MemcacheClient;
  readonly prefix: string;
  /** Counters live in memcached, shared by every store that uses the same servers and prefix. */
  readonly localKeys = false;
  /** The window in whole seconds, from `init`. @default 60 (express-rate-limit's default window) */
  windowSeconds = 60;
  readonly #owned: boolean;

  constructor(client: ClientOrOptions, options: RateLimitStoreOptions = {}) {
    ({ client: this.client, owned: this.#owned } = resolveClient(client));
    const { prefix = RATE_LIMIT_STORE_DEFAULTS.prefix } = options;
    if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix must be a string');
    this.prefix = prefix;
  }

  /** Takes the window from the middleware's options. */
  init(options: Pick<Options, 'windowMs'>): void {
    const { windowMs } = options;
    if (typeof windowMs !== 'number' || !(windowMs > 0)) {
      throw new InvalidArgumentError('windowMs must be a positive number');
    }
    this.windowSeconds = Math.max(1, Math.ceil(windowMs / 1000));
  }

  /** Counts a hit: one round trip that creates, increments and reads the counter and its TTL. */
  async increment(key: string): Promise<IncrementResponse> {
    const reply = await this.client.meta({
      command: 'ma',
      key: this.prefix + key,
      flags: { N: this.#wireTtl(), J: 1, v: true, t: true },
    });
    // NS: the server could not create the counter (out of memory); nothing was counted.
    if (reply.status !== 'VA')
      throw new ServerErrorReply(`ma answered ${reply.line}`, { mayHaveExecuted: false });
    return info(reply);
  }

  /** Takes a hit back (never below 0); nothing when the window has ended. */
  async decrement(key: string): Promise<void> {
    await this.client.meta({ command: 'ma', key: this.prefix + key, flags: { M: 'D' } });
  }

  /** Forgets the client's hits. */
  async resetKey(key: string): Promise<void> {
    await this.client.delete(this.prefix + key);
  }

  /** The client's hits and window end, or `undefined` when it has none in this window. */
  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const reply = await this.client.meta({
      command: 'mg',
      key: this.prefix + key,
      flags: { v: true, t: true },
    });
    return reply.status === 'VA' ? info(reply) : undefined;
  }

  /** Closes the client if the store created it; a borrowed client stays open. */
  async shutdown(): Promise<void> {
    if (this.#owned) await this.client.close();
  }

  /**
   * `N` goes to the wire as is (the low-level `meta` call converts nothing): a window over 30 days
   * is sent as the Unix time it ends.
   */
  #wireTtl(): number {
    const s = this.windowSeconds;
    return s <= MAX_RELATIVE_TTL ? s : Math.floor(Date.now() / 1000) + s;
  }
}

function info(reply: MetaResult): ClientRateLimitInfo {
  // memcached may pad a counter with spaces after it shrinks (meta-protocol.md §4.4): trim.
  const totalHits = Number(reply.value!.toString('latin1').trim());
  const t = reply.flags.t;
  // -1: no expiry (not ours to set); ≥ 2^31: already expired (§7).
  const resetTime =
    t === undefined || t < 0 ? undefined : new Date(Date.now() + (t >= 2 ** 31 ? 0 : t * 1000));
  return { totalHits, resetTime };
}
