/**
 * Nothing a caller passes reaches the wire beyond its own command (a promise to users; docs/reliability.md,
 * bad input). fast-check drives arbitrary keys (strings with any code unit, control characters, spaces,
 * lone surrogates, multi-byte characters around the 250-byte limit; byte arrays; values of the wrong
 * type) and arbitrary TTL, flags, delta, CAS, initial, timeout and flag values through the client:
 *
 * - against a scripted server, each call is either refused with ERR_INVALID_KEY / ERR_INVALID_ARGUMENT /
 *   ERR_VALUE_TOO_LARGE exactly when an independent model of the rules says so, with not one byte
 *   written, or it puts exactly its own request on the wire, with the key and numbers as given;
 * - against real memcached, every accepted key and value round-trips byte for byte.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import sinon from 'sinon';
import { MemcacheClient, MemlineError } from '../../protocols/memcached-meta/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { startScriptedServer, type ScriptedServer } from '../harness/scripted-server.js';
import { fuzz } from './fuzz.js';

const MAX_VALUE = 96;
const VALIDATION = new Set(['ERR_INVALID_KEY', 'ERR_INVALID_ARGUMENT', 'ERR_VALUE_TOO_LARGE']);

// ---- the model: memcached's rules, written independently of protocols/memcached-meta/keys.ts ------

function wellFormed(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

/** A text key: 1–250 UTF-8 bytes, none ≤ 0x20 or 0x7F, no lone surrogate. */
function textKeyOk(key: unknown): key is string {
  if (typeof key !== 'string' || key.length === 0 || !wellFormed(key)) return false;
  const bytes = Buffer.from(key, 'utf8');
  return bytes.length <= 250 && bytes.every((b) => b > 0x20 && b !== 0x7f);
}

/** A key sent base64 with `b`: 1–186 bytes. */
function binaryKeyOk(key: unknown, binaryKeys: boolean): boolean {
  if (key instanceof Uint8Array) return key.length >= 1 && key.length <= 186;
  if (!binaryKeys || typeof key !== 'string' || key.length === 0 || !wellFormed(key)) return false;
  return Buffer.byteLength(key, 'utf8') <= 186;
}

function keyOk(key: unknown, binaryKeys: boolean): boolean {
  return key instanceof Uint8Array || binaryKeys ? binaryKeyOk(key, binaryKeys) : textKeyOk(key);
}

/** The key token as it must appear on the wire (bytes), and whether `b` follows it. */
function wireKey(key: unknown, binaryKeys: boolean): { token: Buffer; b: boolean } {
  if (key instanceof Uint8Array) return { token: Buffer.from(Buffer.from(key).toString('base64')), b: true };
  if (binaryKeys) return { token: Buffer.from(Buffer.from(key as string).toString('base64')), b: true };
  return { token: Buffer.from(key as string, 'utf8'), b: false };
}

