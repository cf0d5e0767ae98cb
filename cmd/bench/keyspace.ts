/**
 * The keys and values every client reads and writes. Each value embeds its key, so a value read for the
 * wrong key is caught; they are stored (and checked after a set cell) through the raw socket, so no
 * client under test is trusted to prepare or judge its own data.
 */
import { KEY_COUNT, VALUE_SIZE, type CellSpec } from './cells.js';
import { FAILED, MISMATCH, OK, RawBatch, RawConnection } from './raw.js';

export class Keyspace {
  readonly keys: string[] = [];
  /** The value of `keys[i]` as bytes and as text (ASCII, so both have `VALUE_SIZE` bytes). */
  readonly values: Buffer[] = [];
  readonly texts: string[] = [];
  /** `keys` cut into consecutive groups of `batchSize`, for getMulti. */
  readonly batches: string[][] = [];

  readonly poison: string;

  constructor(
    readonly count = KEY_COUNT,
    readonly batchSize = 100,
    readonly valueSize = VALUE_SIZE,
  ) {
    this.poison = 'P'.repeat(valueSize);
    for (let i = 0; i < count; i++) {
      const key = `bench:${String(i).padStart(6, '0')}`;
      const text = `${key}=`.repeat(Math.ceil(valueSize / (key.length + 1))).slice(0, valueSize);
      this.keys.push(key);
      this.texts.push(text);
      this.values.push(Buffer.from(text, 'latin1'));
    }
    for (let i = 0; i + batchSize <= count; i += batchSize)
      this.batches.push(this.keys.slice(i, i + batchSize));
  }
}

const cache = new Map<string, Keyspace>();

/** The key space of `cell` (shared by the cells with the same key count and value size). */
export function keyspaceFor(cell: Pick<CellSpec, 'keyCount' | 'valueSize'>): Keyspace {
  const id = `${cell.keyCount}x${cell.valueSize}`;
  let ks = cache.get(id);
  if (ks === undefined) {
    ks = new Keyspace(cell.keyCount, 100, cell.valueSize);
    cache.set(id, ks);
  }
  return ks;
}

/**
 * Stores every key of `ks` (or, with `poison`, a value of the right size that embeds no key: written
 * before a set cell so stale data is caught) on every server in `addresses`.
 */
export async function storeAll(addresses: readonly string[], ks: Keyspace, poison = false): Promise<void> {
  await Promise.all(
    addresses.map(async (address) => {
      const conn = await RawConnection.connect(address);
      try {
        const batch = new RawBatch(ks.count);
        for (let i = 0; i < ks.count; i++) conn.set(ks.keys[i], poison ? ks.poison : ks.texts[i], batch);
        await batch.done;
        if (batch.counts[OK] !== ks.count) {
          throw new Error(`storing the key space on ${address}: ${ks.count - batch.counts[OK]} sets failed`);
        }
      } finally {
        conn.close();
      }
    }),
  );
}

/** Reads keys `[0, n)` back from `address`; returns how many are missing or wrong. */
export async function verifyStored(address: string, ks: Keyspace, n: number): Promise<number> {
  const conn = await RawConnection.connect(address);
  try {
    const count = Math.min(n, ks.count);
    const batch = new RawBatch(count);
    for (let i = 0; i < count; i++) conn.get(ks.keys[i], ks.values[i], batch);
    await batch.done;
    return batch.counts[MISMATCH] + batch.counts[FAILED];
  } finally {
    conn.close();
  }
}
