/**
 * The request objects the meta codec encodes and correlates. They are built by the client after
 * validation (keys by `keys.ts`, flags by `flags.ts`), so everything in them is safe to put on the
 * wire as is.
 */

/** The meta commands. */
export type MetaCommand = 'mg' | 'ms' | 'md' | 'ma' | 'mn' | 'me';

/** What a request is, which decides how it is encoded and how its replies are read. */
export enum RequestKind {
  /** One meta command; resolves with its {@link MetaFrame}. */
  Meta = 0,
  /**
   * Several meta commands sent quiet (`q`), each with its key (`k`) and an opaque, fenced by `mn`; resolves with an
   * array holding, at each command's index, its reply frame or `undefined` when it had none.
   */
  Batch = 1,
  /** `version`; resolves with the version string. */
  Version = 2,
  /** `stats [group]`; resolves with a null-prototype record of the STAT lines. */
  Stats = 3,
  /** `flush_all [delay]`; resolves with `true`. */
  FlushAll = 4,
  /** `verbosity <n>`; resolves with `true`. */
  Verbosity = 5,
  /** memcached `-Y` login (`set` with "user pass" as the value); resolves with `true`. */
  Auth = 6,
}

/** A key as it goes on the wire. */
export interface WireKey {
  /** The key token: the text key, or its base64 form when `base64`. */
  readonly token: string;
  /** The token is base64 (sent with the `b` flag). */
  readonly base64: boolean;
  /** Every character of `token` is ASCII (so it can be written one byte per character). */
  readonly ascii: boolean;
  /** The key as the caller gave it (without the client's prefix; base64 for a byte key), for results. */
  readonly original: string;
}

/**
 * Where a read that resolves with an {@link Item} counts its hit or miss, and the server's bits it
 * ORs into the Item's CAS (cas-token.ts): one object per server, shared by its reads.
 */
export interface ItemSink {
  readonly counts: { hits: number; misses: number };
  readonly casTag: bigint;
  /**
   * Called when a read's reply carries `W`: a plain read of a stale item took the right to recompute
   * it, which only `getOrSet` callers use; the client hands it back (`cas`: the item's, untagged).
   */
  readonly returnWin?: ((key: WireKey, cas: bigint) => void) | undefined;
}

/** `MetaRequest`'s kind (3 bits) and two flags, packed into one field. */
const KIND_MASK = 7;
const IDEMPOTENT = 8;
const OWN_OPAQUE = 16;
const MUST_STORE = 32;
/** A batch of plain reads sharing one flags string: its payload is the keys (see {@link MetaRequest.readBatch}). */
const READ_BATCH = 64;

/**
 * A request of the meta codec: built through the static factories, after validation, by the client
 * (or by code driving {@link MetaCodec} on the engine directly), then encoded and matched to its
 * replies by the codec. A pending request holds one, so it is kept small: the kind and flags share
 * a field, and a value and a batch's items another.
 */
export class MetaRequest {
  /**
   * For a read (`mg … v f c`): resolve with an {@link Item} (or `null` on a miss) instead of the
   * frame, counting the hit or miss in the sink. Saves the client a promise step per get.
   */
  itemSink: ItemSink | undefined = undefined;
  readonly #bits: number;
  /** {@link value}, {@link items}, or a read batch's {@link readKeys}. */
  readonly #payload: Buffer | readonly MetaRequest[] | readonly WireKey[] | undefined;

  private constructor(
    kind: RequestKind,
    /** The meta command, for {@link RequestKind.Meta}. */
    readonly command: MetaCommand | undefined,
    /** The key, for meta commands other than `mn`. */
    readonly key: WireKey | undefined,
    /**
     * The flags, already validated and rendered in wire order, each preceded by a space
     * (`" v f c T30"`); for legacy commands, their arguments (`" 10"`, `" settings"`).
     */
    readonly flags: string,
    payload: Buffer | readonly MetaRequest[] | readonly WireKey[] | undefined,
    idempotent: boolean,
    ownOpaque = false,
    mustStore = false,
    ofKeys = false,
  ) {
    this.#bits =
      kind |
      (idempotent ? IDEMPOTENT : 0) |
      (ownOpaque ? OWN_OPAQUE : 0) |
      (mustStore ? MUST_STORE : 0) |
      (ofKeys ? READ_BATCH : 0);
    this.#payload = payload;
  }

  get kind(): RequestKind {
    return this.#bits & KIND_MASK;
  }

