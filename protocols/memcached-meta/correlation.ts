/**
 * Correlation: whether a reply is one its request (the head of the FIFO) can receive, and what the
 * request resolves with. A meta reply must carry a status its command can receive, the opaque it was
 * sent with and, when it echoes one, its key; a read's hit becomes its Item, a batch's replies are
 * gathered until `MN`, a `stats` reply's lines until `END`. Anything else is out of sync: a fatal
 * failure that destroys the connection (docs/architecture.md). Used by the meta codec (codec.ts).
 */
import { FrameFailure, MORE } from '../../lib/codec.js';
import type { FrameVerdict, ReplySlot } from '../../lib/codec.js';
import { ProtocolError, ServerErrorReply, type MemlineError } from '../../lib/errors.js';
import { COMMANDS } from './commands.js';
import { quote } from './reply-line.js';
import { nextSpace, type MetaFrame } from './frame.js';
import { casOf, isLeasePlaceholder } from './returned-flags.js';
import { keyMatches } from './keys.js';
import { batchState, MAX_STATS, statsState } from './reply-state.js';
import { RequestKind, type ItemSink, type MetaRequest } from './request.js';
import type { Item } from './results.js';

/**
 * Checks a meta reply against its request: a status the command can receive, the opaque it was
 * sent with (unless its batch already matched it), and the key when both carry one. A reply that
 * carries an `O` or `k` its request never sent is out of sync too. Returns a fatal failure, or
 * `undefined` if it fits.
 */
export function checkMeta(
  req: MetaRequest,
  frame: MetaFrame,
  opaque: number,
  inBatch: boolean,
): FrameFailure | undefined {
  const status = frame.status;
  if (!COMMANDS[req.command ?? 'mn'].statuses.has(status)) return outOfSync(req, frame);
  if (status === 'ME') {
    // `ME <key> …` must name the key asked for: on 1.6.18 a binary key created by `mg … N` is
    // printed raw, and its bytes could forge reply lines.
    const line = frame.line;
    const end = line.indexOf(' ', 3);
    if (line.slice(3, end === -1 ? line.length : end) !== req.key?.token) return outOfSync(req, frame, 'key');
    return undefined;
  }
  // The decoder's one pass over the flags found the `O` and `k` tokens (frame.opaque, frame.keyAt);
  // the line itself is read only to compare a key or a caller's own opaque.
  const got = frame.opaque;
  if (!inBatch) {
    if (opaque >= 0) {
      // A bare status (`HD`, `EN`…) carries no opaque: memcached echoes every opaque it is sent, and
      // a reply without one is taken as is, so that a stream is checked wherever it carries opaques.
      if (got !== -1 && got !== opaque) return outOfSync(req, frame, 'opaque');
    } else if (req.ownOpaque && req.flags.includes(' O')) {
      const line = frame.line;
      if (line.length === 2) return outOfSync(req, frame, 'opaque');
      const at = line.lastIndexOf(' O');
      const sent = requestToken(req.flags, 'O');
      if (at === -1 || line.slice(at + 2, nextSpace(line, at + 2)) !== sent) {
        return outOfSync(req, frame, 'opaque');
      }
    } else if (got !== -1) {
      return outOfSync(req, frame, 'opaque');
    }
  }
  const from = frame.keyAt;
  if (from === -1) return undefined;
  const key = req.key;
  if (key === undefined || !(inBatch || req.flags.includes(' k'))) return outOfSync(req, frame, 'key');
  // The usual echo (a text key as sent) is compared on the line's bytes; anything else below.
  if (key.ascii && !key.base64 && frame.keyIs(key.token)) return undefined;
  const line = frame.line;
  const end = nextSpace(line, from);
  // A base64 key comes back as `k<token> b`.
  const base64 = line.startsWith(' b', end) && (end + 2 === line.length || line.charCodeAt(end + 2) === 0x20);
  if (!keyMatches(key, line.slice(from, end), base64)) return outOfSync(req, frame, 'key');
  return undefined;
}

/** The error of a store the server answered with `status` instead of `HD` (`NS`, `EX`, `NF`). */
export function notStored(status: string | undefined): MemlineError {
  return new ServerErrorReply(`the server did not store the item (${status})`, { mayHaveExecuted: true });
}

/** A read's reply as an Item (VA) or `null` (EN), counted in the request's sink. */
export function toItem(req: MetaRequest, frame: MetaFrame): Item | null | FrameFailure {
  const sink = req.itemSink!.counts;
  if (frame.status === 'EN') {
    sink.misses++;
    return null;
  }
  if (frame.status !== 'VA' || frame.value === undefined) return outOfSync(req, frame);
  if (frame.value.length === 0 && isLeasePlaceholder(frame)) {
    sink.misses++;
    return null;
  }
  sink.hits++;
  return itemOf(req, frame, frame.value, req.itemSink!);
}

