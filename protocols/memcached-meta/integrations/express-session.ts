/**
 * `memline/express-session`: a session store for express-session.
 *
 * ```ts
 * import session from 'express-session';
 * import { SessionStore } from 'memline/express-session';
 * app.use(session({ store: new SessionStore({ servers: ['127.0.0.1:11211'] }), secret, resave: false,
 *   saveUninitialized: false, cookie: { maxAge: 3_600_000 } }));
 * ```
 *
 * A session is one item, `<prefix><sid>`, holding the session as JSON. Its TTL is the time left until
 * the cookie expires (whole seconds, rounded up), or `ttl` for a browser-session cookie; `touch`
 * renews that TTL without rewriting the value (`mg … T`).
 */
import session from 'express-session';
import type { SessionData } from 'express-session';
import type { MemcacheClient } from '../client.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
export type { ClientOrOptions } from './shared.js';
import { resolveClient, secondsUntil, type ClientOrOptions } from './shared.js';

/** Options of {@link SessionStore}. */
export interface SessionStoreOptions {
  /** Put before every session id. @default 'sess:' */
  prefix?: string;
  /**
   * Seconds a session lives when its cookie has no expiry (a browser-session cookie). Sessions whose
   * cookie expires live until then.
   * @default 86400 (one day)
   */
  ttl?: number;
}

/** The defaults of {@link SessionStoreOptions}. */
export const SESSION_STORE_DEFAULTS = Object.freeze({ prefix: 'sess:', ttl: 86_400 });

/** A Node-style callback that takes an error only. */
export type Callback = (err?: unknown) => void;

/**
 * An express-session store on memcached. Pass a {@link MemcacheClient} to share it, or client options
 * (then the store owns the client and {@link SessionStore.close} closes it).
 */
export class SessionStore extends session.Store {
  readonly client: MemcacheClient;
  readonly prefix: string;
  readonly ttl: number;
  readonly #owned: boolean;

  constructor(client: ClientOrOptions, options: SessionStoreOptions = {}) {
    super();
    ({ client: this.client, owned: this.#owned } = resolveClient(client));
    const { prefix = SESSION_STORE_DEFAULTS.prefix, ttl = SESSION_STORE_DEFAULTS.ttl } = options;
    if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix must be a string');
    if (!Number.isInteger(ttl) || ttl <= 0) throw new InvalidArgumentError('ttl must be a positive integer');
    this.prefix = prefix;
    this.ttl = ttl;
  }

  /** The session, or `null` when there is none (or it expired). */
  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    this.client.get(this.prefix + sid).then(
      (item) =>
        callback(null, item === null ? null : (JSON.parse(item.value.toString('utf8')) as SessionData)),
      (err: unknown) => callback(err),
    );
  }

  /** Stores the session for as long as its cookie lives (or `ttl`); an already expired one is deleted. */
  override set(sid: string, session: SessionData, callback?: Callback): void {
    const ttl = this.ttlOf(session);
    const key = this.prefix + sid;
    const done = ttl > 0 ? this.client.set(key, JSON.stringify(session), { ttl }) : this.client.delete(key);
    settle(done, callback);
  }

  /** Deletes the session (a missing one is not an error). */
  override destroy(sid: string, callback?: Callback): void {
    settle(this.client.delete(this.prefix + sid), callback);
  }

  /** Renews the session's TTL from its cookie, without rewriting it. */
  override touch(sid: string, session: SessionData, callback?: () => void): void {
    const ttl = this.ttlOf(session);
    const key = this.prefix + sid;
    settle(ttl > 0 ? this.client.touch(key, ttl) : this.client.delete(key), callback);
  }

  /**
   * Seconds the session should live: until its cookie expires, or {@link ttl} for a cookie without
   * expiry; ≤ 0 when the cookie has expired. (The client converts TTLs over 30 days for the wire.)
   */
  ttlOf(session: SessionData): number {
    const expires = session.cookie?.expires;
    if (expires === undefined || expires === null) return this.ttl;
    return secondsUntil(new Date(expires).getTime());
  }

  /** Closes the client if the store created it; a borrowed client stays open. */
  async close(): Promise<void> {
    if (this.#owned) await this.client.close();
  }
}

function settle(promise: Promise<unknown>, callback: Callback | undefined): void {
  promise.then(
    () => callback?.(),
    (err: unknown) => callback?.(err),
  );
}
