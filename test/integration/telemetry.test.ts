import { expect } from 'chai';
import type { Meter, Span, Tracer } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { instrumentOpenTelemetry } from '../../lib/otel.js';
import { registerPrometheusMetrics } from '../../lib/prometheus.js';
import { MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { RedisClient } from '../../protocols/redis-resp/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';

/** A tracer and meter that record what they are given (the API without an SDK). */
function recorder() {
  const spans: {
    name: string;
    attributes: Record<string, unknown>;
    status?: unknown;
    ended: boolean;
    events: unknown[];
  }[] = [];
  const records: { name: string; value: number; attributes: Record<string, unknown> }[] = [];
  const tracer = {
    startSpan(name: string, options: { attributes?: Record<string, unknown> }) {
      const span = {
        name,
        attributes: { ...options.attributes },
        ended: false,
        events: [] as unknown[],
        status: undefined as unknown,
      };
      spans.push(span);
      return {
        setAttribute: (k: string, v: unknown) => void (span.attributes[k] = v),
        recordException: (e: unknown) => void span.events.push(e),
        setStatus: (s: unknown) => void (span.status = s),
        end: () => void (span.ended = true),
      } as unknown as Span;
    },
  } as unknown as Tracer;
  const instrument = (name: string) => ({
    record: (value: number, attributes: Record<string, unknown>) => records.push({ name, value, attributes }),
    add: (value: number, attributes: Record<string, unknown>) => records.push({ name, value, attributes }),
  });
  const meter = { createHistogram: instrument, createCounter: instrument } as unknown as Meter;
  return { tracer, meter, spans, records };
}

describe('telemetry: OpenTelemetry (API only) and Prometheus', () => {
  let mc: MemcachedProcess;
  before(async () => {
    mc = await startMemcached();
  });
  after(async () => {
    await mc.kill();
  });

  it('stops recording when told to', async () => {
    const r = recorder();
    instrumentOpenTelemetry({ tracer: r.tracer, meter: r.meter })();
    const client = new MemcacheClient({ servers: [mc.address] });
    await client.get('k');
    await client.close();
    expect(r.spans).to.have.length(0);
  });

  it('exposes the client metrics to Prometheus, read at scrape time', async () => {
    const registry = new Registry();
    const client = new MemcacheClient({ servers: [mc.address] });
    registerPrometheusMetrics(client, { registry, labels: { client: 'test' } });
    await client.set('p', '1');
    await client.get('p');
    await client.get('absent');
    const text = await registry.metrics();
    await client.close();
    const labels = `server="${mc.address}",client="test"`;
    expect(text).to.contain(`memline_hits_total{${labels}} 1`);
    expect(text).to.contain(`memline_misses_total{${labels}} 1`);
    expect(text).to.contain(`memline_created_total{${labels}} 1`);
    expect(text).to.contain(`memline_breaker_open{${labels}} 0`);
    expect(text).to.match(/# TYPE memline_pending gauge/);
  });

  it("exposes the near cache's numbers to Prometheus as gauges labelled without server", async () => {
    const registry = new Registry();
    const client = new MemcacheClient({
      servers: [mc.address],
      nearCache: { promoteChance: 1, hotWithin: 60 },
    });
    const off = registerPrometheusMetrics(client, { registry, labels: { client: 'near' } });
    try {
      await client.set('near-p', '1');
      for (let i = 0; i < 4; i++) await client.get('near-p'); // hot: promoted, then served locally
      const near = client.metrics.nearCache!;
      expect(near.promotions).to.be.greaterThan(0);
      const text = await registry.metrics();
      expect(text).to.contain(`memline_near_cache_promotions{client="near"} ${near.promotions}`);
      expect(text).to.contain(`memline_near_cache_entries{client="near"} ${near.entries}`);
      expect(text).to.contain(
        `memline_near_hits_total{server="${mc.address}",client="near"} ${client.metrics.total.nearHits}`,
      );
    } finally {
      off();
      await client.close();
    }
  });

  it('serves two clients with different labels from one registry, and unregisters each', async () => {
    const registry = new Registry();
    const a = new MemcacheClient({ servers: [mc.address] });
    const b = new MemcacheClient({ servers: [mc.address] });
    const offA = registerPrometheusMetrics(a, { registry, labels: { client: 'a' } });
    const offB = registerPrometheusMetrics(b, { registry, labels: { client: 'b' } });
    try {
      await a.get('absent');
      await b.set('p', '1');
      await b.get('p');
      let text = await registry.metrics();
      expect(text).to.contain(`memline_misses_total{server="${mc.address}",client="a"} 1`);
      expect(text).to.contain(`memline_hits_total{server="${mc.address}",client="b"} 1`);
      expect(text).to.contain(`memline_hits_total{server="${mc.address}",client="a"} 0`);
      offA();
      text = await registry.metrics();
      expect(text).to.not.contain('client="a"');
      expect(text).to.contain(`memline_hits_total{server="${mc.address}",client="b"} 1`);
      offB();
      expect(await registry.metrics()).to.not.contain('memline_');
      // Once unregistered, the client can be registered again.
      const again = registerPrometheusMetrics(b, { registry, labels: { client: 'b' } });
      expect(await registry.metrics()).to.contain('client="b"');
      again();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses a second client with other label names in one registry, naming labels', () => {
    const registry = new Registry();
    const a = new MemcacheClient({ servers: [mc.address] });
    const off = registerPrometheusMetrics(a, { registry, labels: { client: 'a' } });
    try {
      expect(() => registerPrometheusMetrics(a, { registry, labels: { pool: 'x' } }))
        .to.throw(/labels/)
        .with.property('code', 'ERR_INVALID_ARGUMENT');
    } finally {
      off();
      a.destroy();
    }
  });

  it('exposes a RedisClient too', async () => {
    const registry = new Registry();
    const redis = new RedisClient({ servers: [mc.address] });
    const off = registerPrometheusMetrics(redis, { registry });
    try {
      const text = await registry.metrics();
      expect(text).to.contain(`memline_pending{server="${mc.address}"} 0`);
      expect(text).to.contain(`memline_breaker_open{server="${mc.address}"} 0`);
    } finally {
      off();
      redis.destroy();
    }
  });
});
