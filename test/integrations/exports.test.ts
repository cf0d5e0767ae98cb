/**
 * The integration subpaths resolve through the package's exports map to the compiled `dist/` (built by
 * `npm run build` before the tests), each with its declarations.
 */
import { existsSync } from 'node:fs';
import { expect } from 'chai';

describe('integration subpaths in the exports map', () => {
  for (const [subpath, name, file] of [
    ['keyv', 'KeyvStore', 'keyv'],
    ['express-session', 'SessionStore', 'express-session'],
    ['rate-limit', 'RateLimitStore', 'rate-limit'],
  ] as const) {
    it(`memline/${subpath} exports ${name}`, async () => {
      const mod = (await import(`memline/${subpath}`)) as Record<string, unknown>;
      expect(typeof mod[name]).to.equal('function');
      const types = new URL(`../../dist/protocols/memcached-meta/integrations/${file}.d.ts`, import.meta.url);
      expect(existsSync(types)).to.equal(true);
    });
  }
});
