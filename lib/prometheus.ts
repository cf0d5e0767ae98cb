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
import { Counter, Gauge, register as globalRegistry, type Registry } from 'prom-client';
import type { BackendStats } from './backend.js';
import { InvalidArgumentError } from './errors.js';
import { metricGroups, snakeCase as snake, type MetricsSource } from './metrics.js';

export type { MetricsSource } from './metrics.js';

/** Where and under which names {@link registerPrometheusMetrics} registers its metrics. */
export interface PrometheusOptions {
  /** Where to register. @default prom-client's global registry */
  registry?: Registry;
  /** Prepended to every metric name. @default 'memline_' */
  prefix?: string;
  /**
   * Labels added to every sample, e.g. `{ client: 'sessions' }` when there are several clients.
   * Clients registered in one registry under one prefix must use the same label names.
   */
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
];

/** One registered client: where its samples come from and the labels they carry. */
interface Registered {
  source: MetricsSource;
  extra: Record<string, string>;
}

/**
 * The metrics memline put in a registry under a prefix, shared by every client registered there:
 * prom-client allows one metric per name, so one set of metrics reads every registered client.
 */
interface MetricSet {
  labelNames: string[];
  sources: Set<Registered>;
  names: string[];
  /** The protocols' own counters registered so far, by counter name. */
  own: Set<string>;
}

const sets = new WeakMap<Registry, Map<string, MetricSet>>();

/**
 * Registers gauges and counters (by `server`, plus `labels`) that read `source.metrics` at scrape
 * time. Several clients can share a registry (with different `labels` values, e.g. `{ client: 'a' }`
 * and `{ client: 'b' }`). Returns a function that unregisters this client; the metrics leave the
 * registry with the last client.
 */
export function registerPrometheusMetrics(
  source: MetricsSource,
  options: PrometheusOptions = {},
): () => void {
  const prefix = options.prefix ?? 'memline_';
  const extra = { ...(options.labels ?? {}) };
  const labelNames = ['server', ...Object.keys(extra)];
  const registry = options.registry ?? globalRegistry;
  let byPrefix = sets.get(registry);
  if (byPrefix === undefined) sets.set(registry, (byPrefix = new Map<string, MetricSet>()));
  let set = byPrefix.get(prefix);
  // The registry may have been cleared behind our back: then start over.
  if (set !== undefined && registry.getSingleMetric(set.names[0]) === undefined) set = undefined;
  if (set !== undefined && set.labelNames.join('\0') !== labelNames.join('\0')) {
    throw new InvalidArgumentError(
      `labels: this registry already has ${prefix} metrics labelled ${set.labelNames.join(', ')}; ` +
        'every client registered there needs the same label names',
    );
  }
  if (set === undefined) {
    set = createMetrics(registry, prefix, labelNames);
    byPrefix.set(prefix, set);
  }
  const entry: Registered = { source, extra };
  set.sources.add(entry);
  for (const name of source.metrics.counters) addOwnCounter(registry, prefix, set, name);
  for (const [group, numbers] of metricGroups(source.metrics)) {
    for (const key of Object.keys(numbers)) addGroupGauge(registry, prefix, set, group, key);
  }
  const owner = set;
  return () => {
    if (!owner.sources.delete(entry) || owner.sources.size > 0) return;
    for (const name of owner.names) registry.removeSingleMetric(name);
    byPrefix.delete(prefix);
  };
}

function createMetrics(registry: Registry, prefix: string, labelNames: string[]): MetricSet {
  const set: MetricSet = { labelNames, sources: new Set(), names: [], own: new Set() };
  const registers = [registry];
  const each = eachServer(set);
  for (const [field, help] of GAUGES) {
    const name = `${prefix}${snake(field)}`;
    set.names.push(name);
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        each((labels, s) => this.set(labels, s[field] as number));
      },
    });
  }
  for (const [field, help] of COUNTERS) {
    const name = `${prefix}${snake(field)}_total`;
    set.names.push(name);
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        // The clients keep the running totals; mirror them.
        this.reset();
        each((labels, s) => this.inc(labels, s[field] as number));
      },
    });
  }
  const breaker = `${prefix}breaker_open`;
  set.names.push(breaker);
  new Gauge({
    name: breaker,
    help: 'Circuit breaker: 0 closed, 1 open, 0.5 half-open',
    labelNames,
    registers,
    collect() {
      this.reset();
      each((labels, s) => this.set(labels, s.breaker === 'open' ? 1 : s.breaker === 'half-open' ? 0.5 : 0));
    },
  });
  return set;
}

/** Calls `fn` with the labels and stats of every server of every client registered in `set`. */
function eachServer(set: MetricSet) {
  return (fn: (labels: Record<string, string>, s: BackendStats) => void): void => {
    for (const { source, extra } of set.sources) {
      for (const s of source.metrics.servers) fn({ server: s.server, ...extra }, s);
    }
  };
}

/** Registers (once per set) the counter of a protocol's own counter `name`, for the clients that have it. */
function addOwnCounter(registry: Registry, prefix: string, set: MetricSet, name: string): void {
  if (set.own.has(name)) return;
  set.own.add(name);
  const metric = `${prefix}${snake(name)}_total`;
  set.names.push(metric);
  const each = eachServer(set);
  new Counter({
    name: metric,
    help: `The client's ${name} counter`,
    labelNames: set.labelNames,
    registers: [registry],
    collect() {
      this.reset();
      each((labels, s) => {
        const value = (s as unknown as Record<string, number | undefined>)[name];
        if (value !== undefined) this.inc(labels, value);
      });
    },
  });
}

/**
 * Registers (once per set) a gauge `<prefix><group>_<key>` for a number of a client-wide group of
 * the metrics (e.g. `nearCache.evictions` → `memline_near_cache_evictions`), labelled without `server`.
 */
function addGroupGauge(registry: Registry, prefix: string, set: MetricSet, group: string, key: string): void {
  const metric = `${prefix}${snake(group)}_${snake(key)}`;
  if (set.own.has(metric)) return;
  set.own.add(metric);
  set.names.push(metric);
  new Gauge({
    name: metric,
    help: `The client's ${group}.${key}`,
    labelNames: set.labelNames.filter((n) => n !== 'server'),
    registers: [registry],
    collect() {
      this.reset();
      for (const { source, extra } of set.sources) {
        const value = new Map(metricGroups(source.metrics)).get(group)?.[key];
        if (value !== undefined) this.set(extra, value);
      }
    },
  });
}
