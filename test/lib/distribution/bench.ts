/**
 * pick() cost per key, and the MD5 routes ketama could take. Not a test: run it by hand with
 * `npx tsx test/lib/distribution/bench.ts` on an otherwise idle machine.
 */
import { createHash, hash } from 'node:crypto';
import { createDistribution, type DistributionKind } from '../../../lib/distribution/index.js';
import { md5Head } from '../../../lib/distribution/md5.js';
import { servers } from './helpers.js';

const SHAPES: Record<string, string[]> = {
  'short ASCII (~10 B)': Array.from({ length: 10_000 }, (_, i) => `k:${i * 7919}`),
  'typical ASCII (~30 B)': Array.from({ length: 10_000 }, (_, i) => `user:${i * 7919}:profile:settings`),
  'long ASCII (~120 B)': Array.from({ length: 10_000 }, (_, i) => `${'segment/'.repeat(14)}${i}`),
  'UTF-8 (~30 B)': Array.from({ length: 10_000 }, (_, i) => `пользователь:${i}:キャッシュ`),
};

// Keys as they usually arrive: flat strings from a parser or the network, not fresh concatenations.
for (const name of Object.keys(SHAPES)) SHAPES[name] = JSON.parse(JSON.stringify(SHAPES[name])) as string[];

function measure(fn: (key: string) => number, list: readonly string[]): number {
  let sink = 0;
  let best = Infinity;
  for (let round = 0; round < 7; round++) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < 20; r++) for (const key of list) sink += fn(key);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / (20 * list.length));
  }
  if (sink === -1) console.log(sink);
  return best;
}

const list = servers(8, [1, 2, 1, 3, 1, 1, 2, 1]);
const kinds: DistributionKind[] = ['ketama', 'jump', 'modula', 'proxy'];
const rows: Record<string, Record<string, string>> = {};
for (const [shape, keys] of Object.entries(SHAPES)) {
  const row: Record<string, string> = {};
  for (const kind of kinds) {
    // 'proxy' takes no weights.
    const dist = createDistribution(kind, kind === 'proxy' ? servers(8) : list);
    row[String(kind)] = measure((k) => dist.pick(k), keys).toFixed(0);
  }
  row['md5Head (pure JS)'] = measure(md5Head, keys).toFixed(0);
  row['crypto.hash hex'] = measure((k) => parseInt(hash('md5', k).slice(0, 8), 16), keys).toFixed(0);
  row['crypto.hash buffer'] = measure((k) => hash('md5', k, 'buffer').readUInt32LE(0), keys).toFixed(0);
  row['createHash'] = measure((k) => createHash('md5').update(k).digest().readUInt32LE(0), keys).toFixed(0);
  rows[shape] = row;
}
console.log(`ns per key, 8 servers (weights 1,2,1,3,1,1,2,1), Node ${process.version}`);
console.table(rows);
