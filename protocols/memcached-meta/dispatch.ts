/**
 * What the client's command modules (reads, writes, bulk, server calls, low level) share: keys
 * checked into their wire form, routing (a per-call `server`, else a `routingKey`, else the key),
 * sending, feature-gated sending, the CAS tags and the read counters. The modules take this, not
 * the client: {@link Dispatch} is the narrow interface between the facade and what it delegates to.
 */
import type { Backend } from '../../lib/backend.js';
import { ClientErrorReply, InvalidArgumentError, type MemlineError } from '../../lib/errors.js';
import { ClientCore, fanOut, splitByServer, type RoutedCallOptions } from '../../lib/kit/index.js';
import type { SendOptions } from '../../lib/request-entry.js';
import { CasTags } from './cas-token.js';
import { MetaCodec } from './codec.js';
import { ReadCounters, type ReadCounts } from './counters.js';
import { FEATURE_SINCE, FeatureCache, type FeatureName, type ServerFeatures } from './features.js';
import type { MetaFrame } from './frame.js';
import { wireKey, withoutRepeats } from './keys.js';
import { HotKeys } from './hot-keys/hot-keys.js';
import { hashedWireKey } from './long-keys.js';
import { handBackWin } from './reads.js';
import type { ResolvedOptions } from './options.js';
import { MetaRequest, type ItemSink, type WireKey } from './request.js';
import type { Item, Key } from './results.js';
import { MAX_BACKGROUND } from './routes/options.js';
import { RoutedBackend, Router } from './routes/router.js';
import { Background } from './background.js';
import { DeleteJournal } from './delete-journal.js';

export type MetaCore = ClientCore<MetaRequest, unknown, MetaFrame>;
export type MetaBackend = Backend<MetaRequest, unknown, MetaFrame>;

export class Dispatch {
  /** The cluster, the call wrapper and the lifecycle. */
  readonly core: MetaCore;
  /** The server bits of the CAS tokens this client hands out (cas-token.ts). */
  readonly casTags = new CasTags();
  /** Each server's features beyond 1.6.18, from its `version`. */
  readonly features = new FeatureCache();
  readonly counters: ReadCounters;
  /** The near cache and request coalescing. */
  readonly hot: HotKeys;
  /** The route tree over the pools, when the client has `pools` (routes/router.ts). */
  readonly router: Router | undefined;
  /** The client's bounded background queue, when routes or the delete journal need one. */
  readonly background: Background | undefined;
  /** The journal of failed deletes, with `reliableDeletes` (delete-journal.ts). */
  readonly journal: DeleteJournal | undefined;

  constructor(readonly options: ResolvedOptions) {
    const o = options;
    const codec = new MetaCodec({
      maxValueSize: o.maxValueSize,
      maxLineLength: o.maxLineLength,
      maxPending: o.maxPending,
      ...(o.auth === undefined ? {} : { auth: o.auth }),
    });
    this.core = new ClientCore(codec, o);
    this.counters = new ReadCounters(o.missOnError, o.onError);
    this.hot = new HotKeys(o.nearCache, o.coalesce);
    const background =
      o.routing === undefined && o.reliableDeletes === undefined
        ? undefined
        : new Background(o.routing?.maxBackground ?? MAX_BACKGROUND);
    this.background = background;
    this.journal =
      o.reliableDeletes === undefined
        ? undefined
        : new DeleteJournal(o.reliableDeletes, background!, (s) => this.core.backendNamed(s), o.timeout);
    this.router =
      o.routing === undefined
        ? undefined
        : new Router(o.routing, {
            core: this.core,
            counters: this.counters,
            casTags: this.casTags,
            readsOf: (backend) => this.serverOf(backend),
            handBack: (server, key, frame) => handBackWin(this, server, key, frame),
            warn: (data, message) => o.logger?.warn(data, message),
            background: background!,
            journal: this.journal,
          });
  }

