/** Reply slots for codec tests that call `encode` and `onFrame` without the engine. */
import type { ReplySlot } from '../../lib/codec.js';

/** Each request's reply slot, as the engine's FIFO entry would hold it. */
const slots = new WeakMap<object, ReplySlot>();

/** The slot the engine would keep for `req` (one per request object in these tests). */
export function slotOf(req: object): ReplySlot {
  let slot = slots.get(req);
  if (slot === undefined) slots.set(req, (slot = { reply: undefined }));
  return slot;
}
