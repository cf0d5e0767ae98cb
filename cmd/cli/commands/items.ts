/**
 * Commands on one key: get, set, delete, incr, decr, touch.
 */
import { integer, unsigned64 } from '../argv.js';
import type { Command } from '../command.js';
import { Exit, table, type ExitCode, type Output } from '../output.js';

const TTL_MAX = 2 ** 31 - 1;
const TTL_HELP = 'seconds to live; 0 never expires, over 30 days a Unix time';

export const get: Command = {
  name: 'get',
  synopsis: '<key>',
  summary: 'print the value of a key',
  description: `Writes the value to stdout as stored (a newline is added when stdout is a terminal).
With --meta, prints the item's size, client flags, CAS and remaining TTL as well, read with a
low-level \`mg <key> v t f c s\`. With --json, a value that is not UTF-8 comes as valueBase64.`,
  options: { meta: { type: 'boolean', description: 'show size, client flags, CAS and TTL too' } },
  arity: { min: 1, max: 1 },
  async run({ client, args: [key], flags, out }) {
    if (flags.meta === true) {
      const r = await client.meta({
        command: 'mg',
        key,
        flags: { v: true, t: true, f: true, c: true, s: true },
      });
      if (r.status !== 'VA' || r.value === undefined) return notFound(out, key);
      const { f = 0, c = 0n, t, s = r.value.length } = r.flags;
      const data = { key, found: true, size: s, flags: f, cas: c, ttl: t ?? null, ...valueJson(r.value) };
      out.result(data, () =>
        table(
          ['key', key],
          [
            ['size', `${s} B`],
            ['flags', String(f)],
            ['cas', String(c)],
            ['ttl', t === undefined || t === -1 ? 'never expires' : t === -2 ? 'expired' : `${t} s`],
            ['value', preview(r.value!)],
          ],
        ),
      );
      return Exit.OK;
    }
    const item = await client.get(key);
    if (item === null) return notFound(out, key);
    if (out.json) {
      out.result({ key, found: true, flags: item.flags, cas: item.cas, ...valueJson(item.value) }, () => '');
    } else {
      out.raw(item.value);
      if (out.stdout.isTTY === true && item.value.at(-1) !== 0x0a) out.raw('\n');
    }
    return Exit.OK;
  },
};

export const set: Command = {
  name: 'set',
  writes: true,
  synopsis: '<key> <value|->',
  summary: 'store a value (- reads it from stdin)',
  description: `Stores <value> under <key>, replacing what is there. With - as the value, stores the bytes
read from stdin, unchanged (no newline is stripped).`,
  options: {
    ttl: { type: 'string', arg: 's', description: `${TTL_HELP} (default 0)` },
    flags: { type: 'string', arg: 'n', description: 'client flags stored with the item, a u32 (default 0)' },
  },
  arity: { min: 2, max: 2 },
  async run({ client, args: [key, text], flags, out, stdin }) {
    const value = text === '-' ? await stdin() : Buffer.from(text, 'utf8');
    const ttl = flags.ttl === undefined ? 0 : integer('--ttl', flags.ttl as string, 0, TTL_MAX);
    const clientFlags =
      flags.flags === undefined ? 0 : integer('--flags', flags.flags as string, 0, 2 ** 32 - 1);
    await client.set(key, value, { ttl, flags: clientFlags });
    out.result({ key, stored: true, bytes: value.length, ttl, flags: clientFlags }, () => {
      const extra = [ttl === 0 ? '' : `, ttl ${ttl} s`, clientFlags === 0 ? '' : `, flags ${clientFlags}`];
      return `stored ${key} (${value.length} bytes${extra.join('')})`;
    });
    return Exit.OK;
  },
};

export const del: Command = {
  name: 'delete',
  writes: true,
  synopsis: '<key>',
  summary: 'delete a key',
  description: 'Deletes <key>. Exit status 1 when it was not there.',
  options: {},
  arity: { min: 1, max: 1 },
  async run({ client, args: [key], out }) {
    if (!(await client.delete(key))) return notFound(out, key);
    out.result({ key, deleted: true }, () => `deleted ${key}`);
    return Exit.OK;
  },
};

export const touch: Command = {
  name: 'touch',
  writes: true,
  synopsis: '<key> <ttl>',
  summary: "set a key's time to live",
  description: `Gives <key> a new TTL in seconds (${TTL_HELP}) without reading its value.`,
  options: {},
  arity: { min: 2, max: 2 },
  async run({ client, args: [key, text], out }) {
    const ttl = integer('<ttl>', text, 0, TTL_MAX);
    if (!(await client.touch(key, ttl))) return notFound(out, key);
    out.result(
      { key, touched: true, ttl },
      () => `touched ${key} (ttl ${ttl === 0 ? 'never expires' : `${ttl} s`})`,
    );
    return Exit.OK;
  },
};

export const incr = counter('incr');
export const decr = counter('decr');

function counter(name: 'incr' | 'decr'): Command {
  return {
    name,
    writes: true,
    synopsis: '<key> [delta]',
    summary: `${name === 'incr' ? 'increment' : 'decrement'} a counter`,
    description: `${name === 'incr' ? 'Adds [delta] (default 1) to' : 'Subtracts [delta] (default 1) from'} the decimal number stored under <key> and
prints the result (${name === 'incr' ? 'wrapping at 2^64' : 'stopping at 0'}). A missing key is an exit status 1, unless --initial is
given: then <key> is created with that value, which is printed (the delta is not applied). A value that
is not a decimal number is exit status 2 (ERR_NOT_NUMERIC). With --json the value is a decimal string
(counters go past 2^53).`,
    options: {
      initial: { type: 'string', arg: 'n', description: 'create a missing key with this value' },
      ttl: { type: 'string', arg: 's', description: 'TTL of the key created from --initial (default 0)' },
    },
    arity: { min: 1, max: 2 },
    async run({ client, args: [key, deltaText], flags, out }) {
      const delta = deltaText === undefined ? 1n : unsigned64('[delta]', deltaText);
      const options = {
        initial: flags.initial === undefined ? undefined : unsigned64('--initial', flags.initial as string),
        ttl: flags.ttl === undefined ? undefined : integer('--ttl', flags.ttl as string, 0, TTL_MAX),
      };
      const value = await client[name](key, delta, options);
      if (value === null) return notFound(out, key);
      out.result({ key, value }, () => value.toString());
      return Exit.OK;
    },
  };
}

function notFound(out: Output, key: string): ExitCode {
  if (out.json) out.result({ key, found: false }, () => '');
  else out.note(`${key}: not found`);
  return Exit.NOT_FOUND;
}

/** `{ value }` when the bytes are UTF-8, else `{ valueBase64 }`. */
function valueJson(bytes: Buffer): { value: string } | { valueBase64: string } {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes)
    ? { value: text }
    : { valueBase64: bytes.toString('base64') };
}

/** The value as text for a table: UTF-8 without control characters, cut at 200 characters. */
function preview(bytes: Buffer): string {
  const v = valueJson(bytes);
  // eslint-disable-next-line no-control-regex
  if (!('value' in v) || /[\x00-\x1f\x7f]/.test(v.value)) return `(${bytes.length} bytes, not printable)`;
  return v.value.length > 200 ? `${v.value.slice(0, 200)}…` : v.value;
}
