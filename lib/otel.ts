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
  type Meter,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { RequestEndMessage, RequestErrorMessage, RequestStartMessage } from './diagnostics.js';

/** Where {@link instrumentOpenTelemetry} records; the defaults use the globally registered providers. */
export interface OpenTelemetryOptions {
  /** @default trace.getTracer('memline') */
  tracer?: Tracer;
  /** @default metrics.getMeter('memline') */
  meter?: Meter;
  /** The `db.system` attribute of spans. @default 'memcached' */
  system?: string;
}

/**
 * Starts recording: a client span per request (`memline <request>`, e.g. `memline mg`), the
 * histogram `memline.request.duration` (ms, by server, request and outcome), the counter
 * `memline.request.errors` (by code) and `memline.breaker.changes` (by state). Returns a function
 * that stops recording.
 */
export function instrumentOpenTelemetry(options: OpenTelemetryOptions = {}): () => void {
  const tracer = options.tracer ?? trace.getTracer('memline');
  const meter = options.meter ?? metrics.getMeter('memline');
  const system = options.system ?? 'memcached';
  const duration = meter.createHistogram('memline.request.duration', {
    description: 'Duration of memline requests',
    unit: 'ms',
  });
  const errors = meter.createCounter('memline.request.errors', { description: 'Failed memline requests' });
  const breakerChanges = meter.createCounter('memline.breaker.changes', {
    description: 'Circuit breaker state changes',
  });
  const spans = new Map<number, Span>();

  const onStart = (message: unknown): void => {
    const m = message as RequestStartMessage;
    const span = tracer.startSpan(`memline ${m.request}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'db.system': system, 'db.operation': m.request, 'server.address': m.server },
    });
    spans.set(m.id, span);
  };
  const onEnd = (message: unknown): void => {
    const m = message as RequestEndMessage;
    duration.record(m.duration, { server: m.server, request: m.request, outcome: 'ok' });
    const span = spans.get(m.id);
    spans.delete(m.id);
    span?.end();
  };
  const onError = (message: unknown): void => {
    const m = message as RequestErrorMessage;
    duration.record(m.duration, { server: m.server, request: m.request, outcome: 'error' });
    errors.add(1, { server: m.server, request: m.request, code: m.error.code });
    const span = spans.get(m.id);
    spans.delete(m.id);
    if (span === undefined) return;
    span.setAttribute('error.type', m.error.code);
    span.recordException(m.error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: m.error.code });
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
  return () => {
    for (const [name, listener] of subscriptions) diagnostics.unsubscribe(name, listener);
    for (const span of spans.values()) span.end();
    spans.clear();
  };
}