const isInt = (v: unknown, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
/** The client's clock while the scripted-server properties run (Date only is faked). */
const NOW_S = 1_800_000_000;
/** A TTL is seconds from now; over 30 days the client sends now + ttl, which must end before 2038. */
const ttlOk = (v: unknown): v is number =>
  isInt(v, 2 ** 31 - 1) && (v <= 2_592_000 || NOW_S + v <= 2 ** 31 - 1);
/** The wire token of a TTL the model accepts. */
const ttlTok = (v: unknown): string => (typeof v === 'number' && v > 2_592_000 ? String(NOW_S + v) : tok(v));
const flagsOk = (v: unknown): v is number => isInt(v, 2 ** 32 - 1);
const u64Ok = (v: unknown): boolean =>
  (typeof v === 'bigint' && v >= 0n && v < 2n ** 64n) ||
  (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
const casOk = (v: unknown): boolean => u64Ok(v) && BigInt(v as number | bigint) !== 0n;
const U64_MASK = 2n ** 64n - 1n;
/**
 * A token of the typed API: a server value of 1 to 2^64-1, under a server number of up to 32 bits
 * (the client's only server here is its number 1; a token of another server is a conflict, nothing sent).
 */
const casTokenOk = (v: unknown): boolean =>
  typeof v === 'bigint'
    ? v > 0n && v < 2n ** 96n && (v & U64_MASK) !== 0n
    : casOk(v) && typeof v === 'number';
/** What `cas()` sends for an accepted token: the server's value, or nothing for another server's token. */
const casLines = (v: unknown): string | undefined => {
  if (typeof v !== 'bigint' || v <= U64_MASK) return tok(v);
  return v >> 64n === 1n ? (v & U64_MASK).toString() : undefined;
};
const optional = (v: unknown, ok: (v: unknown) => boolean): boolean => v === undefined || ok(v);
/** The per-call timeout: null counts as absent (the client reads it with `??`). */
const timeoutOk = (v: unknown): boolean =>
  v === undefined || v === null || (typeof v === 'number' && v > 0 && Number.isFinite(v));

function valueBytes(v: unknown): Buffer | undefined {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v);
  return undefined;
}

// ---- arbitraries -------------------------------------------------------------------------------

/** One character from everywhere: controls, spaces, DEL, C1, multi-byte, astral, lone surrogates. */
const anyChar: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    ' ',
    '\r',
    '\n',
    '\t',
    '\0',
    '\x7f',
    '\x1b',
    '\x85',
    '\xa0',
    '\u2028',
    '\ufeff',
    '\ud800',
    '\udc00',
  ),
  fc.constantFrom('a', 'Z', '_', ':', '-', 'я', '€', '日', '😀'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
);

/** Printable ASCII and multi-byte characters only: valid unless too long. */
const keyChar = fc.constantFrom('a', 'k', '0', '~', '!', 'é', 'я', '€', '日', '😀');

/** Exactly `bytes` UTF-8 bytes of a valid key (`filler` pads the end), to probe the 250-byte edge. */
const atByteLength = (bytes: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom('я', '€', '😀', 'é'), { maxLength: 40 }).map((parts) => {
    let s = '';
    for (const p of parts) if (Buffer.byteLength(s + p) <= bytes) s += p;
    return s + 'a'.repeat(bytes - Buffer.byteLength(s));
  });

const injections = fc.constantFrom(
  '\r\nflush_all',
  '\r\nmn\r\n',
  '\nmn',
  ' N30',
  ' I',
  ' q',
  ' O1',
  ' T1',
  ' b',
  ' k',
  ' 5\r\nhello',
  '\r',
  ' ',
);

const stringKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: anyChar, minLength: 0, maxLength: 12 }) },
  { weight: 3, arbitrary: fc.string({ unit: keyChar, minLength: 1, maxLength: 16 }) },
  { weight: 2, arbitrary: fc.string({ unit: keyChar, minLength: 60, maxLength: 140 }) },
  { weight: 2, arbitrary: fc.constantFrom(185, 186, 187, 249, 250, 251).chain(atByteLength) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ unit: keyChar, minLength: 1, maxLength: 8 }), injections)
      .map(([k, tail]) => k + tail),
  },
);

const anyKey: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: stringKey },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, 42, {}, [], true, 7n) },
);

/** Numbers and not-numbers: in and out of every range the client checks. */
const anyNumber: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 2 ** 31 + 10 }) },
  { weight: 2, arbitrary: fc.integer() },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      0,
      1,
      -1,
      -0,
      1.5,
      NaN,
      Infinity,
      -Infinity,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 53,
      2 ** 53 + 2,
      2 ** 64,
      Number.MAX_SAFE_INTEGER,
    ),
  },
  { weight: 1, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.bigInt({ min: -(2n ** 66n), max: 2n ** 66n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, 2n ** 64n - 1n, 2n ** 64n, -1n) },
  { weight: 1, arbitrary: fc.constantFrom('1', '1 q', '5\r\nflush_all', ' 1', '') },
  { weight: 1, arbitrary: fc.constantFrom(null, {}, [], true) },
);
/**
 * Per-call timeouts: wrong ones, and valid ones long enough for the scripted server to answer (a
 * short valid timeout may expire, which is a result of the call, not a refusal).
 */