  /** Tells the hot-key layer when `req` changes its item (a store, delete, arithmetic, touch, lease). */
  #changing(req: MetaRequest): void {
    if (this.hot.active && req.key !== undefined && changesItem(req)) this.hot.wrote(req.key.token);
  }

  /**
   * A server's read counters, CAS tag and way back for a win (see {@link ServerReads}): one object
   * per backend, shared by its reads, the last one asked about at hand (most reads in a row go to
   * one server).
   */
  serverOf(backend: MetaBackend): ServerReads {
    const last = this.#lastServer;
    if (last !== undefined && last.backend === backend) return last;
    // A route's backend is made per call; the pool node the read reaches puts its server's in place.
    if (this.router !== undefined && (backend as unknown) instanceof RoutedBackend) return ROUTED_READS;
    let reads = this.#servers.get(backend);
    if (reads === undefined) {
      const server = backend.server;
      reads = new ServerReads(backend, this.counters.of(server), this.casTags.tagOf(server), this.#returnWin);
      this.#servers.set(backend, reads);
    }
    this.#lastServer = reads;
    return reads;
  }

  #lastServer: ServerReads | undefined = undefined;
  /** Weak: a backend gone with a server list change takes its entry with it. */
  readonly #servers = new WeakMap<MetaBackend, ServerReads>();

  /**
   * A plain read of a stale item took its win (`X W`) on `backend`, which would leave the
   * `getOrSet` callers served the stale value, none recomputing it, until the stale TTL ends:
   * `md <key> I C<cas>` to that server hands it back (the next recipe read wins), and does nothing
   * if the item changed meanwhile (`EX`).
   */
  readonly #returnWin = (backend: MetaBackend, key: WireKey, cas: bigint): void => {
    if (this.core.closed || backend.closed) return;
    const req = MetaRequest.meta('md', key, ` I C${cas}`, undefined, true);
    this.#changing(req);
    backend.send(req, this.core.prepare(undefined)).catch(() => undefined);
  };

  /** A key's wire form; throws ERR_INVALID_KEY. */
  key(key: Key): WireKey {
    const o = this.options;
    if (o.hashLongKeys) return hashedWireKey(key, o.keyPrefix, o.binaryKeys);
    return wireKey(key, o.keyPrefix, o.binaryKeys);
  }

  /** The wire forms of `keys`, each key once (in the order first given). */
  uniqueKeys(keys: Iterable<Key>): WireKey[] {
    if (keys === null || typeof keys !== 'object' || typeof keys[Symbol.iterator] !== 'function') {
      throw new InvalidArgumentError('keys must be an iterable of strings');
    }
    const out: WireKey[] = [];
    for (const key of keys) out.push(this.key(key));
    return withoutRepeats(out);
  }

  /** The key a request is routed by: with the client's prefix unless `hashKeyPrefix` is off. */
  route(wk: WireKey): string {
    return this.options.hashKeyPrefix ? wk.token : wk.original;
  }

  /** The backend for a key, unless the call names a `server` or a `routingKey`. */
  backendFor(wk: WireKey | undefined, options: RoutedCallOptions | undefined): MetaBackend {
    if (this.router !== undefined) return this.#routed(wk, options);
    return (
      this.core.target(options) ?? this.core.cluster.backendFor(wk === undefined ? undefined : this.route(wk))
    );
  }

  /**
   * With pools: the key's route as a backend (routes/router.ts), by the call's `routingKey` when
   * given; a call naming a `server` goes there.
   */
  #routed(wk: WireKey | undefined, options: RoutedCallOptions | undefined): MetaBackend {
    if (options?.server !== undefined) return this.core.backendNamed(options.server);
    const rk = options?.routingKey;
    if (rk === undefined && wk === undefined) return this.core.cluster.backendFor(undefined);
    const key = rk ?? wk!.original;
    return this.router!.backendFor(key, rk ?? this.route(wk!)) as unknown as MetaBackend;
  }

  /** Sends `req` to the backend of its key (or the one `options` chooses). */
  send(req: MetaRequest, so: SendOptions, options: RoutedCallOptions | undefined): Promise<MetaFrame> {
    return this.sendTo(this.backendFor(req.key, options), req, so);
  }

  /** {@link send} to a backend the caller chose already (it needs to know which one answered). */
  sendTo(backend: MetaBackend, req: MetaRequest, so: SendOptions): Promise<MetaFrame> {
    this.#changing(req);
    const sent = backend.send(req, so) as Promise<MetaFrame>;
    if (this.journal !== undefined) this.#follow(backend, req, sent);
    return sent;
  }

  /** Hands a request sent to one server to the delete journal (the route nodes do it for theirs). */
  #follow(backend: MetaBackend, req: MetaRequest, sent: Promise<unknown>): void {
    if (!((backend as unknown) instanceof RoutedBackend)) this.journal!.watch(backend.server, req, sent);
  }

  /** A server's features: from `version`, asked once per server (a failed probe is asked again). */
  featuresOf(backend: MetaBackend, so: SendOptions): Promise<ServerFeatures> {
    // The probe is shared by every caller waiting for it, so it is not bound to this caller's signal.
    const probeOptions = { deadline: so.deadline, timeout: so.timeout, signal: undefined };
    return this.features.get(
      backend.server,
      () => backend.send(MetaRequest.version(), probeOptions) as Promise<string>,
    );
  }

  /**
   * Sends a request that needs `feature` once its server is known to have it; rejects with
   * ERR_INVALID_ARGUMENT (nothing sent) when it does not. A CLIENT_ERROR reply (a downgraded
   * server) makes the next call ask `version` again.
   */
  sendGated(
    req: MetaRequest,
    options: RoutedCallOptions | undefined,
    so: SendOptions,
    feature: FeatureName,
    what: string,
  ): Promise<MetaFrame> {
    const backend = this.backendFor(req.key, options);
    this.#changing(req);
    return this.featuresOf(backend, so).then((features) => {
      if (!features[feature]) {
        const err = new InvalidArgumentError(
          `${what} needs memcached ${FEATURE_SINCE[feature]} or later; ${backend.server} runs ${features.version}`,
        );
        err.server = backend.server;
        throw err;
      }
      const sent = backend.send(req, so) as Promise<MetaFrame>;
      if (this.journal !== undefined) this.#follow(backend, req, sent);
      return sent.catch((err: unknown) => {
        if (err instanceof ClientErrorReply) this.features.forget(backend.server);
        throw err;
      });
    });
  }

  /**
   * Splits `wks` by server (all to one when the call names a `server` or `routingKey`), sends each
   * part as one quiet batch fenced by `mn`, in parallel, and hands every reply (`undefined`: none,
   * the quiet default) to `onReply`. Resolves with the errors of the parts that failed, by key.
   */
  batches<R extends BatchReply = MetaFrame | undefined>(
    wks: readonly WireKey[],
    so: SendOptions,
    options: RoutedCallOptions | undefined,
    make: (wk: WireKey) => MetaRequest,
    onReply: (backend: MetaBackend, wk: WireKey, reply: R) => void,
    /**
     * The requests are plain reads (`mg … v f c`; `R` is then {@link BatchReply}): outside routes,
     * each hit comes back as its Item, CAS tagged and counted in its server's read counters, and a
     * lease placeholder as `null` (counted as a miss), instead of a frame; a value over maxValueSize
     * still comes as its frame, and a key without a reply as `undefined`. Through routes, every reply
     * is a frame.
     */
    asItems = false,
    /**
     * The requests are `mg <key><readFlags>` for every key and change no item (no `T`, `N` or `E`):
     * outside routes each server's part is sent as one read batch (MetaRequest.readBatch), with no
     * request object per key; `make` still makes them through routes.
     */
    readFlags?: string,
  ): Promise<Map<string, MemlineError>> {
    const made = (wk: WireKey): MetaRequest => {
      const req = make(wk);
      this.#changing(req);
      return req;
    };
    if (this.router !== undefined && options?.server === undefined) {
      const rk = options?.routingKey;
      const keyOf = (wk: WireKey): [string, string] =>
        rk === undefined ? [wk.original, this.route(wk)] : [rk, rk];
      // Routes hand every reply over as a frame, which every R takes.
      const onFrame = onReply as (backend: MetaBackend, wk: WireKey, frame: MetaFrame | undefined) => void;
      return this.router.batches(wks, keyOf, so, { make: made, onReply: onFrame });
    }
    const parts = splitByServer(
      this.core.cluster,
      wks.map((wk) => this.route(wk)),
      this.core.target(options),
    );
    return fanOut(parts, so, {
      request: (indexes, backend) => {
        const sink = asItems ? this.serverOf(backend) : undefined;
        if (readFlags !== undefined) {
          // A part of every key holds them in order (see partition): the call's own list will do.
          const keys = indexes.length === wks.length ? wks : indexes.map((i) => wks[i]);
          return MetaRequest.readBatch(keys, readFlags, sink);
        }
        const items = indexes.map((i) => {
          const item = made(wks[i]);
          if (sink !== undefined) item.itemSink = sink;
          return item;
        });
        return MetaRequest.batch(items);
      },
      onReply: (replies, indexes, backend) => {
        const got = replies as R[];
        indexes.forEach((i, j) => onReply(backend, wks[i], got[j]));
      },
      name: (i) => wks[i].original,
      sent: this.journal?.sent,
    });
  }
}

