/**
 * What the meta codec remembers about one sending of a request while its replies arrive. It lives
 * on the engine's FIFO entry ({@link ReplySlot}), never on the request: a request is immutable once
 * built, and one sent again on another connection starts over with fresh state.
 *
 * - a meta request: the opaque it was sent with, as a number (-1: none of the codec's own);
 * - a batch: a {@link BatchState};
 * - `stats`: a {@link StatsState};
 * - everything else: nothing.
 */
import type { ReplySlot } from '../../lib/codec.js';
import type { MemlineError } from '../../lib/errors.js';
import type { MetaFrame } from './frame.js';
import type { Item } from './results.js';

/** The state a slot holds (see the module comment). */
export type ReplyState = number | BatchState | StatsState | undefined;

/** A quiet batch being answered. */
export class BatchState {
  /** The last item answered so far (replies come in item order). */
  lastIndex = -1;
  /** A `SERVER_ERROR` seen mid-batch: it carries no opaque, so it fails the batch at `MN`. */
  error: MemlineError | undefined = undefined;
  /**
   * Each item's reply, or `undefined` where it had none: its frame, or for an item with an
   * `itemSink` its Item (`null`: a lease placeholder).
   */
  readonly replies: (MetaFrame | Item | null | undefined)[];

  constructor(
    /** The opaque of the first item; the others follow in the connection's cycle. */
    readonly opaque: number,
    items: number,
  ) {
    this.replies = new Array<MetaFrame | Item | null | undefined>(items).fill(undefined);
  }

  /**
   * The index of the first item past the last answered whose opaque is `opaque` (opaques cycle,
   * `mask` being the cycle's size less one: see encodeBatch); past the batch when none is.
   */
  indexOf(opaque: number, mask: number): number {
    const next = this.lastIndex + 1;
    return next + ((opaque - this.opaque - next) & mask);
  }
}

/** The most `STAT` lines one `stats` reply may hold: bounded like everything a server sends. */
export const MAX_STATS = 100_000;

/** A `stats` reply being read. */
export class StatsState {
  /** A null-prototype record: no `__proto__` games from a hostile server. */
  readonly stats = Object.create(null) as Record<string, string>;
  count = 0;
}

/** The opaque a meta request was sent with through `slot`, or -1 (none, or never encoded). */
export function sentOpaque(slot: ReplySlot): number {
  const state = slot.reply;
  return typeof state === 'number' ? state : -1;
}

/** The batch state of `slot`, made fresh if the batch was never encoded through it. */
export function batchState(slot: ReplySlot, items: number): BatchState {
  let state = slot.reply;
  if (!(state instanceof BatchState)) slot.reply = state = new BatchState(0, items);
  return state as BatchState;
}

/** The stats state of `slot`, made fresh if the request was never encoded through it. */
export function statsState(slot: ReplySlot): StatsState {
  let state = slot.reply;
  if (!(state instanceof StatsState)) slot.reply = state = new StatsState();
  return state as StatsState;
}