const anyTimeout: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -0, -1, NaN, Infinity, -Infinity, '100', '1 q', null, {}, 1000n, true),
  fc.integer({ max: 0 }),
  fc.double({ max: 0, noNaN: true }),
  fc.integer({ min: 1000, max: 2 ** 31 - 1 }),
  fc.double({ min: 1000, max: 2 ** 31 - 1, noNaN: true }),
);
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(arb, { nil: undefined, freq: 3 });

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: MAX_VALUE + 8 }).map((b) => Buffer.from(b)) },
  { weight: 2, arbitrary: fc.string({ unit: anyChar, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }) },
  { weight: 1, arbitrary: fc.constantFrom('x\r\nset evil 0 0 1\r\nZ\r\n', 'EN\r\n', 'MN\r\n', '') },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, 5, {}, true) },
);

// ---- operations: the call, the model's verdict and the exact wire expectation --------------------

interface Expect {
  /** The model says the call must be refused before I/O. */
  refused: boolean;
  /** When only the key breaks a rule, the code must be ERR_INVALID_KEY (and so on). */
  code?: string;
  /** The request lines the call must produce, as tokens; `key` marks where the key goes. */
  lines?: { command: string; datalen?: number; flags: string[]; data?: Buffer; key: unknown }[];
  /** Flags whose order on the wire does not matter (compared as a set). */
  unordered?: boolean;
  /** The model cannot tell (meta flags: the command table decides); a refusal is then allowed too. */
  mayRefuse?: boolean;
}

interface Op {
  name: string;
  call: (c: MemcacheClient) => Promise<unknown>;
  expect: (binaryKeys: boolean) => Expect;
}

/** The verdict from the validity of the key, the arguments and the value. */
function verdict(keyValid: boolean, argsValid: boolean, value: 'ok' | 'bad' | 'large' = 'ok'): Expect {
  if (keyValid && argsValid && value === 'ok') return { refused: false };
  const only: string | undefined =
    !keyValid && argsValid && value === 'ok'
      ? 'ERR_INVALID_KEY'
      : keyValid && !argsValid && value === 'ok'
        ? 'ERR_INVALID_ARGUMENT'
        : keyValid && argsValid && value === 'large'
          ? 'ERR_VALUE_TOO_LARGE'
          : keyValid && argsValid && value === 'bad'
            ? 'ERR_INVALID_ARGUMENT'
            : undefined;
  return { refused: true, code: only };
}

function valueState(v: unknown): 'ok' | 'bad' | 'large' {
  const bytes = valueBytes(v);
  if (bytes === undefined) return 'bad';
  return bytes.length > MAX_VALUE ? 'large' : 'ok';
}

/** A number's token as the client writes it (only used where the model found the number valid). */
const tok = (v: unknown): string => (typeof v === 'number' || typeof v === 'bigint' ? v.toString() : '?');
const ttlFlag = (ttl: unknown): string[] => (ttl === undefined || ttl === 0 ? [] : [`T${ttlTok(ttl)}`]);
const fFlag = (f: unknown): string[] => (f === undefined || f === 0 ? [] : [`F${tok(f)}`]);