/** Whether a request changes its item: any store, delete or arithmetic; a get that touches or leases. */
function changesItem(req: MetaRequest): boolean {
  switch (req.command) {
    case 'ms':
    case 'md':
    case 'ma':
      return true;
    case 'mg':
      // flags are rendered with a space before each: " v f c T30"
      return req.flags.includes(' T') || req.flags.includes(' N') || req.flags.includes(' E');
    default:
      return false;
  }
}

/**
 * One key's reply in a batch: its frame, or with `asItems` its Item (`null`: a lease placeholder);
 * `undefined` when it had none (the quiet default: a miss).
 */
export type BatchReply = MetaFrame | Item | null | undefined;

/**
 * What a read needs of the server it went to ({@link Dispatch.serverOf}): where to count its hit or
 * miss, the bits to tag its CAS with, and where to hand back a win it took ({@link returnWin}).
 */
export class ServerReads implements ItemSink {
  readonly #handBack: (backend: MetaBackend, key: WireKey, cas: bigint) => void;

  constructor(
    readonly backend: MetaBackend,
    readonly counts: ReadCounts,
    readonly casTag: bigint,
    handBack: (backend: MetaBackend, key: WireKey, cas: bigint) => void,
  ) {
    this.#handBack = handBack;
  }

  /** A read from this server took a stale item's win: hands it back to this server. */
  returnWin(key: WireKey, cas: bigint): void {
    this.#handBack(this.backend, key, cas);
  }
}

/** The read state of a routed read until its pool node gives it its server's (never counted in). */
const ROUTED_READS = new ServerReads(
  undefined as unknown as MetaBackend,
  { hits: 0, misses: 0, errorMisses: 0, nearHits: 0, coalesced: 0 },
  0n,
  () => undefined,
);
