/**
 * Large values do not stall the event loop, and decoding them is linear (docs/reliability.md: bad input):
 * memcached `-I 64m -m 512`, a client with `maxValueSize: 64 MiB`.
 *
 * Over plain TCP a large value is read straight into its buffer (the decoder's readInto); through
 * chunks, linearity is checked as the CPU time to decode the second half of a value against its first half,
 * best of several rounds: 1 for a linear decoder, 3 for one that re-copied the growing value on every
 * chunk (the quadratic shape of node-redis#678). Comparing whole reads of 16 and 32 MiB would also
 * time the allocator and the network (see the tests), which a loaded 2-core machine makes noisy.
 */
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomFillSync } from 'node:crypto';
import { expect } from 'chai';
import sinon from 'sinon';
import { MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { READ_LARGE } from '../../lib/read-rooms.js';
import { MetaDecoder, READ_INTO_MIN } from '../../protocols/memcached-meta/decoder.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';

const MiB = 1024 * 1024;
const ROUNDS = 5;
/** Second half over first half: 1 when decoding is linear, 3 when quadratic; 2 leaves room for noise. */
const HALF_RATIO = 2;

/**
 * CPU time of this process, in ms. The linearity checks time the decoder with it rather than with the
 * wall clock: on a loaded machine the OS deschedules the process at random moments, which wall time
 * would charge to whichever half of the value was being decoded.
 */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function payload(size: number): Buffer {
  return randomFillSync(Buffer.allocUnsafe(size));
}

/**
 * Decodes one `VA` of `value` fed in `chunk`-byte pieces and returns the best times (of `rounds`) to
 * feed the first and the second half of the value. The value's buffer is allocated when the header
 * is read, before either half, so both halves do the same work if decoding is linear; a decoder that
 * re-copied what it had so far on every chunk would take three times as long for the second half.
 * The pieces are cut beforehand and the garbage collector gets a turn before the halves are timed, so
 * that only the decoder is measured.
 */
async function halfTimes(value: Buffer, chunk: number, rounds = ROUNDS): Promise<[number, number]> {
  const best: [number, number] = [Infinity, Infinity];
  const half = value.length / 2;
  // Byte by byte, each byte is fed as one of 256 one-byte buffers: no view per byte to allocate.
  const single = Array.from({ length: 256 }, (_, b) => Buffer.from([b]));
  const pieces = [0, 1].map((i) => {
    const [from, to] = i === 0 ? [0, half] : [half, value.length];
    const out: Buffer[] = [];
    for (let at = from; at < to; at += chunk) {
      out.push(chunk === 1 ? single[value[at]] : value.subarray(at, Math.min(at + chunk, to)));
    }
    return out;
  });
  for (let r = 0; r < rounds; r++) {
    const decoder = new MetaDecoder({ maxValueSize: 64 * MiB, maxLineLength: 16 * 1024 });
    let frames = 0;
    const onFrame = (): void => void frames++;
    decoder.feed(Buffer.from(`VA ${value.length}\r\n`), onFrame);
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (const i of [0, 1]) {
      const start = cpuMs();
      for (const piece of pieces[i]) decoder.feed(piece, onFrame);
      best[i] = Math.min(best[i], cpuMs() - start);
    }
    decoder.feed(Buffer.from('\r\n'), onFrame);
    if (frames !== 1) throw new Error(`expected one frame, got ${frames}`);
  }
  return best;
}

describe('security: large values do not stall the event loop (memcached -I 64m)', function () {
  this.timeout(120_000);
  let mc: MemcachedProcess;
  let client: MemcacheClient;
  const values = new Map<number, Buffer>();

  before(async () => {
    mc = await startMemcached({ args: ['-I', '64m'], memoryMb: 512 });
    client = new MemcacheClient({ servers: [mc.address], maxValueSize: 64 * MiB, timeout: 20_000 });
    for (const size of [32 * MiB]) {
      const value = payload(size);
      values.set(size, value);
      await client.set(`big-${size}`, value);
    }
  });

  after(async () => {
    await client?.close();
    await mc?.stop();
  });

  it('while a 32 MiB value is read, the event-loop delay p99 stays under 50 ms', async () => {
    const expected = values.get(32 * MiB)!;
    await client.get(`big-${32 * MiB}`); // warm up: connection open, code optimised
    // The delay is wall time: on a shared, loaded 2-core machine the OS deschedules any process now
    // and then, which looks the same. So up to five reads, the best counts; a client that blocked
    // the loop while decoding would stall every one of them.
    const p99s: number[] = [];
    for (let attempt = 0; attempt < 5 && !(Math.min(...p99s) < 50); attempt++) {
      const h = monitorEventLoopDelay({ resolution: 1 });
      let ticks = 0;
      const interval = setInterval(() => ticks++, 1);
      h.enable();
      const start = performance.now();
      const item = await client.get(`big-${32 * MiB}`);
      const took = performance.now() - start;
      h.disable();
      clearInterval(interval);
      expect(item?.value.equals(expected)).to.equal(true);
      expect(ticks, 'the 1 ms interval kept running while the value streamed in').to.be.greaterThan(0);
      p99s.push(h.percentile(99) / 1e6);
      console.log(
        `        32 MiB get: ${took.toFixed(0)} ms, loop delay p99 ${p99s.at(-1)!.toFixed(1)} ms, max ${(h.max / 1e6).toFixed(1)} ms, ${ticks} ticks of a 1 ms interval`,
      );
    }
    expect(Math.min(...p99s)).to.be.lessThan(50);
  });

  it('a 32 MiB value from memcached over TCP is read straight into its buffer: nearly none of it is fed to the decoder', async () => {
    // Linear by construction: a read that lands in the value costs the decoder one addition. The
    // chunk path is timed for linearity below; here the reads are counted, in a real get.
    const size = 32 * MiB;
    /* eslint-disable @typescript-eslint/unbound-method -- restored below, called with their `this` */
    const feed = MetaDecoder.prototype.feed;
    const landed = MetaDecoder.prototype.landed;
    /* eslint-enable @typescript-eslint/unbound-method */
    let fed = 0;
    let inPlace = 0;
    MetaDecoder.prototype.feed = function (this: MetaDecoder, chunk, onFrame) {
      fed += chunk.length;
      feed.call(this, chunk, onFrame);
    };
    MetaDecoder.prototype.landed = function (this: MetaDecoder, n) {
      inPlace += n;
      landed.call(this, n);
    };
    try {
      const item = await client.get(`big-${size}`);
      expect(item?.value.equals(values.get(size)!)).to.equal(true);
    } finally {
      MetaDecoder.prototype.feed = feed;
      MetaDecoder.prototype.landed = landed;
    }
    // Fed: the read that held the header (and the start of the value: one room at most), and the
    // last stretch, under READ_INTO_MIN, with the CRLF.
    expect(fed + inPlace).to.be.within(size + 2, size + 2 + 64); // the value, its CRLF and its VA line
    expect(fed, 'bytes fed as chunks').to.be.at.most(READ_LARGE + READ_INTO_MIN + 2);
  });

  it('a runtime that reads into a buffer of its own, used again for every read: each read is copied, values intact', async () => {
    // Node always reads into the buffer its onread asked for. A runtime that did not, and wrote its
    // own (8 KiB) buffer again on the next read, must neither be taken as having landed a value in
    // place nor have its buffer kept: small values from a chunk that small are views of it.
    const realConnect = net.connect;
    const scratch = Buffer.allocUnsafeSlow(8 * 1024);
    let swapped = 0;
    const connect = sinon.stub(net, 'connect').callsFake(((options: net.NetConnectOpts & net.OnReadOpts) => {
      const onread = options.onread;
      if (onread === undefined) return realConnect(options);
      return realConnect({
        ...options,
        onread: {
          buffer: onread.buffer,
          callback: (n, buf) => {
            const read = Buffer.from(buf.subarray(0, n));
            buf.fill(0x2a, 0, n); // the memory the socket read into is scribbled over
            for (let at = 0; at < n; at += scratch.length) {
              const m = Math.min(scratch.length, n - at);
              read.copy(scratch, 0, at, at + m);
              swapped++;
              onread.callback(m, scratch);
            }
            return true;
          },
        },
      });
    }) as typeof net.connect);
    const other = new MemcacheClient({ servers: [mc.address], maxValueSize: 64 * MiB, timeout: 20_000 });
    try {
      const sizes = [100, 200, 40 * 1024, 300 * 1024, 2 * MiB];
      const sent = sizes.map(payload);
      await Promise.all(sizes.map((size, i) => other.set(`swapped-${size}`, sent[i])));
      const items = await Promise.all(sizes.map((size) => other.get(`swapped-${size}`)));
      expect(await other.get(`big-${32 * MiB}`)).to.have.nested.property('value.length', 32 * MiB);
      // Checked after every read: a value that shared the runtime's buffer would be overwritten by now.
      items.forEach((item, i) => expect(item?.value.equals(sent[i]), `${sizes[i]} bytes`).to.equal(true));
    } finally {
      connect.restore();
      await other.close();
    }
    expect(swapped, "reads reported in the runtime's own buffer").to.be.above(10);
  });

  it('decoding a 32 MiB value is linear: its second half takes about as long as its first (64 KiB and 1 KiB pieces; 2 MiB byte by byte)', async () => {
    const v32 = values.get(32 * MiB)!;
    for (const [value, chunk] of [
      [v32, 64 * 1024],
      [v32, 1024],
      [payload(2 * MiB), 1],
    ] as const) {
      const [first, second] = await halfTimes(value, chunk);
      const what = `${value.length / 1024} KiB in ${chunk}-byte pieces`;
      console.log(
        `        decode ${what}: first half ${first.toFixed(1)} ms, second half ${second.toFixed(1)} ms`,
      );
      // Linear: about 1; re-copying the value on every chunk would make it about 3.
      expect(second / first, what).to.be.lessThan(HALF_RATIO);
    }
  });
});