const ops: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(anyKey, maybe(anyTimeout)).map(([key, timeout]): Op => ({
    name: `get(${show(key)}, { timeout: ${show(timeout)} })`,
    call: (c) => c.get(key as string, timeout === undefined ? undefined : { timeout: timeout as number }),
    expect: (bk) => ({
      ...verdict(keyOk(key, bk), timeoutOk(timeout)),
      lines: [{ command: 'mg', key, flags: ['v', 'f', 'c'] }],
    }),
  })),
  fc.tuple(anyKey, anyValue, maybe(anyNumber), maybe(anyNumber)).map(([key, value, ttl, flags]): Op => ({
    name: `set(${show(key)}, ${show(value)}, { ttl: ${show(ttl)}, flags: ${show(flags)} })`,
    call: (c) => c.set(key as string, value as string, { ttl: ttl as number, flags: flags as number }),
    expect: (bk) => ({
      ...verdict(keyOk(key, bk), optional(ttl, ttlOk) && optional(flags, flagsOk), valueState(value)),
      unordered: true,
      lines: [
        {
          command: 'ms',
          key,
          datalen: valueBytes(value)?.length,
          data: valueBytes(value),
          flags: [...ttlFlag(ttl), ...fFlag(flags)],
        },
      ],
    }),
  })),
  fc.tuple(anyKey, anyValue, anyNumber, maybe(anyNumber)).map(([key, value, cas, ttl]): Op => ({
    name: `cas(${show(key)}, ${show(value)}, ${show(cas)}, { ttl: ${show(ttl)} })`,
    call: (c) => c.cas(key as string, value as string, cas as bigint, { ttl: ttl as number }),
    expect: (bk) => ({
      ...verdict(keyOk(key, bk), casTokenOk(cas) && optional(ttl, ttlOk), valueState(value)),
      unordered: true,
      lines:
        casLines(cas) === undefined
          ? []
          : [
              {
                command: 'ms',
                key,
                datalen: valueBytes(value)?.length,
                data: valueBytes(value),
                flags: [`C${casLines(cas)}`, ...ttlFlag(ttl)],
              },
            ],
    }),
  })),
  fc
    .tuple(anyKey, maybe(anyNumber), maybe(anyNumber), maybe(anyNumber), fc.boolean())
    .map(([key, delta, initial, ttl, down]): Op => ({
      name: `${down ? 'decr' : 'incr'}(${show(key)}, ${show(delta)}, { initial: ${show(initial)}, ttl: ${show(ttl)} })`,
      call: (c) =>
        down
          ? c.decr(key as string, delta as bigint, { initial: initial as bigint, ttl: ttl as number })
          : c.incr(key as string, delta as bigint, { initial: initial as bigint, ttl: ttl as number }),
      expect: (bk) => {
        const argsOk =
          optional(delta, u64Ok) &&
          optional(initial, u64Ok) &&
          (initial === undefined ? ttl === undefined : optional(ttl, ttlOk));
        if (!argsOk) return verdict(keyOk(key, bk), false);
        const d = delta === undefined ? 1n : BigInt(delta as number);
        const flags = [
          ...(initial === undefined ? [] : [`N${ttlTok(ttl ?? 0)}`, `J${BigInt(initial as number)}`]),
          ...(down ? ['MD'] : []),
          ...(d === 1n ? [] : [`D${d}`]),
          'v',
        ];
        return { ...verdict(keyOk(key, bk), true), unordered: true, lines: [{ command: 'ma', key, flags }] };
      },
    })),
  fc.tuple(anyKey, anyNumber, fc.boolean()).map(([key, ttl, gat]): Op => ({
    name: `${gat ? 'gat' : 'touch'}(${show(key)}, ${show(ttl)})`,
    call: (c) => (gat ? c.gat(key as string, ttl as number) : c.touch(key as string, ttl as number)),
    expect: (bk) => ({
      ...verdict(keyOk(key, bk), ttlOk(ttl)),
      lines: [
        { command: 'mg', key, flags: gat ? [`T${ttlTok(ttl)}`, 'v', 'f', 'c'] : [`T${ttlTok(ttl)}`, 'c'] },
      ],
    }),
  })),
  fc.tuple(anyKey, maybe(anyNumber)).map(([key, staleTtl]): Op => ({
    name: `delete/invalidate(${show(key)}, { staleTtl: ${show(staleTtl)} })`,
    call: (c) =>
      staleTtl === undefined
        ? c.delete(key as string)
        : c.invalidate(key as string, { staleTtl: staleTtl as number }),
    // staleTtl: null means the default (the client reads it with `??`).
    expect: (bk) => ({
      ...verdict(keyOk(key, bk), staleTtl === null || optional(staleTtl, ttlOk)),
      lines: [
        {
          command: 'md',
          key,
          flags: staleTtl === undefined ? [] : ['I', `T${ttlTok(staleTtl ?? 30)}`],
        },
      ],
    }),
  })),
  fc.array(anyKey, { minLength: 1, maxLength: 4 }).map((keys): Op => ({
    name: `getMulti(${keys.map(show).join(', ')})`,
    call: (c) => c.getMulti(keys as string[]),
    expect: (bk) => {
      const ok = keys.every((k) => keyOk(k, bk));
      const tokens = ok ? keys.map((k) => wireKey(k, bk).token.toString('latin1')) : [];
      const unique = keys.filter((_, i) => ok && tokens.indexOf(tokens[i]) === i);
      return {
        refused: !ok,
        code: ok ? undefined : 'ERR_INVALID_KEY',
        lines: [
          ...unique.map((key, i) => ({ command: 'mg', key, flags: ['v', 'f', 'c', 'q', `O${i}`] })),
          { command: 'mn', key: undefined, flags: [] },
        ],
      };
    },
  })),
  fc
    .tuple(
      anyKey,
      fc.record(
        {
          T: anyNumber,
          F: anyNumber,
          O: fc.oneof(anyNumber, fc.string({ unit: anyChar, maxLength: 34 })),
          v: fc.boolean(),
        },
        { requiredKeys: [] },
      ),
      fc.constantFrom('mg', 'md', 'ma'),
    )
    .map(([key, flags, command]): Op => ({
      name: `meta(${command} ${show(key)} ${show(flags)})`,
      call: (c) =>
        c.meta({ command, key: key as string, flags: flags as Record<string, string | number | boolean> }),
      // The flag table decides which of these the command takes; the wire check below still holds.
      expect: (bk) => {
        const ok = keyOk(key, bk);
        return { refused: !ok, mayRefuse: true, code: ok ? 'ERR_INVALID_ARGUMENT' : undefined };
      },
    })),
);

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (typeof v === 'string') return JSON.stringify(v.length > 30 ? v.slice(0, 30) + '…' : v);
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (v === undefined) return 'undefined';
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? typeof v;
}