  /** The data block of an `ms`, or the credentials of an auth request. */
  get value(): Buffer | undefined {
    return this.kind === RequestKind.Batch ? undefined : (this.#payload as Buffer | undefined);
  }

  /**
   * The commands of a batch. A read batch makes them from its keys on each call: the codec's busy
   * paths read {@link readKeys} and {@link itemCount} instead, and {@link item} for one.
   */
  get items(): readonly MetaRequest[] | undefined {
    if (this.kind !== RequestKind.Batch) return undefined;
    const keys = this.readKeys;
    return keys === undefined ? (this.#payload as readonly MetaRequest[]) : keys.map((_, j) => this.item(j));
  }

  /** A read batch's keys, in item order (see `MetaRequest.readBatch`); undefined for any other request. */
  get readKeys(): readonly WireKey[] | undefined {
    return (this.#bits & READ_BATCH) !== 0 ? (this.#payload as readonly WireKey[]) : undefined;
  }

  /** How many commands a batch holds (0 for any other request). */
  get itemCount(): number {
    return this.kind === RequestKind.Batch ? (this.#payload as readonly unknown[]).length : 0;
  }

  /** Command `j` of a batch: for a read batch, an `mg` of key `j` with the batch's flags and item sink. */
  item(j: number): MetaRequest {
    const keys = this.readKeys;
    if (keys === undefined) return (this.#payload as readonly MetaRequest[])[j];
    const item = MetaRequest.read(keys[j], this.flags);
    item.itemSink = this.itemSink;
    return item;
  }

  /**
   * A store that resolves with `undefined` when stored (`HD`) and fails with ERR_SERVER_ERROR when
   * not (`NS`, `EX`, `NF`), instead of resolving with its frame (`MetaRequest.set` makes one).
   */
  get mustStore(): boolean {
    return (this.#bits & MUST_STORE) !== 0;
  }

  /** Whether the request may be sent again after a failure. */
  get idempotent(): boolean {
    return (this.#bits & IDEMPOTENT) !== 0;
  }

  /** The caller set `O` in `flags` (low-level `meta()`); the encoder then adds none. */
  get ownOpaque(): boolean {
    return (this.#bits & OWN_OPAQUE) !== 0;
  }

  static meta(
    command: MetaCommand,
    key: WireKey | undefined,
    flags: string,
    value: Buffer | undefined,
    idempotent: boolean,
  ): MetaRequest {
    // `mn` and `me` take no flags; a caller's `O` is rendered as " O…" (flags.ts).
    const own = command === 'mn' || command === 'me' || flags.includes(' O');
    return new MetaRequest(RequestKind.Meta, command, key, flags, value, idempotent, own);
  }

  /**
   * A plain `set` (`ms`, no mode, no CAS) with the codec's own opaque, whose reply the codec checks
   * itself ({@link mustStore}): the client's busiest write settles its caller with no step of its own.
   */
  static set(key: WireKey, flags: string, value: Buffer): MetaRequest {
    return new MetaRequest(RequestKind.Meta, 'ms', key, flags, value, true, false, true);
  }

  /** A read (`mg`) with the codec's own opaque: `flags` were rendered without `O`. */
  static read(key: WireKey, flags: string): MetaRequest {
    return new MetaRequest(RequestKind.Meta, 'mg', key, flags, undefined, true, false);
  }

  /**
   * A batch of plain reads, `mg <key><flags>` for each of `keys` (flags rendered without `O`, as for
   * {@link read}), each hit going to `sink` when given: one request object for the whole batch, not
   * one per key. Its own {@link itemSink} is the items' sink; it has no command and no key.
   */
  static readBatch(keys: readonly WireKey[], flags: string, sink: ItemSink | undefined): MetaRequest {
    const req = new MetaRequest(
      RequestKind.Batch,
      undefined,
      undefined,
      flags,
      keys,
      true,
      false,
      false,
      true,
    );
    req.itemSink = sink;
    return req;
  }

  /** Items are plain meta requests without `q`, `k` or `O`; the encoder adds them. */
  static batch(items: readonly MetaRequest[]): MetaRequest {
    let idempotent = true;
    for (const item of items) idempotent &&= item.idempotent;
    return new MetaRequest(RequestKind.Batch, undefined, undefined, '', items, idempotent);
  }

  static version(): MetaRequest {
    return new MetaRequest(RequestKind.Version, undefined, undefined, '', undefined, true);
  }

  /** `group` was validated (`[a-z_]` words). */
  static stats(group: string | undefined): MetaRequest {
    const args = group === undefined ? '' : ` ${group}`;
    return new MetaRequest(RequestKind.Stats, undefined, undefined, args, undefined, true);
  }

  static flushAll(delay: number | undefined): MetaRequest {
    const args = delay === undefined ? '' : ` ${delay}`;
    return new MetaRequest(RequestKind.FlushAll, undefined, undefined, args, undefined, true);
  }

  static verbosity(level: number): MetaRequest {
    return new MetaRequest(RequestKind.Verbosity, undefined, undefined, ` ${level}`, undefined, true);
  }

  /** `credentials` is `"<user> <pass>"` as bytes. */
  static auth(credentials: Buffer): MetaRequest {
    return new MetaRequest(RequestKind.Auth, undefined, undefined, '', credentials, true);
  }
}
