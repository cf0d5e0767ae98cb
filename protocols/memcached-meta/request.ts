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
 * A request of the meta codec: built through the static factories, after validation, by the client
 * (or by code driving {@link MetaCodec} on the engine directly), then encoded and matched to its
 * replies by the codec.
 */
export class MetaRequest {
  /**
   * For a read (`mg … v f c`): resolve with an {@link Item} (or `null` on a miss) instead of the
   * frame, counting the hit or miss here. Saves the client a promise step per get.
   */
  itemSink: { hits: number; misses: number } | undefined = undefined;
  /** For a read with an {@link itemSink}: the server's bits, OR-ed into the Item's CAS (cas-token.ts). */
  casTag = 0n;

  private constructor(
    readonly kind: RequestKind,
    /** The meta command, for {@link RequestKind.Meta}. */
    readonly command: MetaCommand | undefined,
    /** The key, for meta commands other than `mn`. */
    readonly key: WireKey | undefined,
    /**
     * The flags, already validated and rendered in wire order, each preceded by a space
     * (`" v f c T30"`); for legacy commands, their arguments (`" 10"`, `" settings"`).
     */
    readonly flags: string,
    /** The data block of an `ms`, or the credentials of an auth request. */
    readonly value: Buffer | undefined,
    /** The commands of a batch. */
    readonly items: readonly MetaRequest[] | undefined,
    /** Whether the request may be sent again after a failure. */
    readonly idempotent: boolean,
    /** The caller set `O` in `flags` (low-level `meta()`); the encoder then adds none. */
    readonly ownOpaque = false,
  ) {}

  static meta(
    command: MetaCommand,
    key: WireKey | undefined,
    flags: string,
    value: Buffer | undefined,
    idempotent: boolean,
  ): MetaRequest {
    // `mn` and `me` take no flags; a caller's `O` is rendered as " O…" (flags.ts).
    const own = command === 'mn' || command === 'me' || flags.includes(' O');
    return new MetaRequest(RequestKind.Meta, command, key, flags, value, undefined, idempotent, own);
  }

  /** A read (`mg`) with the codec's own opaque: `flags` were rendered without `O`. */
  static read(key: WireKey, flags: string): MetaRequest {
    return new MetaRequest(RequestKind.Meta, 'mg', key, flags, undefined, undefined, true, false);
  }

  /** Items are plain meta requests without `q`, `k` or `O`; the encoder adds them. */
  static batch(items: readonly MetaRequest[]): MetaRequest {
    let idempotent = true;
    for (const item of items) idempotent &&= item.idempotent;
    return new MetaRequest(RequestKind.Batch, undefined, undefined, '', undefined, items, idempotent);
  }

  static version(): MetaRequest {
    return new MetaRequest(RequestKind.Version, undefined, undefined, '', undefined, undefined, true);
  }

  /** `group` was validated (`[a-z_]` words). */
  static stats(group: string | undefined): MetaRequest {
    const args = group === undefined ? '' : ` ${group}`;
    return new MetaRequest(RequestKind.Stats, undefined, undefined, args, undefined, undefined, true);
  }

  static flushAll(delay: number | undefined): MetaRequest {
    const args = delay === undefined ? '' : ` ${delay}`;
    return new MetaRequest(RequestKind.FlushAll, undefined, undefined, args, undefined, undefined, true);
  }

  static verbosity(level: number): MetaRequest {
    return new MetaRequest(
      RequestKind.Verbosity,
      undefined,
      undefined,
      ` ${level}`,
      undefined,
      undefined,
      true,
    );
  }

  /** `credentials` is `"<user> <pass>"` as bytes. */
  static auth(credentials: Buffer): MetaRequest {
    return new MetaRequest(RequestKind.Auth, undefined, undefined, '', credentials, undefined, true);
  }
}