// ---- the wire ------------------------------------------------------------------------------------

/** Splits raw request bytes into requests: a line, and for `ms` its data block by declared length. */
function parseRequests(wire: Buffer): { tokens: Buffer[]; data?: Buffer }[] {
  const out: { tokens: Buffer[]; data?: Buffer }[] = [];
  let pos = 0;
  while (pos < wire.length) {
    const nl = wire.indexOf('\r\n', pos);
    if (nl === -1)
      throw new Error(`request bytes do not end with CRLF: ${JSON.stringify(wire.toString('latin1'))}`);
    const line = wire.subarray(pos, nl);
    const tokens: Buffer[] = [];
    for (let i = 0; i <= line.length;) {
      const sp = line.indexOf(0x20, i);
      const end = sp === -1 ? line.length : sp;
      tokens.push(line.subarray(i, end));
      i = end + 1;
      if (sp === -1) break;
    }
    pos = nl + 2;
    if (tokens[0].toString() === 'ms') {
      const len = Number(tokens[2].toString());
      out.push({ tokens, data: wire.subarray(pos, pos + len) });
      expect(wire.subarray(pos + len, pos + len + 2).toString(), 'data block end').to.equal('\r\n');
      pos += len + 2;
    } else out.push({ tokens });
  }
  return out;
}

/** Checks that `wire` is exactly the expected requests (key bytes, numbers, data), nothing more. */
function checkWire(wire: Buffer, e: Expect, binaryKeys: boolean, name: string): void {
  const requests = parseRequests(wire);
  if (e.lines === undefined) {
    // No exact expectation (meta): one request, command + key + flag tokens that are one token each.
    expect(requests, name).to.have.length(1);
    for (const t of requests[0].tokens.slice(2)) {
      expect(
        /^[A-Za-z][\x21-\x7e]*$/.test(t.toString('latin1')),
        `${name}: token ${t.toString('latin1')}`,
      ).to.equal(true);
    }
    return;
  }
  expect(requests.length, `${name}: number of requests`).to.equal(e.lines.length);
  e.lines.forEach((line, i) => {
    const got = requests[i];
    const words = got.tokens.map((t) => t.toString('latin1'));
    expect(words[0], name).to.equal(line.command);
    let rest = words.slice(1);
    if (line.key !== undefined) {
      const wk = wireKey(line.key, binaryKeys);
      expect(got.tokens[1].equals(wk.token), `${name}: key token`).to.equal(true);
      rest = rest.slice(1);
      if (line.datalen !== undefined) {
        expect(rest[0], `${name}: datalen`).to.equal(String(line.datalen));
        rest = rest.slice(1);
      }
      if (wk.b) {
        expect(rest[0], `${name}: b after the key`).to.equal('b');
        rest = rest.slice(1);
      }
    }
    // The client adds an opaque from its connection's cycle to every meta request but mn and me,
    // and to a batch item its key (k) too: compared without them, after checking there is one.
    const own = (w: string): boolean => /^O(0|[1-9]\d*)$/.test(w) || (w === 'k' && rest.includes('q'));
    if (line.command !== 'mn' && line.command !== 'me') {
      expect(
        rest.filter((w) => w.startsWith('O')),
        `${name}: one opaque`,
      ).to.have.length(1);
    }
    const flags = line.flags.filter((w) => !own(w));
    rest = rest.filter((w) => !own(w));
    if (e.unordered) expect(new Set(rest), name).to.deep.equal(new Set(flags));
    else expect(rest, name).to.deep.equal(flags);
    if (line.data !== undefined) expect(got.data?.equals(line.data), `${name}: data`).to.equal(true);
  });
}

