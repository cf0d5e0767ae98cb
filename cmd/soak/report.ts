/**
 * What the soak prints: event lines, a progress line every second (redrawn in place on a TTY), and
 * the summary, as text or as JSON.
 */
import type { RecordableHistogram } from 'node:perf_hooks';
import type { ClientMetrics } from '../../protocols/memcached-meta/index.js';
import type { EventLog } from './events.js';
import type { FaultEvent } from './faults.js';
import type { SoakOptions } from './options.js';
import { OP_KINDS, type SoakStats } from './stats.js';

/** Everything the summary reports. */
export interface SoakResult {
  options: SoakOptions;
  seconds: number;
  /** The signal that ended the run early, if one did. */
  interrupted: string | undefined;
  stats: SoakStats;
  faults: readonly FaultEvent[];
  /** `client.metrics.total` once the load stopped, before `close()`. */
  metrics: ClientMetrics['total'];
  /** `client.metrics.total` after `close()`. */
  afterClose: ClientMetrics['total'];
  heapUsed: { start: number; end: number };
  /** Calls that had not settled when the soak gave up waiting. */
  hung: { kind: string; ageMs: number }[];
  /** Why the soak fails; empty when it passes. */
  failures: string[];
}

/** Event lines and a progress line on one stream; on a TTY the progress line is redrawn in place. */
export class Output {
  #stream: NodeJS.WriteStream;
  #tty: boolean;
  #progressShown = false;
  #started = Date.now();

  constructor(
    stream: NodeJS.WriteStream,
    readonly events?: EventLog,
  ) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
  }

  /** Seconds since the output was created (the soak's clock). */
  elapsed(): number {
    return (Date.now() - this.#started) / 1000;
  }

  /** Prints an event line, and logs it with `fields` to the event log, if there is one. */
  log(line: string, fields: object = {}): void {
    this.#clearProgress();
    const elapsed = this.elapsed();
    this.#stream.write(`${elapsed.toFixed(1).padStart(6)}s  ${line}\n`);
    this.events?.info({ elapsed, ...fields }, line);
  }

  /** Prints without a time stamp (the summary). */
  print(text: string): void {
    this.#clearProgress();
    this.#stream.write(`${text}\n`);
  }

  progress(line: string): void {
    const stamped = `${this.elapsed().toFixed(1).padStart(6)}s  ${line}`;
    if (!this.#tty) {
      this.#stream.write(`${stamped}\n`);
      return;
    }
    const width = this.#stream.columns ?? 120;
    this.#stream.write(
      `\r\x1b[2K${stamped.length > width - 1 ? stamped.slice(0, width - 2) + '…' : stamped}`,
    );
    this.#progressShown = true;
  }

  #clearProgress(): void {
    if (this.#progressShown) this.#stream.write('\r\x1b[2K');
    this.#progressShown = false;
  }
}

/** The progress line: throughput over the last interval and what went wrong so far. */
export function progressLine(
  stats: SoakStats,
  opsPerSecond: number,
  fault: string | undefined,
  breakers: string[],
): string {
  const errors = [...stats.errorsByCode()].map(([code, n]) => `${code} ${count(n)}`).join(', ');
  return [
    `${count(Math.round(opsPerSecond))} ops/s`,
    `total ${count(stats.total)}`,
    `desyncs ${stats.desyncs}`,
    `errors ${errors || 'none'}`,
    `fault ${fault ?? 'none'}`,
    ...(breakers.length > 0 ? [`breaker ${breakers.join(', ')}`] : []),
  ].join('  ');
}

