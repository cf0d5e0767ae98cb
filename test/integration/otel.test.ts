/**
 * memline/otel with the real OpenTelemetry SDK (in-memory exporters) against real memcached and
 * redis-server: spans and the duration histogram as the database semantic conventions define them.
 */
import { expect } from 'chai';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type HistogramMetricData,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { instrumentOpenTelemetry, observeClientMetrics } from '../../lib/otel.js';
import { MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { RedisClient } from '../../protocols/redis-resp/index.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { startRedis, type RedisProcess } from '../harness/redis.js';

/** A tracer and a meter of the real SDK, recording in memory. */
function sdk() {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracer: tracerProvider.getTracer('test'),
    meter: meterProvider.getMeter('test'),
    spans,
    /** The data points of `db.client.operation.duration`, after a flush. */
    async durations() {
      await meterProvider.forceFlush();
      const metrics = exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
      const found = metrics.filter((m) => m.descriptor.name === 'db.client.operation.duration');
      return found as HistogramMetricData[];
    },
    /** Every data point of the metric `name` after a flush: its value and attributes. */
    async points(name: string): Promise<{ value: number; attributes: Record<string, unknown> }[]> {
      exporter.reset();
      await meterProvider.forceFlush();
      const metrics = exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
      return metrics
        .filter((m) => m.descriptor.name === name)
        .flatMap((m) => m.dataPoints.map((p) => ({ value: p.value as number, attributes: p.attributes })));
    },
    async shutdown() {
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}

describe('memline/otel with the OpenTelemetry SDK', function () {
  this.timeout(30_000);
  let mc: MemcachedProcess;
  let redis: RedisProcess;
  before(async () => {
    [mc, redis] = await Promise.all([startMemcached(), startRedis()]);
  });
  after(async () => {
    await Promise.all([mc?.kill(), redis?.kill()]);
  });

  it('memcached: a CLIENT span per request named after the operation, with the conventional attributes', async () => {
    const o = sdk();
    const stop = instrumentOpenTelemetry({ tracer: o.tracer, meter: o.meter });
    const client = new MemcacheClient({ servers: [mc.address] });
    try {
      await client.set('secret-key', 'v');
      await client.get('secret-key');
    } finally {
      stop();
      await client.close();
    }
    const spans = o.spans.getFinishedSpans();
    expect(spans.map((s) => s.name)).to.deep.equal(['ms', 'mg']);
    for (const span of spans) {
      expect(span.kind).to.equal(SpanKind.CLIENT);
      expect(span.attributes).to.deep.include({
        'db.system.name': 'memcached',
        'server.address': mc.host,
        'server.port': mc.port,
      });
      expect(span.status.code).to.equal(SpanStatusCode.UNSET);
      expect(JSON.stringify(span.attributes)).to.not.contain('secret-key'); // keys only by opt-in
    }
    expect(spans[1].attributes['db.operation.name']).to.equal('mg');

    const [histogram] = await o.durations();
    expect(histogram.descriptor.unit).to.equal('s');
    const points = histogram.dataPoints;
    expect(points.map((p) => p.attributes['db.operation.name']).sort()).to.deep.equal(['mg', 'ms']);
    for (const p of points) {
      expect(p.value.count).to.equal(1);
      expect(p.value.sum).to.be.greaterThan(0).and.lessThan(5); // seconds, not ms
      expect(p.attributes).to.not.have.property('error.type');
      expect(p.attributes).to.deep.include({
        'db.system.name': 'memcached',
        'server.address': mc.host,
        'server.port': mc.port,
      });
    }
    await o.shutdown();
  });

  it('memcached: a getMulti of n >= 2 keys is one BATCH mg span with db.operation.batch.size n', async () => {
    const o = sdk();
    const stop = instrumentOpenTelemetry({ tracer: o.tracer, meter: o.meter });
    const client = new MemcacheClient({ servers: [mc.address] });
    try {
      await client.getMulti(['a', 'b', 'c']);
      await client.getMulti(['only']);
    } finally {
      stop();
      await client.close();
    }
    const [batch, single] = o.spans.getFinishedSpans();
    expect(batch.name).to.equal('BATCH mg');
    expect(batch.attributes).to.deep.include({
      'db.operation.name': 'BATCH mg',
      'db.operation.batch.size': 3,
      'db.system.name': 'memcached',
      'server.port': mc.port,
    });
    // A batch of one is a single operation: no batch size (the conventions say it is never 1).
    expect(single.name).to.equal('mg');
    expect(single.attributes['db.operation.name']).to.equal('mg');
    expect(single.attributes).to.not.have.property('db.operation.batch.size');
    const [histogram] = await o.durations();
    const names = histogram.dataPoints.map((p) => p.attributes['db.operation.name']).sort();
    expect(names).to.deep.equal(['BATCH mg', 'mg']);
    for (const p of histogram.dataPoints)
      expect(p.attributes).to.not.have.property('db.operation.batch.size');
    await o.shutdown();
  });

  it('memcached: keys only with recordKeys, as sent, on spans only', async () => {
    const quiet = sdk();
    const stopQuiet = instrumentOpenTelemetry({ tracer: quiet.tracer, meter: quiet.meter });
    const o = sdk();
    const stop = instrumentOpenTelemetry({ tracer: o.tracer, meter: o.meter, recordKeys: true });
    const client = new MemcacheClient({ servers: [mc.address], keyPrefix: 'app:' });
    try {
      await client.set('k1', 'v');
      await client.getMulti(['k1', 'k2']);
    } finally {
      stop();
      stopQuiet();
    }
    const spans = o.spans.getFinishedSpans();
    expect(spans.map((s) => s.attributes['memline.keys'])).to.deep.equal([['app:k1'], ['app:k1', 'app:k2']]);
    // The instrumentation without the option records none, even while another one asks for keys.
    for (const span of quiet.spans.getFinishedSpans())
      expect(span.attributes).to.not.have.property('memline.keys');
    const [histogram] = await o.durations();
    expect(JSON.stringify(histogram.dataPoints)).to.not.contain('k1');

    // Once stopped, the keys are no longer shared with other subscribers.
    const after = sdk();
    const stopAfter = instrumentOpenTelemetry({ tracer: after.tracer, meter: after.meter });
    try {
      await client.get('k1');
    } finally {
      stopAfter();
      await client.close();
    }
    expect(JSON.stringify(after.spans.getFinishedSpans()[0].attributes)).to.not.contain('k1');
    await Promise.all([o.shutdown(), quiet.shutdown(), after.shutdown()]);
  });

  it('memcached: a failed request has error.type (the code), an error status and its duration', async () => {
    const o = sdk();
    const stop = instrumentOpenTelemetry({ tracer: o.tracer, meter: o.meter });
    const scratch = await startMemcached();
    const client = new MemcacheClient({ servers: [scratch.address] });
    try {
      await client.get('k');
      await scratch.kill();
      await client.get('k').catch(() => undefined);
    } finally {
      stop();
      client.destroy();
    }
    const failed = o.spans.getFinishedSpans()[1];
    expect(failed.attributes['error.type']).to.equal('ERR_CONNECTION');
    expect(failed.status.code).to.equal(SpanStatusCode.ERROR);
    expect(failed.events.map((e) => e.name)).to.include('exception');
    const [histogram] = await o.durations();
    const errorTypes = histogram.dataPoints.map((p) => p.attributes['error.type']);
    expect(errorTypes).to.have.members([undefined, 'ERR_CONNECTION']);
    await o.shutdown();
  });

  it('redis: db.system.name comes from the client, spans are named after the command', async () => {
    const o = sdk();
    const stop = instrumentOpenTelemetry({ tracer: o.tracer, meter: o.meter });
    const client = new RedisClient({ servers: [redis.address] });
    try {
      await client.set('k', 'v');
      await client.get('k');
    } finally {
      stop();
      await client.close();
    }
    const spans = o.spans.getFinishedSpans();
    expect(spans).to.have.length(2);
    for (const span of spans) {
      expect(span.attributes['db.system.name']).to.equal('redis');
      expect(span.name).to.equal(span.attributes['db.operation.name']);
      expect(span.attributes['server.port']).to.equal(redis.port);
    }
    const [histogram] = await o.durations();
    expect(histogram.dataPoints.every((p) => p.attributes['db.system.name'] === 'redis')).to.equal(true);
    await o.shutdown();
  });

  it('redis: a pipeline is a BATCH span with its batch size', async () => {
    const o = sdk();
    const stop = instrumentOpenTelemetry({ tracer: o.tracer, meter: o.meter });
    const client = new RedisClient({ servers: [redis.address] });
    try {
      await client.pipeline([
        ['SET', 'p', '1'],
        ['GET', 'p'],
      ]);
    } finally {
      stop();
      await client.close();
    }
    const [span] = o.spans.getFinishedSpans();
    expect(span.name).to.equal('BATCH');
    expect(span.attributes).to.deep.include({ 'db.operation.name': 'BATCH', 'db.operation.batch.size': 2 });
    await o.shutdown();
  });

  it('the system option overrides what the client says', async () => {
    const o = sdk();
    const stop = instrumentOpenTelemetry({ tracer: o.tracer, meter: o.meter, system: 'other' });
    const client = new MemcacheClient({ servers: [mc.address] });
    try {
      await client.get('k');
    } finally {
      stop();
      await client.close();
    }
    expect(o.spans.getFinishedSpans()[0].attributes['db.system.name']).to.equal('other');
    await o.shutdown();
  });

  it("observeClientMetrics: the engine's numbers and the client's counters per server, and the near cache's", async () => {
    const o = sdk();
    const client = new MemcacheClient({
      servers: [mc.address],
      coalesce: true,
      nearCache: { promoteChance: 1, hotWithin: 60 },
    });
    const stop = observeClientMetrics(client, { meter: o.meter, attributes: { 'memline.client': 'cache' } });
    try {
      await client.set('otel:hot', 'v');
      await client.get('otel:missing');
      await Promise.all(Array.from({ length: 10 }, () => client.get('otel:hot'))); // one request, 9 coalesced
      for (let i = 0; i < 3; i++) await client.get('otel:hot'); // hot on the server: promoted, then near hits
      const total = client.metrics.total;
      expect(total.coalesced).to.equal(9);
      expect(total.nearHits).to.be.greaterThan(0);
      const [port] = [Number(mc.address.split(':')[1])];
      const server = { 'server.address': '127.0.0.1', 'server.port': port, 'memline.client': 'cache' };
      const one = async (name: string) => {
        const points = await o.points(name);
        expect(points, name).to.have.length(1);
        expect(points[0].attributes).to.deep.equal(server);
        return points[0].value;
      };
      expect(await one('memline.client.hits')).to.equal(total.hits);
      expect(await one('memline.client.misses')).to.equal(total.misses);
      expect(await one('memline.client.coalesced')).to.equal(9);
      expect(await one('memline.client.near_hits')).to.equal(total.nearHits);
      expect(await one('memline.client.connections')).to.equal(1);
      expect(await one('memline.client.created')).to.equal(1);
      expect(await one('memline.client.breaker.open')).to.equal(0);
      const promotions = await o.points('memline.client.near_cache.promotions');
      expect(promotions).to.deep.equal([
        { value: client.metrics.nearCache!.promotions, attributes: { 'memline.client': 'cache' } },
      ]);
      expect(promotions[0].value).to.be.greaterThan(0);
      stop(); // no longer read: a later miss does not reach the meter
      await client.get('otel:missing');
      expect((await o.points('memline.client.misses')).map((p) => p.value)).to.deep.equal([total.misses]);
    } finally {
      stop();
      await client.close();
    }
    await o.shutdown();
  });

  it('observeClientMetrics: a Redis client has the engine numbers per server and no counters of its own', async () => {
    const o = sdk();
    const client = new RedisClient({ servers: [redis.address] });
    const stop = observeClientMetrics(client, { meter: o.meter });
    try {
      await client.set('otel', '1');
      expect((await o.points('memline.client.created')).map((p) => p.value)).to.deep.equal([1]);
      expect(await o.points('memline.client.errors')).to.have.length(1);
      expect(await o.points('memline.client.hits')).to.have.length(0);
    } finally {
      stop();
      await client.close();
    }
    await o.shutdown();
  });
});
