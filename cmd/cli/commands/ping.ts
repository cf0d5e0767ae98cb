/**
 * `ping`: round-trip latency per server, with percentiles.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemlineError } from '../../../protocols/memcached-meta/index.js';
import { integer, UsageError } from '../argv.js';
import type { Command } from '../command.js';
import { poolLabel } from '../config.js';
import { Exit, formatMs, table } from '../output.js';
import { serverNames } from '../per-server.js';

interface ServerPings {
  server: string;
  /** ms of the first request, which opened the connection (not in the percentiles). */
  first: number | undefined;
  /** ms of each answered request after the first. */
  times: number[];
  errors: number;
  lastError: MemlineError | undefined;
}

export const ping: Command = {
  name: 'ping',
  synopsis: '',
  summary: 'round-trip latency per server',
  description: `Sends --count requests to each server (all servers at once, one request at a time each) and
prints the latency percentiles per server in ms. The first request opens the connection: it is shown as
"connect" and left out of the percentiles. The probe is \`version\`, or with --probe mg a meta get of a
random key that is not there. Exit status 3 if any request failed. Ctrl-C stops early and prints the summary.`,
  options: {
    count: { type: 'string', arg: 'n', description: 'requests per server, after the first (default 10)' },
    interval: { type: 'string', arg: 'ms', description: 'pause between two requests (default 100)' },
    probe: { type: 'string', arg: 'kind', description: 'version (default) or mg' },
  },
  arity: { min: 0, max: 0 },
  interruptible: true,
  async run({ client, global, flags, out, signal }) {
    const count = flags.count === undefined ? 10 : integer('--count', flags.count as string, 1, 1_000_000);
    const interval =
      flags.interval === undefined ? 100 : integer('--interval', flags.interval as string, 0, 3_600_000);
    const probe = (flags.probe as string | undefined) ?? 'version';
    if (probe !== 'version' && probe !== 'mg')
      throw new UsageError(`--probe must be version or mg, not ${probe}`);

    const names = [...serverNames(client, global.servers).values()];
    const missing = `memline-ping:${randomBytes(8).toString('hex')}`;
    const send = (server: string) =>
      probe === 'version'
        ? client.version({ server })
        : client.meta({ command: 'mg', key: missing, flags: {} }, { server });
    const results: ServerPings[] = global.servers.map((server) => ({
      server,
      first: undefined,
      times: [],
      errors: 0,
      lastError: undefined,
    }));
    const once = async (i: number, first: boolean) => {
      const r = results[i];
      const start = performance.now();
      try {
        await send(names[i]);
        const ms = performance.now() - start;
        if (first) r.first = ms;
        else r.times.push(ms);
      } catch (err) {
        if (!(err instanceof MemlineError)) throw err;
        if (!first) r.errors++;
        r.lastError = err;
      }
    };
    await Promise.all(names.map((_, i) => once(i, true)));
    for (let n = 0; n < count && !signal.aborted; n++) {
      await Promise.all(names.map((_, i) => once(i, false)));
      if (n + 1 < count && interval > 0) await sleep(interval, undefined, { signal }).catch(() => undefined);
    }

    const rows = results.map(summarize);
    out.result(
      { probe, servers: rows },
      () =>
        table(
          [
            global.pools === undefined ? 'server' : 'server (pools)',
            'sent',
            'ok',
            'errors',
            'connect',
            'min',
            'p50',
            'p90',
            'p99',
            'max',
            'last error',
          ],
          rows.map((r) => [
            r.server + poolLabel(global, r.server),
            String(r.sent),
            String(r.ok),
            String(r.errors),
            ...[r.connectMs, r.minMs, r.p50Ms, r.p90Ms, r.p99Ms, r.maxMs].map((ms) =>
              ms === null ? '–' : formatMs(ms),
            ),
            r.lastError?.code ?? '',
          ]),
        ) + `\n(latency in ms over the answered requests; probe: ${probe})`,
    );
    for (const r of results) if (r.lastError) out.error(r.lastError.code, r.lastError.message, r.server);
    return results.some((r) => r.errors > 0 || r.first === undefined) ? Exit.ERROR : Exit.OK;
  },
};

function summarize(r: ServerPings) {
  const sorted = [...r.times].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted.length === 0 ? null : sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
  const round = (ms: number | null | undefined) => (ms == null ? null : Math.round(ms * 1000) / 1000);
  return {
    server: r.server,
    sent: r.times.length + r.errors,
    ok: r.times.length,
    errors: r.errors,
    connectMs: round(r.first),
    minMs: round(sorted[0]),
    p50Ms: round(at(50)),
    p90Ms: round(at(90)),
    p99Ms: round(at(99)),
    maxMs: round(sorted.at(-1)),
    lastError: r.lastError === undefined ? null : { code: r.lastError.code, message: r.lastError.message },
  };
}