export function summaryText(r: SoakResult): string {
  const { stats, options: o } = r;
  const faults = r.faults.filter((f) => f.kind === 'stop').length;
  const lines = [
    '',
    `memline soak: seed ${o.seed}, ${r.seconds.toFixed(1)} s, ${o.servers} servers, concurrency ${o.concurrency}, ` +
      `faults ${o.faults ? `every ${o.faultEvery} s` : 'off'}${r.interrupted ? `, interrupted by ${r.interrupted}` : ''}`,
    '',
    `  operations       ${count(stats.total)} (${count(Math.round(stats.total / r.seconds))} ops/s)`,
    `  values checked   ${count(stats.checked)} (misses ${count(stats.misses)})`,
    `  desyncs          ${stats.desyncs}`,
    `  damaged values   ${stats.corrupt}`,
    `  errors           ${codes(stats.errorsByCode())}`,
    `  in partial       ${codes(stats.partialErrors)}`,
    `  past deadline    ${stats.late} calls settled > ${stats.lateSlackMs} ms after their deadline` +
      (stats.late > 0 ? ` (worst by ${stats.maxOverDeadlineMs.toFixed(0)} ms)` : ''),
    `  faults           ${r.faults.length} (${faults} SIGSTOP, ${r.faults.length - faults} SIGKILL + restart)`,
    '',
    `  latency (ms)  ${['calls', 'errors', 'p50', 'p90', 'p99', 'p99.9', 'max'].map((h) => h.padStart(10)).join('')}`,
  ];
  for (const kind of OP_KINDS) {
    const op = stats.ops[kind];
    const errors = [...op.errors.values()].reduce((a, b) => a + b, 0);
    const cells = [count(op.count), count(errors), ...percentiles(op.latency).map(ms)];
    lines.push(`  ${kind.padEnd(13)}${cells.map((c) => c.padStart(10)).join('')}`);
  }
  lines.push(
    '',
    `  client metrics   ${metricsText(r.metrics)}`,
    `  after close      ${metricsText(r.afterClose)}`,
    `  heap used        ${mb(r.heapUsed.start)} at start, ${mb(r.heapUsed.end)} at end`,
  );
  for (const s of stats.samples) lines.push(`  sample           ${s}`);
  for (const h of r.hung.slice(0, 10))
    lines.push(`  hung             ${h.kind} for ${h.ageMs.toFixed(0)} ms`);
  lines.push('', r.failures.length === 0 ? 'PASS' : `FAIL: ${r.failures.join('; ')}`);
  return lines.join('\n');
}

export function summaryJson(r: SoakResult): string {
  const { stats } = r;
  const perOp = Object.fromEntries(
    OP_KINDS.map((kind) => {
      const op = stats.ops[kind];
      const [p50, p90, p99, p999, max] = percentiles(op.latency).map(jsonMs);
      return [
        kind,
        { calls: op.count, errors: Object.fromEntries(op.errors), latencyMs: { p50, p90, p99, p999, max } },
      ];
    }),
  );
  return JSON.stringify(
    {
      pass: r.failures.length === 0,
      failures: r.failures,
      seed: r.options.seed,
      options: r.options,
      seconds: round(r.seconds),
      interrupted: r.interrupted ?? null,
      ops: { total: stats.total, perSecond: Math.round(stats.total / r.seconds) },
      checked: stats.checked,
      misses: stats.misses,
      desyncs: stats.desyncs,
      corrupt: stats.corrupt,
      errors: Object.fromEntries(stats.errorsByCode()),
      partialErrors: Object.fromEntries(stats.partialErrors),
      pastDeadline: {
        calls: stats.late,
        slackMs: stats.lateSlackMs,
        worstMs: round(stats.maxOverDeadlineMs),
      },
      perOp,
      faults: r.faults,
      metrics: r.metrics,
      afterClose: r.afterClose,
      heapUsed: r.heapUsed,
      samples: stats.samples,
      hung: r.hung,
    },
    null,
    2,
  );
}

/** p50, p90, p99, p99.9 and max in ns (NaN for an empty histogram). */
function percentiles(h: RecordableHistogram): number[] {
  if (h.count === 0) return [NaN, NaN, NaN, NaN, NaN];
  return [h.percentile(50), h.percentile(90), h.percentile(99), h.percentile(99.9), h.max];
}

function ms(ns: number): string {
  if (Number.isNaN(ns)) return '-';
  const v = ns / 1e6;
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

/** Every counter of `metrics.total`, as the client reports them. */
function metricsText(m: SoakResult['metrics']): string {
  return Object.entries(m)
    .map(([name, v]) => `${name} ${typeof v === 'number' ? count(v) : String(v)}`)
    .join(', ');
}

function codes(map: ReadonlyMap<string, number>): string {
  return map.size === 0 ? 'none' : [...map].map(([code, n]) => `${code} ${count(n)}`).join(', ');
}

const count = (n: number): string => n.toLocaleString('en-US');
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const round = (n: number): number => Math.round(n * 1000) / 1000;
const jsonMs = (ns: number): number | null => (Number.isNaN(ns) ? null : round(ns / 1e6));
