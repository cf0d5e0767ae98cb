import { expect } from 'chai';
import { ENGINE_DEFAULTS, InvalidArgumentError } from '../../../lib/index.js';
import { REDIS_DEFAULTS, resolveRedisOptions } from '../../../protocols/redis-resp/options.js';
import type { RedisClientOptions } from '../../../protocols/redis-resp/index.js';

const servers = ['127.0.0.1:1'];

describe('redis-resp options (on the client kit)', () => {
  it("the engine's defaults, and Redis's own", () => {
    const o = resolveRedisOptions({ servers });
    for (const name of ['timeout', 'connectTimeout', 'maxPending', 'keepAlive', 'silentTimeout'] as const)
      expect(o[name], name).to.equal(ENGINE_DEFAULTS[name]);
    expect(o).to.deep.include({
      protocol: 2,
      database: 0,
      maxValueSize: 16 * 1024 * 1024,
      maxElements: 1_000_000,
      maxDepth: 32,
      maxLineLength: 64 * 1024,
      auth: undefined,
    });
    expect(Object.isFrozen(REDIS_DEFAULTS)).to.equal(true);
  });

  const bad: [string, Partial<RedisClientOptions>][] = [
    ['timeout', { timeout: 0 }],
    ['breaker.openTime', { breaker: { openTime: -1 } }],
    ['protocol', { protocol: 4 as 3 }],
    ['auth', { auth: 'secret' as unknown as { password: string } }],
    ['auth.username', { auth: { username: '', password: 'p' } }],
    ['database', { database: -1 }],
    ['maxValueSize', { maxValueSize: 0 }],
    ['maxLineLength', { maxLineLength: 255 }],
    ['maxDepth', { maxDepth: 1.5 }],
  ];
  for (const [name, given] of bad) {
    it(`a bad ${name} is ERR_INVALID_ARGUMENT naming it`, () => {
      expect(() => resolveRedisOptions({ servers, ...given }))
        .to.throw(InvalidArgumentError)
        .with.property('message')
        .that.contains(name);
    });
  }
});
