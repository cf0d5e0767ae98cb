/**
 * OpenTelemetry spans and metrics for memline, through `@opentelemetry/api` only (bring your own
 * SDK). Import it as `memline/otel`; the rest of memline never loads `@opentelemetry/api`.
 *
 * ```ts
 * import { instrumentOpenTelemetry } from 'memline/otel';
 * const stop = instrumentOpenTelemetry(); // uses the global tracer and meter providers
 * ```
 *
 * It listens on memline's diagnostics channels, so it covers every client in the process, and
 * costs nothing per request until it is turned on.
 */
import diagnostics from 'node:diagnostics_channel';
import {
  metrics,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type BatchObservableResult,
  type Meter,
  type Observable,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { metricGroups, snakeCase, type MetricsSource } from './metrics.js';
import {
  shareKeys,
  type RequestEndMessage,
  type RequestErrorMessage,
  type RequestStartMessage,
} from './diagnostics.js';

/** Where {@link instrumentOpenTelemetry} records; the defaults use the globally registered providers. */
export interface OpenTelemetryOptions {
  /** @default trace.getTracer('memline') */
  tracer?: Tracer;
  /** @default metrics.getMeter('memline') */
  meter?: Meter;
  /**
   * `db.system.name` for every request, overriding what each client's protocol says (its codec's
   * `system`, e.g. `"memcached"` or `"redis"`).
   */
  system?: string;
  /**
   * Records the keys each request names (as sent, key prefix included) on its span, as the
   * `memline.keys` attribute (a string array). Off by default: keys can be personal data, and
   * whoever reads the traces sees them. Never recorded on metrics.
   * @default false
   */
  recordKeys?: boolean;
}

/** The histogram buckets (seconds) the database semantic conventions advise for durations. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/**
 * `db.operation.name`: the codec's label for one operation (`mg`); for a batch of two or more,
 * `BATCH` followed by the operation all its items share (`BATCH mg`), else `BATCH`. A batch of one
 * is that one operation.
 */
function operationName(m: RequestStartMessage): string {
  if (m.batchSize === undefined) return m.request;
  if (m.batchSize < 2 && m.batchOperation !== undefined) return m.batchOperation;
  return m.batchOperation === undefined ? 'BATCH' : `BATCH ${m.batchOperation}`;
}

/** `server.address` and `server.port` of a `"host:port"` (or a Unix socket path, which has no port). */
function serverAttributes(server: string): Attributes {
  const colon = server.lastIndexOf(':');
  const port = colon === -1 ? NaN : Number(server.slice(colon + 1));
  if (!Number.isInteger(port)) return { 'server.address': server };
  let host = server.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { 'server.address': host, 'server.port': port };
}

/**
 * Starts recording, as OpenTelemetry's database client conventions define it: a CLIENT span per
 * request named after the operation (`mg`, `get`, `BATCH mg`), with `db.system.name`,
 * `db.operation.name`, `server.address`, `server.port`, `db.operation.batch.size` on a batch of two
 * or more (a getMulti's request to one server) and, when it failed, `error.type` (the error's code)
 * and an error status; and the histogram `db.client.operation.duration` (seconds) with the same
 * attributes but the batch size. Values are never recorded; keys only with `recordKeys`. Also counts circuit breaker changes
 * (`memline.breaker.changes`, by server and state). Returns a function that stops recording.
 */
export function instrumentOpenTelemetry(options: OpenTelemetryOptions = {}): () => void {
  const tracer = options.tracer ?? trace.getTracer('memline');
  const meter = options.meter ?? metrics.getMeter('memline');
  const duration = meter.createHistogram('db.client.operation.duration', {
    description: 'Duration of database client operations',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const breakerChanges = meter.createCounter('memline.breaker.changes', {
    description: 'Circuit breaker state changes',
  });
  const spans = new Map<number, Span>();
  const attributesOf = (m: RequestStartMessage): Attributes => ({
    'db.system.name': options.system ?? m.system,
    'db.operation.name': operationName(m),
    ...serverAttributes(m.server),
  });

  const onStart = (message: unknown): void => {
    const m = message as RequestStartMessage;
    const attributes = attributesOf(m);
    if (m.batchSize !== undefined && m.batchSize >= 2) {
      attributes['db.operation.batch.size'] = m.batchSize;
    }
    if (options.recordKeys === true && m.keys !== undefined) attributes['memline.keys'] = [...m.keys];
    const name = attributes['db.operation.name'] as string;
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes });
    spans.set(m.id, span);
  };
  const onEnd = (message: unknown): void => {
    const m = message as RequestEndMessage;
    duration.record(m.duration / 1000, attributesOf(m));
    const span = spans.get(m.id);
    spans.delete(m.id);
    span?.end();
  };
  const onError = (message: unknown): void => {
    const m = message as RequestErrorMessage;
    duration.record(m.duration / 1000, { ...attributesOf(m), 'error.type': m.error.code });
    const span = spans.get(m.id);
    spans.delete(m.id);
    if (span === undefined) return;
    span.setAttribute('error.type', m.error.code);
    span.recordException(m.error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: m.error.message });
    span.end();
  };
  const onBreaker = (message: unknown): void => {
    const m = message as { server: string; state: string };
    breakerChanges.add(1, { server: m.server, state: m.state });
  };

  const subscriptions: [string, (message: unknown) => void][] = [
    ['memline:request:start', onStart],
    ['memline:request:end', onEnd],
    ['memline:request:error', onError],
    ['memline:breaker:change', onBreaker],
  ];
  for (const [name, listener] of subscriptions) diagnostics.subscribe(name, listener);
  const stopSharingKeys = options.recordKeys === true ? shareKeys() : undefined;
  return () => {
    stopSharingKeys?.();
    for (const [name, listener] of subscriptions) diagnostics.unsubscribe(name, listener);
    for (const span of spans.values()) span.end();
    spans.clear();
  };
}

