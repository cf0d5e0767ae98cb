/**
 * Prometheus metrics for a memline client, with `prom-client` (an optional peer dependency).
 * Import it as `memline/prometheus`.
 *
 * ```ts
 * import { register } from 'prom-client';
 * import { registerPrometheusMetrics } from 'memline/prometheus';
 * registerPrometheusMetrics(client, { registry: register });
 * ```
 *
 * The values are read from `client.metrics` when Prometheus scrapes; nothing runs per request.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BackendStats } from './backend.js';

/** Anything with memline's `metrics` getter (a `MemcacheClient`). */
export interface MetricsSource {
  readonly metrics: { readonly servers: readonly BackendStats[] };
}

/** Where and under which names {@link registerPrometheusMetrics} registers its metrics. */
export interface PrometheusOptions {
  /** Where to register. @default prom-client's global registry */
  registry?: Registry;
  /** Prepended to every metric name. @default 'memline_' */
  prefix?: string;
  /** Labels added to every sample, e.g. `{ client: 'sessions' }` when there are several clients. */
  labels?: Record<string, string>;
}

const GAUGES: [keyof BackendStats, string][] = [
  ['connections', 'Open or opening connections'],
  ['pending', 'Requests queued or in flight'],
  ['inflight', 'Requests written and awaiting their reply'],
];

const COUNTERS: [keyof BackendStats, string][] = [
  ['created', 'Connections opened'],
  ['reconnects', 'Connections opened to replace one that closed'],
  ['errors', 'Requests that failed with an error'],
  ['timeouts', 'Requests whose deadline passed'],
  ['hits', 'Reads that found their key'],
  ['misses', 'Reads that did not find their key'],
  ['errorMisses', 'Reads answered as misses because their server failed (missOnError)'],
];

/** Registers gauges and counters (by `server`) that read `source.metrics` at scrape time. */
export function registerPrometheusMetrics(source: MetricsSource, options: PrometheusOptions = {}): void {
  const prefix = options.prefix ?? 'memline_';
  const extra = options.labels ?? {};
  const labelNames = ['server', ...Object.keys(extra)];
  const registers = options.registry === undefined ? undefined : [options.registry];
  const labels = (s: BackendStats): Record<string, string> => ({ server: s.server, ...extra });

  for (const [field, help] of GAUGES) {
    new Gauge({
      name: `${prefix}${snake(field)}`,
      help,
      labelNames,
      registers,
      collect() {
        for (const s of source.metrics.servers) this.set(labels(s), s[field] as number);
      },
    });
  }
  for (const [field, help] of COUNTERS) {
    new Counter({
      name: `${prefix}${snake(field)}_total`,
      help,
      labelNames,
      registers,
      collect() {
        // The client keeps the running totals; mirror them.
        this.reset();
        for (const s of source.metrics.servers) this.inc(labels(s), s[field] as number);
      },
    });
  }
  new Gauge({
    name: `${prefix}breaker_open`,
    help: 'Circuit breaker: 0 closed, 1 open, 0.5 half-open',
    labelNames,
    registers,
    collect() {
      for (const s of source.metrics.servers) {
        this.set(labels(s), s.breaker === 'open' ? 1 : s.breaker === 'half-open' ? 0.5 : 0);
      }
    },
  });
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
