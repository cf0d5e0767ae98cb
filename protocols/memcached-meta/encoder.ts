/**
 * Request bytes. Everything in a {@link MetaRequest} was validated when it was built (keys by
 * `keys.ts`, flags by `flags.ts`), so encoding never fails and never inspects a value.
 */
import { putLatin1, type OutBuffer } from '../../lib/out-buffer.js';
import { RequestKind } from './request.js';
import type { MetaRequest, WireKey } from './request.js';
import { BatchState, StatsState, type ReplyState } from './reply-state.js';

/**
 * Where a connection is in its cycle of opaques: the next one to hand out, modulo the cycle's size
 * (a power of two). Opaques of the requests in flight on one connection differ as long as fewer
 * than that many are in flight, which `maxPending` bounds (a batch takes one per item).
 */
export interface OpaqueCursor {
  next: number;
  readonly mask: number;
}

/** `" O<n>\r\n"` for every n handed out so far: built once each, shared by every connection. */
const TOKENS: string[] = [];

/**
 * The wire token of opaque `n` with the line's CRLF: a table lookup, not a number-to-string
 * conversion per request.
 */
export function opaqueToken(n: number): string {
  let token = TOKENS[n];
  if (token === undefined) {
    // n never skips past TOKENS.length by more than a batch, so the table stays dense.
    for (let i = TOKENS.length; i <= n; i++) TOKENS.push(' O' + i + '\r\n');
    token = TOKENS[n];
  }
  return token;
}

/** `" q k O<n>\r\n"`, the end of a batch item's line, for every n handed out so far (see {@link opaqueToken}). */
const QUIET_TOKENS: string[] = [];

/** The end of a batch item without its own `k`: quiet, with its key echoed and opaque `n`. */
function quietToken(n: number): string {
  let token = QUIET_TOKENS[n];
  if (token === undefined) {
    for (let i = QUIET_TOKENS.length; i <= n; i++) QUIET_TOKENS.push(' q k' + opaqueToken(i));
    token = QUIET_TOKENS[n];
  }
  return token;
}

/** A cursor for a fresh connection, cycling through `size` opaques (a power of two). */
export function opaqueCursor(size: number): OpaqueCursor {
  return { next: 0, mask: size - 1 };
}

/**
 * Appends the exact bytes of `req` to `out` and returns the state its replies are read with: for a
 * meta request the opaque it got (the next of `cursor`, its connection's), or -1 when it carries
 * the caller's own or takes none; a fresh {@link BatchState} or {@link StatsState}. The request
 * itself is not touched.
 */
export function encodeRequest(req: MetaRequest, out: OutBuffer, cursor: OpaqueCursor): ReplyState {
  switch (req.kind) {
    case RequestKind.Meta: {
      if (req.ownOpaque) {
        encodeMeta(req, '\r\n', out);
        return -1;
      }
      const n = cursor.next;
      cursor.next = (n + 1) & cursor.mask;
      encodeMeta(req, opaqueToken(n), out);
      return n;
    }
    case RequestKind.Batch:
      return encodeBatch(req, out, cursor);
    case RequestKind.Version:
      out.latin1('version\r\n');
      return undefined;
    case RequestKind.Stats:
      out.latin1('stats' + req.flags + '\r\n');
      return new StatsState();
    case RequestKind.FlushAll:
      out.latin1('flush_all' + req.flags + '\r\n');
      return undefined;
    case RequestKind.Verbosity:
      out.latin1('verbosity' + req.flags + '\r\n');
      return undefined;
    case RequestKind.Auth:
      encodeAuth(req, out);
      return undefined;
  }
}

/** The bytes of a meta request (see {@link encodeLine}). */
function encodeMeta(req: MetaRequest, end: string, out: OutBuffer): void {
  encodeLine(req.command ?? 'mn', req.key, req.flags, req.value, end, out);
}

/**
 * `<cmd> <key> [<datalen>] [b]<flags><end>[<data>\r\n]` (`end`: what the encoder adds, then CRLF). The `b` comes right after the key
 * (or datalen): `me` reads it only there (docs/meta-protocol.md). Takes the request's parts: a read
 * batch's items have no request of their own.
 */