/**
 * The Item of a read's `VA` reply; the frame's line is never read after this. A win (`W`) the read
 * took goes back through the sink: a plain read has no use for it.
 */
export function itemOf(req: MetaRequest, frame: MetaFrame, value: Buffer, sink: ItemSink): Item {
  const raw = casOf(frame);
  const tag = sink.casTag;
  const cas = raw === 0n || tag === 0n ? raw : raw | tag;
  if (frame.win) sink.returnWin?.(req.key!, raw);
  frame.spend();
  return { key: req.key!.original, value, flags: frame.clientFlags, cas };
}

/** The token of flag `ch` in a rendered flag string (`" v O12 k"`), or `undefined`. */
function requestToken(flags: string, ch: string): string | undefined {
  const i = flags.indexOf(' ' + ch);
  if (i === -1) return undefined;
  const end = flags.indexOf(' ', i + 2);
  return flags.slice(i + 2, end === -1 ? flags.length : end);
}

/**
 * A batch reply: tagged with the opaque of an item past the last one answered (the server answers
 * in order), naming that item's key, with a status it can receive. `MN`, carrying nothing, ends
 * the batch; the items without a reply had none. `mask`: the opaque cycle's size less one.
 */
export function onBatchFrame(
  req: MetaRequest,
  frame: MetaFrame,
  slot: ReplySlot,
  mask: number,
): FrameVerdict<unknown> {
  const n = req.itemCount;
  const state = batchState(slot, n);
  if (frame.status === 'MN') {
    if (frame.line.length !== 2) return outOfSync(req, frame, 'opaque');
    return state.error !== undefined ? new FrameFailure(state.error, false) : state.replies;
  }
  const opaque = frame.opaque;
  if (opaque < 0) return outOfSync(req, frame, 'opaque');
  const j = state.indexOf(opaque, mask);
  if (j >= n || opaque > mask) return outOfSync(req, frame, 'opaque');
  const item = req.item(j);
  const failure = checkMeta(item, frame, opaque, true);
  if (failure !== undefined) return failure;
  if (frame.keyAt === -1) return outOfSync(req, frame, 'key');
  if (item.itemSink === undefined || frame.skipped !== -1) {
    state.replies[j] = frame;
  } else {
    // A plain read: its Item now, so that the frame (and its line) is not kept until MN.
    const read = toItem(item, frame);
    if (read instanceof FrameFailure) return read;
    state.replies[j] = read;
  }
  state.lastIndex = j;
  return MORE;
}

/** `STAT <name> <value>` lines until `END`, into a null-prototype record (no `__proto__` games). */
export function onStatsFrame(req: MetaRequest, frame: MetaFrame, slot: ReplySlot): FrameVerdict<unknown> {
  switch (frame.status) {
    case 'STAT':
    case 'PREFIX': {
      // `stats detail dump` answers `PREFIX <prefix> get … hit …` lines: kept under the prefix.
      const line = frame.line;
      const nameStart = frame.status.length + 1;
      const sp = line.indexOf(' ', nameStart);
      const name = line.slice(nameStart, sp === -1 ? line.length : sp);
      if (name.length === 0) break;
      const state = statsState(slot);
      if (!(name in state.stats)) {
        if (state.count >= MAX_STATS) break;
        state.count++;
      }
      state.stats[name] = sp === -1 ? '' : line.slice(sp + 1);
      return MORE;
    }
    case 'END':
      return statsState(slot).stats;
    case 'RESET': // stats reset
    case 'OK': // stats detail on|off
      return Object.create(null) as Record<string, string>;
  }
  return outOfSync(req, frame);
}

/** `"mg"`, `"batch of 3 mg"`, `"batch of 3"` (mixed), `"version"`, `"stats"`…: never a key or value. */
export function label(req: MetaRequest): string {
  switch (req.kind) {
    case RequestKind.Meta:
      return req.command ?? 'meta';
    case RequestKind.Batch: {
      const items = req.items ?? [];
      const first = items[0]?.command;
      const same = first !== undefined && items.every((item) => item.command === first);
      return same ? `batch of ${items.length} ${first}` : `batch of ${items.length}`;
    }
    case RequestKind.Version:
      return 'version';
    case RequestKind.Stats:
      return 'stats';
    case RequestKind.FlushAll:
      return 'flush_all';
    case RequestKind.Verbosity:
      return 'verbosity';
    case RequestKind.Auth:
      return 'auth';
  }
}

export function outOfSync(req: MetaRequest, frame: MetaFrame, what?: 'opaque' | 'key'): FrameFailure {
  const why = what === undefined ? 'unexpected reply' : `reply with the wrong ${what}`;
  return new FrameFailure(
    new ProtocolError(`${why} to ${label(req)}: ${quote(frame.line)}`, { mayHaveExecuted: true }),
    true,
  );
}
