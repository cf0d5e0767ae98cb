import { expect } from 'chai';
import {
  ENGINE_DEFAULTS,
  InvalidArgumentError,
  MAX_TIMER_MS,
  bool,
  clusterOptions,
  duration,
  integer,
  resolveEngineOptions,
  type EngineOptions,
} from '../../../lib/index.js';
import { LineCodec } from '../line-codec.js';

const servers = ['127.0.0.1:1'];

/** The error `fn` throws, which must be ERR_INVALID_ARGUMENT. */
function invalid(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidArgumentError);
    return err as InvalidArgumentError;
  }
  expect.fail('no error thrown');
}

describe('lib/kit engine options', () => {
  it('fills in every default', () => {
    const o = resolveEngineOptions({ servers });
    expect(o).to.deep.include({
      servers,
      distribution: 'ketama',
      timeout: ENGINE_DEFAULTS.timeout,
      connectTimeout: 1000,
      tls: undefined,
      connectionsPerServer: 1,
      maxPending: 16384,
      keepAlive: 30_000,
      maxQueuedBytes: 64 * 1024 * 1024,
      silentTimeout: 2000,
      maxConnectionAge: 0,
      idleTimeout: 0,
      reconnectBase: 50,
      reconnectCap: 2000,
      logger: undefined,
    });
    expect(o.breaker).to.deep.equal({ threshold: 5, openTime: 1000, maxOpenTime: 5000 });
    expect(Object.isFrozen(ENGINE_DEFAULTS)).to.equal(true);
  });

  it("reads a protocol's own defaults, and the caller's values over them", () => {
    const defaults = { ...ENGINE_DEFAULTS, timeout: 250, maxPending: 10 };
    expect(resolveEngineOptions({ servers }, defaults)).to.deep.include({ timeout: 250, maxPending: 10 });
    expect(resolveEngineOptions({ servers, timeout: 7 }, defaults).timeout).to.equal(7);
  });

  const bad: [string, Partial<EngineOptions> | null, string][] = [
    ['options', null, 'options must be an object'],
    ['distribution', { distribution: 'nope' as 'ketama' }, 'distribution "nope" is unknown'],
    ['timeout', { timeout: 0 }, `timeout must be an integer from 1 to ${MAX_TIMER_MS} (ms)`],
    ['timeout', { timeout: MAX_TIMER_MS + 1 }, 'timeout must be'],
    ['connectTimeout', { connectTimeout: 1.5 }, 'connectTimeout must be'],
    ['keepAlive', { keepAlive: -1 }, 'keepAlive must be an integer from 0'],
    ['silentTimeout', { silentTimeout: '5' as unknown as number }, 'silentTimeout must be'],
    ['maxConnectionAge', { maxConnectionAge: -1 }, 'maxConnectionAge must be'],
    ['idleTimeout', { idleTimeout: Number.NaN }, 'idleTimeout must be'],
    ['reconnectBase', { reconnectBase: 0 }, 'reconnectBase must be'],
    ['reconnectCap', { reconnectCap: 2 ** 31 }, 'reconnectCap must be'],
    ['connectionsPerServer', { connectionsPerServer: 0 }, 'connectionsPerServer must be an integer ≥ 1'],
    ['maxPending', { maxPending: 2.5 }, 'maxPending must be an integer ≥ 1'],
    ['maxQueuedBytes', { maxQueuedBytes: -5 }, 'maxQueuedBytes must be'],
    ['tls', { tls: 5 as unknown as boolean }, 'tls must be true or an object'],
    ['breaker', { breaker: 'on' as unknown as object }, 'breaker must be an object'],
    ['breaker.threshold', { breaker: { threshold: -1 } }, 'breaker.threshold must be an integer from 0'],
    ['breaker.openTime', { breaker: { openTime: 0 } }, 'breaker.openTime must be'],
    ['breaker.maxOpenTime', { breaker: { maxOpenTime: 1.5 } }, 'breaker.maxOpenTime must be'],
  ];
  for (const [name, given, message] of bad) {
    it(`a bad ${name} is ERR_INVALID_ARGUMENT naming it (${JSON.stringify(given)})`, () => {
      const options = given === null ? null : { servers, ...given };
      const err = invalid(() => resolveEngineOptions(options as EngineOptions));
      expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
      expect(err.mayHaveExecuted).to.equal(false);
      expect(err.message).to.contain(message);
    });
  }

  it('TLS: verification stays on unless switched off by its loud option; TLS 1.2 at least', () => {
    expect(resolveEngineOptions({ servers, tls: true }).tls).to.deep.equal({});
    expect(resolveEngineOptions({ servers, tls: { servername: 'x' } }).tls).to.deep.equal({
      minVersion: 'TLSv1.2',
      servername: 'x',
      rejectUnauthorized: true,
    });
    const off = resolveEngineOptions({ servers, tls: { dangerouslyDisableCertificateVerification: true } });
    expect(off.tls).to.deep.equal({ minVersion: 'TLSv1.2', rejectUnauthorized: false });
  });

  it('gives the cluster the per-server bound and the reconnect back-off', () => {
    const codec = new LineCodec();
    const o = resolveEngineOptions({ servers, maxPending: 10, connectionsPerServer: 3, reconnectCap: 900 });
    const c = clusterOptions(codec, o);
    expect(c.codec).to.equal(codec);
    expect(c).to.deep.include({ connections: 3, maxPending: 10, maxPendingPerServer: 30 });
    expect(c.reconnect).to.deep.equal({ base: 50, cap: 900 });
  });
});

describe('lib/kit validators', () => {
  it('integer: the range in the message, the name first', () => {
    expect(integer(3, 'n')).to.equal(3);
    expect(invalid(() => integer(0, 'n')).message).to.equal('n must be an integer ≥ 1');
    expect(invalid(() => integer(11, 'depth', 0, 10)).message).to.equal(
      'depth must be an integer from 0 to 10',
    );
    expect(invalid(() => integer(2n, 'n')).message).to.contain('n must be');
  });

  it('duration: bounded by the longest delay a timer takes', () => {
    expect(duration(MAX_TIMER_MS, 'wait')).to.equal(MAX_TIMER_MS);
    expect(duration(0, 'wait', 0)).to.equal(0);
    expect(invalid(() => duration(MAX_TIMER_MS + 1, 'wait')).message).to.contain('wait must be');
  });

  it('bool: only true or false', () => {
    expect(bool(false, 'flag')).to.equal(false);
    expect(invalid(() => bool(1, 'flag')).message).to.equal('flag must be true or false');
  });
});
