/**
 * What the engine counts per server and how a client's metrics are assembled from it: the same
 * shape for every protocol, with room for the protocol's own counters.
 */
import type { BreakerState } from './breaker.js';

/** Failures counted per backend. */
export interface RequestCounters {
  /** Requests that failed with an error that is not a result (connection, protocol, server errors…). */
  errors: number;
  /** Requests whose deadline passed. */
  timeouts: number;
}

/** Counters of one backend, since it was created. */
export interface BackendCounters extends RequestCounters {
  /** Connections opened. */
  created: number;
  /** Connections opened to replace one that closed or was retired. */
  reconnects: number;
}

/** A snapshot of one server's counters and current load, for metrics and health checks. */
export interface BackendStats extends Readonly<BackendCounters> {
  /** `"host:port"`, as configured. */
  readonly server: string;
  /** Open or opening connections. */
  readonly connections: number;
  /** Requests queued or in flight over all its connections. */
  readonly pending: number;
  /** Requests written and awaiting their reply. */
  readonly inflight: number;
  /** The circuit breaker: `closed` (normal), `open` (failing fast), `half-open` (probing). */
  readonly breaker: BreakerState;
}

/**
 * A client's metrics, the same shape for every protocol: per server, the engine's stats plus the
 * protocol's own counters (named in `counters`, e.g. a cache's hits and misses), and their sums.
 */
export interface ClientMetrics<C extends string = never> {
  /** Sums over every server. */
  readonly total: MetricsTotal<C>;
  /** One entry per server, in the order of the server list. */
  readonly servers: ServerMetrics<C>[];
  /** The names of the protocol's own counters, present in `total` and in every server's entry. */
  readonly counters: readonly C[];
}

/** One server's entry in {@link ClientMetrics}. */
export type ServerMetrics<C extends string = never> = BackendStats & Record<C, number>;

/** The sums of {@link ClientMetrics}: every number of a server's entry, summed. */
export type MetricsTotal<C extends string = never> = Omit<BackendStats, 'server' | 'breaker'> &
  Record<C, number>;

const SUMMED = ['connections', 'pending', 'inflight', 'created', 'reconnects', 'errors', 'timeouts'] as const;

/**
 * Builds {@link ClientMetrics} from the backends' stats and, for each server, the protocol's own
 * counters `counters` (read with `extra`; a server it knows nothing of counts 0).
 */
export function clientMetrics<C extends string = never>(
  stats: readonly BackendStats[],
  counters: readonly C[] = [],
  extra?: (server: string) => Readonly<Record<C, number>> | undefined,
): ClientMetrics<C> {
  const total: Record<string, number> = {};
  for (const name of [...SUMMED, ...counters]) total[name] = 0;
  const servers = stats.map((s) => {
    const own = extra?.(s.server);
    const entry: Record<string, unknown> = { ...s };
    for (const name of counters) entry[name] = own?.[name] ?? 0;
    for (const name of Object.keys(total)) total[name] += entry[name] as number;
    return entry as ServerMetrics<C>;
  });
  return { total: total as MetricsTotal<C>, servers, counters };
}

/**
 * Anything with memline's `metrics` getter (a {@link ClientMetrics}): any memline client. Read by the
 * Prometheus and OpenTelemetry exporters when they collect; nothing runs per request.
 */
export interface MetricsSource {
  readonly metrics: {
    readonly servers: readonly BackendStats[];
    readonly counters: readonly string[];
  };
}

/**
 * The client-wide groups of numbers a client's metrics carry beside `total`, `servers` and `counters`
 * (e.g. a cache's `{ hits, evictions, entries }`), by group name.
 */
export function metricGroups(metrics: object): [string, Record<string, number>][] {
  const groups: [string, Record<string, number>][] = [];
  for (const [name, value] of Object.entries(metrics)) {
    if (name === 'total' || name === 'servers' || name === 'counters') continue;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    const numbers: Record<string, number> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      if (typeof v === 'number') numbers[k] = v;
    groups.push([name, numbers]);
  }
  return groups;
}

/** `nearHits` → `near_hits`: metric names are lower snake case. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