function encodeLine(
  command: string,
  key: WireKey | undefined,
  flags: string,
  value: Buffer | undefined,
  end: string,
  out: OutBuffer,
): void {
  const isSet = command === 'ms' && value !== undefined;
  // Written token by token: no request line is ever built as one string. An ASCII key (the usual
  // case) lets the whole line go straight into the out buffer's slab after one check for room.
  if (key === undefined || key.ascii) {
    const length = isSet ? lengthToken(value.length) : '';
    const token = key === undefined ? '' : key.token;
    const slab = out.room(command.length + token.length + length.length + flags.length + end.length + 3);
    let at = putLatin1(slab, out.end, command);
    if (key !== undefined) {
      slab[at++] = SPACE;
      at = putLatin1(slab, at, token);
    }
    if (isSet) at = putLatin1(slab, at, length);
    if (key?.base64 === true) {
      slab[at++] = SPACE;
      slab[at++] = LOWER_B;
    }
    at = putLatin1(slab, at, flags);
    out.commit(putLatin1(slab, at, end));
  } else {
    out.latin1(command);
    out.latin1(' ');
    out.utf8(key.token);
    if (isSet) out.latin1(lengthToken(value.length));
    if (key.base64) out.latin1(' b');
    out.latin1(flags);
    out.latin1(end);
  }
  if (isSet) {
    // The length came from the Buffer itself, never from a string (docs/reliability.md).
    out.bytes(value);
    out.bytes(CRLF);
  }
}

const SPACE = 0x20;
const LOWER_B = 0x62;

/** The CRLF after a data block, as bytes: copying two bytes costs less than encoding a string. */
const CRLF = Buffer.from('\r\n', 'latin1');

/** `" <n>"` for the data lengths of small values, built once each. */
const CACHED_LENGTHS = 4096;
// Filled up front so the array stays a flat one, not a sparse dictionary, as tokens are added.
const LENGTH_TOKENS = new Array<string | undefined>(CACHED_LENGTHS).fill(undefined);

/** The datalen token of an `ms`: a table lookup for the usual small values, not a number-to-string conversion. */
function lengthToken(n: number): string {
  if (n >= CACHED_LENGTHS) return ' ' + n;
  let token = LENGTH_TOKENS[n];
  if (token === undefined) LENGTH_TOKENS[n] = token = ' ' + n;
  return token;
}

/**
 * Every item quiet, with its key (`k`) and consecutive opaques from the connection's cycle, then
 * `mn`: only the replies that are not suppressed come back, each naming its item twice over, and
 * `MN` proves the rest had none.
 */
function encodeBatch(req: MetaRequest, out: OutBuffer, cursor: OpaqueCursor): BatchState {
  const mask = cursor.mask;
  let n = cursor.next;
  // A read batch holds keys (each an `mg` with the batch's flags), any other batch its items.
  const keys = req.readKeys;
  const items = keys === undefined ? (req.items ?? []) : undefined;
  const count = req.itemCount;
  const state = new BatchState(n, count);
  // The items of a call mostly share one flags string: whether it has its own `k` is asked once.
  let flags: string | undefined;
  let ownK = false;
  for (let i = 0; i < count; i++) {
    const item = items?.[i];
    const itemFlags = item === undefined ? req.flags : item.flags;
    if (itemFlags !== flags) {
      flags = itemFlags;
      ownK = flags.includes(' k');
    }
    const end = ownK ? ' q' + opaqueToken(n) : quietToken(n);
    if (item === undefined) encodeLine('mg', keys![i], flags, undefined, end, out);
    else encodeMeta(item, end, out);
    n = (n + 1) & mask;
  }
  cursor.next = n;
  out.latin1('mn\r\n');
  return state;
}

/** memcached `-Y` login: a `set` whose data is `<user> <pass>`. */
function encodeAuth(req: MetaRequest, out: OutBuffer): void {
  const credentials = req.value ?? Buffer.alloc(0);
  out.latin1('set _ 0 0 ' + credentials.length + '\r\n');
  out.bytes(credentials);
  out.latin1('\r\n');
}
