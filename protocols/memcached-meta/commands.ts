/**
 * The meta commands as data: one row per command, read by the flag renderer and validator
 * (`flags.ts`), the correlation (`codec.ts`) and the docs.
 *
 * Only what memcached 1.6.18 accepts is listed. Newer flags (`E`, `md x`, `mg C`, `ms s`/`N`) are
 * refused or silently ignored by 1.6.18 (docs/meta-protocol.md), so they are left out.
 */
import type { MetaCommand } from './request.js';

/**
 * How a flag's token is written and validated:
 * - `none`: a bare flag (`v`);
 * - `ttl`: seconds, 0 to 2^31-1 (`T30`);
 * - `u32`, `u64`: unsigned integers (`F42`, `D5`);
 * - `cas`: a CAS value, 1 to 2^64-1 (`C123`);
 * - `opaque`: 1 to 31 printable ASCII characters (`Oab12`);
 * - `msMode`, `maMode`: one mode letter (`ME`, `MD`);
 * - `any`: bare, or any printable token (the proxy hints `P`, `L`).
 */
export type TokenKind = 'none' | 'ttl' | 'u32' | 'u64' | 'cas' | 'opaque' | 'msMode' | 'maMode' | 'any';

/**
 * Flags of the low-level API: `true` for a bare flag, a number, bigint or string for a flag with a
 * token, `false`/`undefined` for an absent one.
 */
export type MetaFlags = { [flag: string]: boolean | number | bigint | string | undefined };

/** One meta command. */
export interface CommandSpec {
  readonly command: MetaCommand;
  /** The flags a caller may set, with their token kinds. `q` and `b` are absent: the encoder adds them. */
  readonly flags: ReadonlyMap<string, TokenKind>;
  /** The settable flags in the order they are rendered. */
  readonly order: readonly string[];
  /** The flags the server answers with a token of their own (`t` → `t30`). */
  readonly returned: ReadonlySet<string>;
  /** A data block follows the command line (`ms`). */
  readonly hasValue: boolean;
  /** Sending it twice leaves the same state (the client narrows this per request: `ms` append, CAS…). */
  readonly idempotent: boolean;
  /** Honours `q`. */
  readonly quiet: boolean;
  /** The statuses that are a result of this command (anything else, errors aside, is out of sync). */
  readonly statuses: ReadonlySet<string>;
  /**
   * At most this many flags: the server tokenises at most 19 tokens, the command, the key and `ms`'s
   * datalen included (docs/meta-protocol.md).
   */
  readonly maxFlags: number;
}

/**
 * The canonical rendering order. Modifiers come before the flags that return something, so that
 * `N`/`T` precede `t` (the server works left to right and `t` would otherwise report the TTL before
 * the change, docs/meta-protocol.md). `k` and `O` go last, where a reader of a trace looks for them.
 */
const ORDER = 'NTRIMDJCFPLuvsftchlkO';

interface RowInit {
  flags: Record<string, TokenKind>;
  returned: string;
  hasValue?: boolean;
  idempotent: boolean;
  quiet: boolean;
  statuses: string[];
  maxFlags: number;
}

function row(command: MetaCommand, init: RowInit): CommandSpec {
  const flags = new Map(Object.entries(init.flags));
  for (const ch of flags.keys()) {
    if (!ORDER.includes(ch)) throw new Error(`flag ${ch} of ${command} has no place in ORDER`);
  }
  return Object.freeze({
    command,
    flags,
    order: Object.freeze([...ORDER].filter((ch) => flags.has(ch))),
    returned: new Set(init.returned),
    hasValue: init.hasValue ?? false,
    idempotent: init.idempotent,
    quiet: init.quiet,
    statuses: new Set(init.statuses),
    maxFlags: init.maxFlags,
  });
}

/** Flags every key-taking command shares: returned key, opaque, proxy hints. */
const COMMON: Record<string, TokenKind> = { k: 'none', O: 'opaque', P: 'any', L: 'any' };

/** The meta commands of memcached 1.6.18 (docs/meta-protocol.md). */
export const COMMANDS: Readonly<Record<MetaCommand, CommandSpec>> = Object.freeze({
  // `C` (1.6.40) and `E` (1.6.27) are left out.
  mg: row('mg', {
    flags: {
      ...COMMON,
      v: 'none',
      s: 'none',
      f: 'none',
      t: 'none',
      c: 'none',
      h: 'none',
      l: 'none',
      u: 'none',
      T: 'ttl',
      N: 'ttl',
      R: 'ttl',
    },
    returned: 'sftckOhl',
    idempotent: true,
    quiet: true,
    statuses: ['VA', 'HD', 'EN'],
    maxFlags: 17,
  }),
  // `s`, `N` (1.6.20) and `E` (1.6.27) are left out.
  ms: row('ms', {
    flags: { ...COMMON, c: 'none', I: 'none', T: 'ttl', F: 'u32', C: 'cas', M: 'msMode' },
    returned: 'ckO',
    hasValue: true,
    idempotent: true,
    quiet: true,
    statuses: ['HD', 'NS', 'EX', 'NF'],
    maxFlags: 16,
  }),
  // `x` and `E` (1.6.27) are left out.
  md: row('md', {
    flags: { ...COMMON, I: 'none', T: 'ttl', C: 'cas' },
    returned: 'kO',
    idempotent: true,
    quiet: true,
    statuses: ['HD', 'NF', 'EX'],
    maxFlags: 17,
  }),
  // `E` (1.6.27) is left out.
  ma: row('ma', {
    flags: {
      ...COMMON,
      v: 'none',
      t: 'none',
      c: 'none',
      N: 'ttl',
      T: 'ttl',
      J: 'u64',
      D: 'u64',
      C: 'cas',
      M: 'maMode',
    },
    returned: 'tckO',
    idempotent: false,
    quiet: true,
    statuses: ['HD', 'VA', 'NF', 'NS', 'EX'],
    maxFlags: 17,
  }),
  // Tokens after `mn` are ignored; none are sent.
  mn: row('mn', {
    flags: {},
    returned: '',
    idempotent: true,
    quiet: false,
    statuses: ['MN'],
    maxFlags: 0,
  }),
  // Only a leading `b` is read after the key, and it comes from the key.
  me: row('me', {
    flags: {},
    returned: '',
    idempotent: true,
    quiet: false,
    statuses: ['ME', 'EN'],
    maxFlags: 0,
  }),
});