/** Answers every request the way memcached answers a miss or a success, echoing opaques. */
function answer(line: string): string | undefined {
  const words = line.split(' ');
  const flags = words.slice(2); // after the command and the key
  const o = flags.find((w) => w.startsWith('O'));
  const echo = o === undefined ? '' : ` ${o}`;
  if (flags.includes('q')) return undefined; // quiet: a miss or a success says nothing
  switch (words[0]) {
    case 'version':
      return 'VERSION 1.6.18';
    case 'mn':
      return 'MN';
    case 'mg':
      return 'EN' + echo;
    case 'ms':
      return 'HD' + echo;
    case 'md':
    case 'ma':
      return 'NF' + echo;
    default:
      return 'ERROR';
  }
}

describe('security: injection-proof keys and arguments (property tests)', function () {
  this.timeout(120_000);

  describe('against a scripted server that records every byte', () => {
    let server: ScriptedServer;
    let wire: Buffer[] = [];
    let clock: sinon.SinonFakeTimers;

    before(async () => {
      clock = sinon.useFakeTimers({ now: NOW_S * 1000, toFake: ['Date'] });
      server = await startScriptedServer((conn) => {
        conn.socket.on('data', (chunk: Buffer) => wire.push(chunk));
        conn.onRequest((req) => {
          const reply = answer(req.line);
          if (reply !== undefined) conn.write(reply + '\r\n');
        });
      });
    });

    after(async () => {
      clock.restore();
      await server.close();
    });

    for (const binaryKeys of [false, true]) {
      it(`refuses exactly what breaks a rule, before any byte; the rest is its own request only (binaryKeys: ${binaryKeys})`, async () => {
        const client = new MemcacheClient({
          servers: [server.address],
          binaryKeys,
          maxValueSize: MAX_VALUE,
          timeout: 2000,
        });
        try {
          await client.version(); // connected: from here on, bytes on the wire are the calls'
          await fuzz(
            `keys and arguments, scripted server, binaryKeys ${binaryKeys}`,
            fc.asyncProperty(ops, async (op) => {
              wire = [];
              const e = op.expect(binaryKeys);
              let promise: Promise<unknown> | undefined;
              expect(() => (promise = op.call(client)), op.name).to.not.throw();
              const outcome = await promise!.then(
                () => undefined,
                (err: unknown) => err,
              );
              if (outcome !== undefined) {
                expect(outcome, op.name).to.be.instanceOf(MemlineError);
                const err = outcome as MemlineError;
                expect(VALIDATION.has(err.code), `${op.name}: ${err.code} ${err.message}`).to.equal(true);
                const allowed = e.refused || e.mayRefuse === true;
                expect(allowed, `${op.name} was refused (${err.message}) but the model accepts it`).to.equal(
                  true,
                );
                if (e.code !== undefined) expect(err.code, `${op.name}: ${err.message}`).to.equal(e.code);
                expect(err.mayHaveExecuted).to.equal(false);
                // Not one byte: a sentinel request is all that follows.
                await client.version();
                expect(Buffer.concat(wire).toString('latin1'), op.name).to.equal('version\r\n');
                return;
              }
              expect(e.refused, `${op.name} was accepted but the model refuses it`).to.equal(false);
              checkWire(Buffer.concat(wire), e, binaryKeys, op.name);
            }),
            { share: 1.5 },
          );
        } finally {
          client.destroy();
        }
      });
    }
  });

  describe('against real memcached: accepted keys and values round-trip exactly', () => {
    let mc: MemcachedProcess;
    let text: MemcacheClient;
    let binary: MemcacheClient;

    before(async () => {
      mc = await startMemcached();
      text = new MemcacheClient({ servers: [mc.address], maxValueSize: 4096 });
      binary = new MemcacheClient({ servers: [mc.address], maxValueSize: 4096, binaryKeys: true });
    });

    after(async () => {
      text?.destroy();
      binary?.destroy();
      await mc?.stop();
    });

    const value = fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b));
    /** TTLs that keep the item for the test: none, up to 30 days, or longer (sent as a Unix time). */
    const ttl = fc.oneof(
      fc.constant(0),
      fc.integer({ min: 60, max: 2_592_000 }),
      fc.integer({ min: 2_592_001, max: 10 ** 8 }),
    );
    const flags = fc.nat({ max: 2 ** 32 - 1 });

    it('text keys: any valid key (UTF-8 byte count ≤ 250) with any value, TTL and flags', async () => {
      const validKey = fc
        .oneof(stringKey, fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }))
        .filter(textKeyOk);
      await fuzz(
        'text keys round-trip on memcached',
        fc.asyncProperty(validKey, value, ttl, flags, async (key, v, t, f) => {
          await text.set(key, v, { ttl: t, flags: f });
          const item = await text.get(key);
          expect(item?.value.equals(v), `value of ${show(key)}`).to.equal(true);
          expect(item?.flags).to.equal(f);
          expect(item?.key).to.equal(key);
          const many = await text.getMulti([key]);
          expect(many.get(key)?.value.equals(v)).to.equal(true);
          // A CAS token that is not the item's never overwrites it; the item's own does.
          expect(await text.cas(key, 'other', item!.cas + 1n)).to.equal(false);
          expect(await text.cas(key, 'other', item!.cas)).to.equal(true);
          expect((await text.get(key))?.value.toString()).to.equal('other');
          expect(await text.delete(key)).to.equal(true);
        }),
        { share: 1.5 },
      );
    });

    it('counters: any u64 initial and delta, incr wraps at 2^64, decr stops at 0', async () => {
      const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
      const asciiKey = fc.string({
        unit: fc.constantFrom('a', 'k', '0', '~', '!', ':'),
        minLength: 1,
        maxLength: 40,
      });
      // memcached 1.6.18 refuses arithmetic on a stored counter of 2^63 or more now and then: its
      // safe_strtoull looks for a '-' with strchr, past the value's CRLF into whatever an earlier
      // item left in the memory chunk, and answers "CLIENT_ERROR cannot increment or decrement
      // non-numeric value" when it finds one (reproduced with a raw socket: 300 of 300 counters at
      // 1.2e19 in chunks that held '-' bytes, 0 of 300 at 1.2e18; about 1 run in 2,000 of this
      // property on a busy server). A server bug, not ours, so the stored operand of each
      // arithmetic step is kept below 2^63; results, deltas and initial values still span the u64
      // range, and incr still wraps at 2^64 (a large delta carries past it).
      const below63 = (n: bigint): bigint => n % 2n ** 63n;
      await fuzz(
        'counters round-trip on memcached',
        fc.asyncProperty(asciiKey, u64, u64, u64, async (key, initial, up, down) => {
          await text.delete(key);
          expect(await text.incr(key, up, { initial })).to.equal(initial);
          expect((await text.get(key))?.value.toString()).to.equal(String(initial));
          const base = below63(initial);
          await text.set(key, String(base));
          const afterUp = (base + up) % 2n ** 64n;
          expect(await text.incr(key, up)).to.equal(afterUp);
          const low = below63(afterUp);
          await text.set(key, String(low));
          expect(await text.decr(key, down)).to.equal(low > down ? low - down : 0n);
        }),
        { share: 0.5 },
      );
    });

    it('byte keys and binaryKeys: any well-formed string or bytes up to 186 bytes round-trips', async () => {
      const binaryKey = fc
        .oneof(
          fc.string({ unit: anyChar, minLength: 1, maxLength: 60 }),
          fc.constantFrom(185, 186).chain(atByteLength),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 46 }),
        )
        .filter((k) => wellFormed(k) && Buffer.byteLength(k) <= 186);
      const bytes = fc.uint8Array({ minLength: 1, maxLength: 186 });
      await fuzz(
        'binary keys round-trip on memcached',
        fc.asyncProperty(binaryKey, bytes, value, flags, async (key, raw, v, f) => {
          await binary.set(key, v, { flags: f });
          const item = await binary.get(key);
          expect(item?.value.equals(v), `value of ${show(key)}`).to.equal(true);
          expect(item?.flags).to.equal(f);
          expect(item?.key).to.equal(key);
          expect((await binary.getMulti([key])).get(key)?.value.equals(v)).to.equal(true);
          // The same bytes as a text key name the same item (the server stores the decoded key).
          if (textKeyOk(key)) expect((await text.get(key))?.value.equals(v)).to.equal(true);
          // A Uint8Array key goes base64 with any client.
          await text.set(raw, v);
          expect((await binary.get(raw))?.value.equals(v)).to.equal(true);
          const b64 = Buffer.from(raw).toString('base64');
          expect((await text.getMulti([raw])).get(b64)?.value.equals(v)).to.equal(true);
        }),
        { share: 1 },
      );
    });

    it('the UTF-8 byte count decides: 250 bytes of multi-byte characters work, 251 do not', async () => {
      for (const key of ['я'.repeat(125), '€'.repeat(83) + 'a', '😀'.repeat(62) + 'ab', 'k'.repeat(250)]) {
        expect(Buffer.byteLength(key)).to.equal(250);
        await text.set(key, key);
        expect((await text.get(key))?.value.toString()).to.equal(key);
      }
      for (const key of ['я'.repeat(126), '€'.repeat(83) + 'ab', '😀'.repeat(63), 'k'.repeat(251)]) {
        const err = (await text.get(key).catch((e: unknown) => e)) as MemlineError;
        expect(err.code, show(key)).to.equal('ERR_INVALID_KEY');
      }
      const long = 'я'.repeat(93); // 186 bytes: the longest binary key
      await binary.set(long, 'ok');
      expect((await binary.get(long))?.value.toString()).to.equal('ok');
      const err = (await binary.get(long + 'a').catch((e: unknown) => e)) as MemlineError;
      expect(err.code).to.equal('ERR_INVALID_KEY');
    });
  });
});

