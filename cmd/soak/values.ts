/**
 * Values that name their own key, so that every value read back can be checked.
 *
 *   value key:  key|<key>|<write counter>|<padding length>|<padding>
 *   counter:    incr on `c:<i>` starts at initial i·2³², so its top 32 bits are always i
 *
 * A value whose header names another key (or that is a counter's digits) was read for another key:
 * a desync. A value for the right key whose length or padding is wrong is corrupt.
 */

/** Value keys `v:0` … and counter keys `c:0` …: disjoint, so incr never meets a text value. */
export const valueKey = (i: number): string => `v:${i}`;
export const counterKey = (i: number): string => `c:${i}`;

export const MIN_PADDING = 10;
export const MAX_PADDING = 4096;

/** One padding block per letter; a value's letter follows from its write counter. */
const PADDING = Array.from({ length: 26 }, (_, i) => Buffer.alloc(MAX_PADDING, 0x61 + i));
const HEADER_MAX = 64;
const BAR = 0x7c; // '|'

export function makeValue(key: string, counter: number, padding: number): Buffer {
  const header = Buffer.from(`key|${key}|${counter}|${padding}|`, 'latin1');
  return Buffer.concat([header, PADDING[counter % 26].subarray(0, padding)]);
}

export type Verdict = { ok: true } | { ok: false; desync: boolean; detail: string };

const OK: Verdict = { ok: true };

/** Checks a value read for `key`. */
export function checkValue(key: string, value: Buffer): Verdict {
  const bars: number[] = [];
  for (let i = 0; i < Math.min(value.length, HEADER_MAX) && bars.length < 4; i++) {
    if (value[i] === BAR) bars.push(i);
  }
  if (bars.length < 4 || value.toString('latin1', 0, 4) !== 'key|') {
    const digits = /^\d+$/.test(value.toString('latin1', 0, 24));
    return { ok: false, desync: digits, detail: `${key} read ${preview(value)}` };
  }
  const owner = value.toString('latin1', bars[0] + 1, bars[1]);
  if (owner !== key) return { ok: false, desync: true, detail: `${key} read the value of ${owner}` };
  const counter = Number(value.toString('latin1', bars[1] + 1, bars[2]));
  const padding = Number(value.toString('latin1', bars[2] + 1, bars[3]));
  const start = bars[3] + 1;
  const intact =
    Number.isInteger(counter) &&
    Number.isInteger(padding) &&
    value.length === start + padding &&
    padding <= MAX_PADDING &&
    value.compare(PADDING[counter % 26], 0, padding, start) === 0;
  return intact ? OK : { ok: false, desync: false, detail: `${key} read a damaged value ${preview(value)}` };
}

/** Checks what `incr` on counter `i` returned. */
export function checkCounter(i: number, value: bigint | null): Verdict {
  if (value === null) return { ok: false, desync: false, detail: `${counterKey(i)} incr returned null` };
  const owner = Number(value >> 32n);
  if (owner === i) return OK;
  return { ok: false, desync: true, detail: `${counterKey(i)} incr returned ${value} (counter ${owner}'s)` };
}

/** The initial value of counter `i`. */
export const counterInitial = (i: number): bigint => BigInt(i) << 32n;

function preview(value: Buffer): string {
  const text = JSON.stringify(value.toString('latin1', 0, 48));
  return value.length > 48 ? `${text}… (${value.length} bytes)` : text;
}
