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
  type Meter,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
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
