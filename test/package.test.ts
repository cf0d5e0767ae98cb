/**
 * The published shape: `import { MemcacheClient } from 'memline'` resolves through the exports map
 * to the compiled `dist/` (built by `npm run build` before the tests), with its declarations.
 */
import { existsSync } from 'node:fs';
import { expect } from 'chai';
import * as source from '../protocols/memcached-meta/index.js';

describe('package', () => {
  it('exports the client, the errors and the engine through the exports map', async () => {
    const name = 'memline';
    const pkg = (await import(name)) as typeof source;
    const engine = (await import(`${name}/engine`)) as Record<string, unknown>;
    expect(typeof pkg.MemcacheClient).to.equal('function');
    expect(typeof pkg.MemlineError).to.equal('function');
    expect(typeof engine.Connection).to.equal('function');
    for (const file of ['protocols/memcached-meta/index.d.ts', 'lib/index.d.ts']) {
      expect(existsSync(new URL(`../dist/${file}`, import.meta.url)), file).to.equal(true);
    }
  });

  it('instanceof works across two copies of the package (the error brand)', async () => {
    const name = 'memline';
    const dist = (await import(name)) as typeof source;
    const fromDist = new dist.InvalidKeyError('x');
    expect(fromDist).to.be.instanceOf(source.MemlineError);
    expect(fromDist).to.be.instanceOf(source.InvalidKeyError);
    expect(fromDist).to.not.be.instanceOf(source.TimeoutError);
    expect(new source.TimeoutError('t', 'request')).to.be.instanceOf(dist.TimeoutError);
    expect(fromDist.code).to.equal('ERR_INVALID_KEY');
    expect(fromDist.name).to.equal('InvalidKeyError');
  });
});
