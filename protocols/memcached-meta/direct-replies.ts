/**
 * The replies the decoder settles without a frame: a plain read's hit, which answers the head of the
 * FIFO with its Item, and a getMulti item's hit, which goes into its batch's replies until `MN`. Each
 * is checked as correlation.ts checks it (opaque, key, status, a value, a CAS read as a number) and
 * gives what it gives; anything these checks do not take is left to the frame path, which has the
 * last word on everything unusual, out-of-sync replies included.
 */
import type { ReplyHead } from '../../lib/codec.js';
import type { ScannedFlags } from './flag-scan.js';
import { keyTokenIs } from './frame.js';
import { BatchState } from './reply-state.js';
import { RequestKind, type ItemSink, type MetaRequest, type WireKey } from './request.js';
import type { Item } from './results.js';

/**
 * Settles the `VA` just read (its flags in `scan`, its value `value`) if it is a plain read's hit at
 * the head of the FIFO, or a hit of a getMulti item there; returns whether it did. `mask`: the
 * connection's opaque cycle less one (batch opaques wrap around it); the line's bytes are
 * `src[from, to)`, and `src` is `undefined` when the line was read from a partial line (then a batch
 * item is left to the frame path). Passed as three arguments, not an object: no allocation per hit.
 */
export function settleHit(
  head: ReplyHead<MetaRequest, unknown>,
  scan: ScannedFlags,
  value: Buffer,
  mask: number,
  src: Buffer | undefined,
  from: number,
  to: number,
): boolean {
  // An empty value may be a lease placeholder; a CAS past 15 digits is read from the line.
  if (value.length === 0 || (scan.cas < 0 && scan.casAt !== -1)) return false;
  const entry = head.peek();
  if (entry === undefined) return false;
  const req = entry.req;
  const sink = req.itemSink;
  if (sink !== undefined && req.kind === RequestKind.Meta) {
    if (scan.opaque !== entry.reply || scan.keyAt !== -1) return false;
    head.answer(hit(req.key!, value, scan, sink));
    return true;
  }
  const state = entry.reply;
  if (req.kind !== RequestKind.Batch || !(state instanceof BatchState) || src === undefined) return false;
  return settleBatchHit(req, state, scan, value, mask, src, from, to);
}

/** A getMulti item's hit: see onBatchFrame (correlation.ts), whose checks this repeats. */
function settleBatchHit(
  req: MetaRequest,
  state: BatchState,
  scan: ScannedFlags,
  value: Buffer,
  mask: number,
  src: Buffer,
  from: number,
  to: number,
): boolean {
  const opaque = scan.opaque;
  if (opaque < 0 || opaque > mask || scan.keyAt === -1) return false;
  const j = state.indexOf(opaque, mask);
  if (j >= req.itemCount) return false;
  let sink: ItemSink | undefined;
  let key: WireKey | undefined;
  const keys = req.readKeys;
  if (keys !== undefined) {
    // A read batch: every item an `mg` of its key, with the batch's sink.
    sink = req.itemSink;
    key = keys[j];
  } else {
    const item = req.item(j);
    if (item.command !== 'mg') return false;
    sink = item.itemSink;
    key = item.key;
  }
  if (sink === undefined || key === undefined) return false;
  if (!key.ascii || key.base64 || !keyTokenIs(src, from + scan.keyAt, to, key.token)) {
    return false;
  }
  state.replies[j] = hit(key, value, scan, sink);
  state.lastIndex = j;
  return true;
}

/**
 * A hit's Item, counted in its sink: itemOf's (correlation.ts) from the scan instead of a frame.
 * Written out rather than shared through a function of the Item's parts: that call cost 3–6% of
 * get-500 (measured, 8 pairs).
 */
function hit(key: WireKey, value: Buffer, scan: ScannedFlags, sink: ItemSink): Item {
  sink.counts.hits++;
  const raw = scan.casAt === -1 ? 0n : BigInt(scan.cas);
  const tag = sink.casTag;
  if (scan.win) sink.returnWin?.(key, raw);
  return {
    key: key.original,
    value,
    flags: scan.clientFlags,
    cas: raw === 0n || tag === 0n ? raw : raw | tag,
  };
}
