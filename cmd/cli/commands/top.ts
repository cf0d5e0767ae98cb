/**
 * `top`: a live view of every server's stats, redrawn in place on a terminal.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MemlineError } from '../../../protocols/memcached-meta/index.js';
import { integer } from '../argv.js';
import type { Command } from '../command.js';
import { Exit, formatBytes, formatRate, table } from '../output.js';
import { askEach, only } from '../per-server.js';

/** Cursor home, then clear the screen. */
const CLEAR = '\x1b[H\x1b[2J';

interface Sample {
  /** performance.now() when the stats were asked for. */
  at: number;
  stats: Record<string, string>;
}

/** One server's line of a frame. */
export interface TopRow {
  server: string;
  getsPerSec: number | null;
  setsPerSec: number | null;
  /** Hits / (hits + misses) over the interval; null without gets. */
  hitRatio: number | null;
  currConnections: number | null;
  currItems: number | null;
  bytes: number | null;
  limitMaxbytes: number | null;
  evictions: number | null;
  uptime: number | null;
  error: { code: string; message: string } | null;
}

export const top: Command = {
  name: 'top',
  synopsis: '',
  summary: 'a live view of per-server stats',
  description: `Polls every server's stats each --interval and shows get and set rates, the hit ratio,
connections, items, memory used and evictions. The first frame has rates since each server started; the
next ones, over the last interval. On a terminal the view is redrawn in place; otherwise (or with --json,
one JSON document per line) each frame is printed after the last. Stops on Ctrl-C or after --iterations
frames; exit status 3 if a server was failing in the last frame.`,
  options: {
    interval: { type: 'string', arg: 'ms', description: 'time between two frames (default 1000)' },
    iterations: { type: 'string', arg: 'n', description: 'stop after n frames (default: until Ctrl-C)' },
  },
  arity: { min: 0, max: 0 },
  interruptible: true,
  async run({ client, global, flags, out, signal }) {
    const interval =
      flags.interval === undefined ? 1000 : integer('--interval', flags.interval as string, 10, 3_600_000);
    const iterations =
      flags.iterations === undefined ? Infinity : integer('--iterations', flags.iterations as string, 1, 1e9);
    const redraw = !out.json && out.stdout.isTTY === true;
    let previous = new Map<string, Sample>();
    let errors = new Map<string, MemlineError>();
    for (let frame = 0; frame < iterations && !signal.aborted; frame++) {
      const at = performance.now();
      const polled = await askEach(client, global.servers, async (o) =>
        only(await client.stats(undefined, o)),
      );
      errors = polled.errors;
      const current = new Map([...polled.results].map(([s, stats]) => [s, { at, stats }]));
      const rows = global.servers.map((s) => topRow(s, current.get(s), previous.get(s), errors.get(s)));
      const head = `memline top · ${global.servers.length} server${global.servers.length === 1 ? '' : 's'} · every ${interval} ms · ${new Date().toTimeString().slice(0, 8)}`;
      const since = frame === 0 ? 'rates since each server started' : `rates over the last ${interval} ms`;
      out.result(
        {
          time: new Date().toISOString(),
          frame: frame + 1,
          intervalMs: frame === 0 ? null : interval,
          servers: rows,
        },
        () => `${redraw ? CLEAR : frame === 0 ? '' : '\n'}${head}\n${since}\n\n${renderRows(rows)}`,
      );
      previous = current;
      if (frame + 1 < iterations) {
        const wait = Math.max(0, interval - (performance.now() - at));
        await sleep(wait, undefined, { signal }).catch(() => undefined);
      }
    }
    for (const [server, err] of errors) out.error(err.code, err.message, server);
    return errors.size === 0 ? Exit.OK : Exit.ERROR;
  },
};

/** A server's row, from its sample now and the one before (rates since its start when there is none,
 * or when the server restarted in between). */
export function topRow(
  server: string,
  now: Sample | undefined,
  before: Sample | undefined,
  error: MemlineError | undefined,
): TopRow {
  if (now === undefined) {
    return {
      server,
      getsPerSec: null,
      setsPerSec: null,
      hitRatio: null,
      currConnections: null,
      currItems: null,
      bytes: null,
      limitMaxbytes: null,
      evictions: null,
      uptime: null,
      error: { code: error?.code ?? 'ERR_CONNECTION', message: error?.message ?? 'no answer' },
    };
  }
  const n = (s: Sample, name: string) => Number(s.stats[name] ?? 0);
  const same =
    before !== undefined && before.stats.pid === now.stats.pid && n(now, 'uptime') >= n(before, 'uptime');
  const seconds = same ? (now.at - before.at) / 1000 : Math.max(1, n(now, 'uptime'));
  const delta = (name: string) => n(now, name) - (same ? n(before, name) : 0);
  const hits = delta('get_hits');
  const lookups = hits + delta('get_misses');
  return {
    server,
    getsPerSec: delta('cmd_get') / seconds,
    setsPerSec: delta('cmd_set') / seconds,
    hitRatio: lookups === 0 ? null : hits / lookups,
    currConnections: n(now, 'curr_connections'),
    currItems: n(now, 'curr_items'),
    bytes: n(now, 'bytes'),
    limitMaxbytes: n(now, 'limit_maxbytes'),
    evictions: n(now, 'evictions'),
    uptime: n(now, 'uptime'),
    error: null,
  };
}

function renderRows(rows: TopRow[]): string {
  const dash = (v: number | null, f: (v: number) => string) => (v === null ? '–' : f(v));
  return table(
    ['server', 'get/s', 'set/s', 'hit%', 'conns', 'items', 'bytes', 'mem%', 'evictions', 'uptime', 'status'],
    rows.map((r) => [
      r.server,
      dash(r.getsPerSec, formatRate),
      dash(r.setsPerSec, formatRate),
      dash(r.hitRatio, (h) => `${(h * 100).toFixed(1)}%`),
      dash(r.currConnections, String),
      dash(r.currItems, String),
      dash(r.bytes, formatBytes),
      r.bytes === null || !r.limitMaxbytes ? '–' : `${((r.bytes / r.limitMaxbytes) * 100).toFixed(1)}%`,
      dash(r.evictions, String),
      dash(r.uptime, formatUptime),
      r.error?.code ?? 'ok',
    ]),
  );
}

/** `93784` → `1d 2h`; `3725` → `1h 2m`; `65` → `1m 5s`. */
function formatUptime(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}
