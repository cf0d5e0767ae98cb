import { expect } from 'chai';
import {
  clientMetrics,
  ConnectionError,
  engineProbeVerdict,
  ServerErrorReply,
  TimeoutError,
  type BackendStats,
} from '../../lib/index.js';
import { NotNumericError } from '../../protocols/memcached-meta/errors.js';

function stats(server: string, n: number): BackendStats {
  return {
    server,
    connections: n,
    pending: n,
    inflight: n,
    created: n,
    reconnects: n,
    errors: n,
    timeouts: n,
    breaker: 'closed',
  };
}

describe('lib: client metrics and probe verdicts', () => {
  it('clientMetrics: engine stats per server and summed, with the protocol counters it is given', () => {
    const own: Record<string, { hits: number; misses: number }> = { 'a:1': { hits: 3, misses: 1 } };
    const m = clientMetrics([stats('a:1', 1), stats('b:2', 2)], ['hits', 'misses'], (s) => own[s]);
    expect(m.counters).to.deep.equal(['hits', 'misses']);
    expect(m.servers[0]).to.include({ server: 'a:1', created: 1, hits: 3, misses: 1, breaker: 'closed' });
    expect(m.servers[1]).to.include({ server: 'b:2', hits: 0, misses: 0 }); // unknown to `own`: zero
    expect(m.total).to.deep.equal({
      connections: 3,
      pending: 3,
      inflight: 3,
      created: 3,
      reconnects: 3,
      errors: 3,
      timeouts: 3,
      hits: 3,
      misses: 1,
    });
  });

  it('clientMetrics without protocol counters: the engine stats alone', () => {
    const m = clientMetrics([stats('a:1', 2)]);
    expect(m.counters).to.deep.equal([]);
    expect(Object.keys(m.total)).to.have.members([
      'connections',
      'pending',
      'inflight',
      'created',
      'reconnects',
      'errors',
      'timeouts',
    ]);
  });

  it('engineProbeVerdict: an error reply is an answer, a failed connection or timeout is none, a protocol code is no verdict', () => {
    expect(engineProbeVerdict(new ServerErrorReply('x'))).to.equal(true);
    expect(engineProbeVerdict(new ConnectionError('x'))).to.equal(false);
    expect(engineProbeVerdict(new TimeoutError('x', 'request'))).to.equal(false);
    expect(engineProbeVerdict(new NotNumericError('x'))).to.equal(undefined);
  });
});