/** Where and with which attributes {@link observeClientMetrics} records. */
export interface ClientMetricsOptions {
  /** @default metrics.getMeter('memline') */
  meter?: Meter;
  /**
   * Added to every data point, e.g. `{ 'memline.client': 'sessions' }` when several clients are
   * observed. @default {}
   */
  attributes?: Attributes;
}

/** Engine numbers per server that go up and down. */
const SERVER_GAUGES = [
  ['connections', 'Open or opening connections'],
  ['pending', 'Requests queued or in flight'],
  ['inflight', 'Requests written and awaiting their reply'],
] as const;

/** Engine numbers per server that only grow. */
const SERVER_COUNTERS = [
  ['created', 'Connections opened'],
  ['reconnects', 'Connections opened to replace one that closed'],
  ['errors', 'Requests that failed with an error'],
  ['timeouts', 'Requests whose deadline passed'],
] as const;

/**
 * Observes a client's `metrics` with OpenTelemetry instruments, read when the SDK collects (nothing
 * runs per request): per server (`server.address`, `server.port`), the gauges
 * `memline.client.connections`, `.pending`, `.inflight` and `.breaker.open` (0 closed, 1 open, 0.5
 * half-open); the counters `memline.client.created`, `.reconnects`, `.errors`, `.timeouts` and one per
 * counter of the protocol's own (`memline.client.hits`, `.near_hits`, `.coalesced`…); and a gauge per
 * number of each client-wide group (`memline.client.near_cache.evictions`…). Returns a function that
 * stops observing.
 */
export function observeClientMetrics(source: MetricsSource, options: ClientMetricsOptions = {}): () => void {
  const meter = options.meter ?? metrics.getMeter('memline');
  const base = options.attributes ?? {};
  const name = (n: string): string => `memline.client.${snakeCase(n)}`;
  const gauges = SERVER_GAUGES.map(([field, description]) => {
    return [field, meter.createObservableUpDownCounter(name(field), { description })] as const;
  });
  const counters: (readonly [string, Observable])[] = SERVER_COUNTERS.map(([field, description]) => {
    return [field, meter.createObservableCounter(name(field), { description })] as const;
  });
  for (const counter of source.metrics.counters) {
    counters.push([
      counter,
      meter.createObservableCounter(name(counter), { description: `The client's ${counter}` }),
    ]);
  }
  const breaker = meter.createObservableGauge('memline.client.breaker.open', {
    description: 'Circuit breaker: 0 closed, 1 open, 0.5 half-open',
  });
  const groups = metricGroups(source.metrics).flatMap(([group, numbers]) =>
    Object.keys(numbers).map((key) => {
      const gauge = meter.createObservableGauge(`${name(group)}.${snakeCase(key)}`, {
        description: `The client's ${group}.${key}`,
      });
      return [group, key, gauge] as const;
    }),
  );
  const observables: Observable[] = [
    ...gauges.map(([, g]) => g),
    ...counters.map(([, c]) => c),
    breaker,
    ...groups.map(([, , g]) => g),
  ];
  const callback = (result: BatchObservableResult): void => {
    const m = source.metrics;
    for (const s of m.servers) {
      const attributes = { ...base, ...serverAttributes(s.server) };
      const values = s as unknown as Record<string, number | undefined>;
      for (const [field, gauge] of gauges) result.observe(gauge, s[field], attributes);
      for (const [field, counter] of counters) {
        const value = values[field];
        if (value !== undefined) result.observe(counter, value, attributes);
      }
      result.observe(breaker, s.breaker === 'open' ? 1 : s.breaker === 'half-open' ? 0.5 : 0, attributes);
    }
    const now = new Map(metricGroups(m));
    for (const [group, key, gauge] of groups) {
      const value = now.get(group)?.[key];
      if (value !== undefined) result.observe(gauge, value, base);
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