describe('security: durations beyond what a Node timer can wait', () => {
  // setTimeout fires after 1 ms (with a TimeoutOverflowWarning) when asked for more than 2^31-1 ms:
  // a deadline that far away would re-arm a timer every millisecond until the reply came.
  const durations = [
    'timeout',
    'connectTimeout',
    'idleTimeout',
    'silentTimeout',
    'maxConnectionAge',
    'keepAlive',
    'reconnectBase',
    'reconnectCap',
  ];

  it('the constructor refuses a duration over 2^31-1 ms, naming the option; 2^31-1 itself is fine', () => {
    const refuse = (options: object, name: string): void => {
      let err: unknown;
      try {
        new MemcacheClient({ servers: ['127.0.0.1:1'], ...options });
      } catch (e) {
        err = e;
      }
      expect((err as MemlineError | undefined)?.code, name).to.equal('ERR_INVALID_ARGUMENT');
      expect((err as MemlineError).message).to.contain(name);
    };
    for (const name of durations) {
      refuse({ [name]: 2 ** 31 }, name);
      new MemcacheClient({ servers: ['127.0.0.1:1'], [name]: 2 ** 31 - 1 }).destroy();
    }
    refuse({ breaker: { openTime: 2 ** 31 } }, 'openTime');
    refuse({ breaker: { maxOpenTime: 2 ** 31 } }, 'maxOpenTime');
  });

  it('a per-call timeout over 2^31-1 ms is refused before any I/O', async () => {
    const server = await startScriptedServer((conn) => conn.onRequest(() => conn.write('EN\r\n')));
    const client = new MemcacheClient({ servers: [server.address] });
    try {
      const err = (await client.get('k', { timeout: 2 ** 31 }).catch((e: unknown) => e)) as MemlineError;
      expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
      expect(server.received().length).to.equal(0);
    } finally {
      client.destroy();
      await server.close();
    }
  });
});
