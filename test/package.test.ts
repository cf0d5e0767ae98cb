/**
 * The published shape: `import { MemcacheClient } from 'memline'` resolves through the exports map
 * to the compiled `dist/` (built by `npm run build` before the tests), with its declarations.
 *
 * The packed package is tested as a user gets it: `npm pack` into a temporary directory, unpacked
 * into a consumer project's node_modules (its dependencies linked from this repository's, so no
 * network is needed), then required from CommonJS and type-checked from a `.cts` file.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import * as source from '../protocols/memcached-meta/index.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  bin?: Record<string, string>;
  main?: string;
  types?: string;
};
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The subpaths of the exports map, as a consumer writes them (`memline`, `memline/engine`, …). */
const SUBPATHS = Object.keys(PKG.exports)
  .filter((k) => k !== './package.json')
  .map((k) => (k === '.' ? 'memline' : `memline/${k.slice(2)}`));

/** The files `npm pack` would put in the tarball (paths relative to the package root). */
async function packedFiles(): Promise<string[]> {
  const { stdout } = await run(NPM, ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [report] = JSON.parse(stdout) as { files: { path: string }[] }[];
  return report.files.map((f) => f.path);
}

/** The relative links of a Markdown file (`[text](target)`), without anchors, resolved from the root. */
function localLinks(markdownFile: string): string[] {
  const text = readFileSync(path.join(ROOT, markdownFile), 'utf8');
  const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
  return links
    .filter((l) => !/^[a-z]+:/i.test(l) && !l.startsWith('#'))
    .map((l) => path.posix.normalize(path.posix.join(path.posix.dirname(markdownFile), l.split('#')[0])));
}

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

  it('every export has import, require and default conditions, all pointing at shipped files', async () => {
    const files = new Set(await packedFiles());
    for (const [subpath, target] of Object.entries(PKG.exports)) {
      if (typeof target === 'string') {
        expect(files.has(target.replace(/^\.\//, '')), `${subpath} → ${target}`).to.equal(true);
        continue;
      }
      expect(Object.keys(target), subpath).to.include.members(['types', 'import', 'require', 'default']);
      expect(Object.keys(target)[0], `${subpath}: "types" comes first`).to.equal('types');
      expect(Object.keys(target).at(-1), `${subpath}: "default" comes last`).to.equal('default');
      for (const file of Object.values(target)) {
        expect(files.has(file.replace(/^\.\//, '')), `${subpath} → ${file}`).to.equal(true);
      }
    }
    for (const file of [PKG.main, PKG.types, ...Object.values(PKG.bin ?? {})]) {
      if (file !== undefined) expect(files.has(file.replace(/^\.\//, '')), file).to.equal(true);
    }
  });

  it('ships LICENSE, README, SECURITY.md and every file README links to; no source maps to missing sources', async () => {
    const files = await packedFiles();
    const shipped = new Set(files);
    for (const file of ['LICENSE', 'README.md', 'SECURITY.md', 'package.json']) {
      expect(shipped.has(file), file).to.equal(true);
    }
    const links = [...localLinks('README.md'), ...localLinks('SECURITY.md')];
    expect(links).to.include.members(['SECURITY.md', 'LICENSE']);
    for (const link of links) {
      expect(existsSync(path.join(ROOT, link)), `${link} exists`).to.equal(true);
      expect(shipped.has(link), `${link} (linked from the README or SECURITY.md) is packed`).to.equal(true);
    }
    for (const file of files.filter((f) => f.endsWith('.js') || f.endsWith('.ts'))) {
      const text = await readFile(path.join(ROOT, file), 'utf8');
      const url = /^\/\/# sourceMappingURL=(\S+)\s*$/m.exec(text)?.[1];
      if (url === undefined) continue;
      const map = path.posix.join(path.posix.dirname(file), url);
      expect(shipped.has(map), `${file} points at ${map}`).to.equal(true);
      const { sources } = JSON.parse(await readFile(path.join(ROOT, map), 'utf8')) as { sources: string[] };
      for (const s of sources) {
        const resolved = path.posix.join(path.posix.dirname(map), s);
        expect(shipped.has(resolved), `${map} names ${resolved}`).to.equal(true);
      }
    }
    expect(files.filter((f) => f.endsWith('.map'))).to.deep.equal([]);
    // Stale status text.
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).not.to.match(/coming next|coming soon|not yet implemented/i);
  });

  describe('a consumer of the packed tarball', function () {
    this.timeout(120_000);
    let dir: string;

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'memline-consumer-'));
      const { stdout } = await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
        cwd: ROOT,
        maxBuffer: 16 * 1024 * 1024,
      });
      const [{ filename }] = JSON.parse(stdout) as { filename: string }[];
      const installed = path.join(dir, 'node_modules', 'memline');
      await mkdir(installed, { recursive: true });
      await run('tar', ['-xzf', path.join(dir, filename), '-C', installed, '--strip-components=1']);
      // Dependencies and peers from this repository's node_modules (no registry needed).
      const deps = [
        ...Object.keys(PKG.dependencies ?? {}),
        ...Object.keys(PKG.peerDependencies ?? {}),
        '@types/node',
      ];
      for (const dep of deps) {
        const link = path.join(dir, 'node_modules', dep);
        await mkdir(path.dirname(link), { recursive: true });
        await symlink(path.join(ROOT, 'node_modules', dep), link, 'dir');
      }
      await writeFile(path.join(dir, 'package.json'), '{ "name": "consumer", "private": true }\n');
    });

    after(async () => {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    it('require() loads memline and every subpath from a .cjs file (require(esm), no flag)', async () => {
      await writeFile(
        path.join(dir, 'consumer.cjs'),
        `'use strict';
const out = {};
for (const name of ${JSON.stringify(SUBPATHS)}) out[name] = Object.keys(require(name)).sort();
const { MemcacheClient, MemlineError, InvalidKeyError } = require('memline');
const client = new MemcacheClient({ servers: ['127.0.0.1:11211'] });
out.rejects = client.get('has space').then(
  () => 'resolved',
  (err) => err instanceof MemlineError && err instanceof InvalidKeyError ? err.code : String(err),
);
out.version = require('memline/package.json').version;
out.rejects.then((code) => {
  out.rejects = code;
  client.destroy();
  process.stdout.write(JSON.stringify(out));
});
`,
      );
      const { stdout } = await run(process.execPath, ['consumer.cjs'], { cwd: dir });
      const out = JSON.parse(stdout) as Record<string, string[] | string>;
      expect(out.memline).to.include.members(['MemcacheClient', 'MemlineError', 'TimeoutError']);
      expect(out['memline/engine']).to.include.members(['Connection', 'Backend', 'Cluster']);
      expect(out['memline/redis']).to.include('RedisClient');
      expect(out['memline/otel']).to.include('instrumentOpenTelemetry');
      expect(out['memline/prometheus']).to.include('registerPrometheusMetrics');
      expect(out.rejects).to.equal('ERR_INVALID_KEY');
      expect(out.version).to.match(/^\d+\.\d+\.\d+/);
    });

    it('a .cts file type-checks against the declarations (module nodenext and node20)', async () => {
      await writeFile(
        path.join(dir, 'consumer.cts'),
        `import memline = require('memline');
import engine = require('memline/engine');
import redis = require('memline/redis');
import otel = require('memline/otel');
import prometheus = require('memline/prometheus');

const client: memline.MemcacheClient = new memline.MemcacheClient({ servers: ['127.0.0.1:11211'] });
async function read(): Promise<Buffer | undefined> {
  const item: memline.Item | null = await client.get('k');
  return item?.value;
}
function code(err: unknown): string | undefined {
  return err instanceof memline.MemlineError ? err.code : undefined;
}
export = { read, code, engine: engine.Connection, redis: redis.RedisClient, otel: otel.instrumentOpenTelemetry, prometheus: prometheus.registerPrometheusMetrics };
`,
      );
      const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      for (const module of ['nodenext', 'node20']) {
        const args = [
          tsc,
          '--noEmit',
          '--strict',
          '--module',
          module,
          '--moduleResolution',
          'nodenext',
          '--skipLibCheck',
          '--types',
          'node',
          'consumer.cts',
        ];
        const result = await run(process.execPath, args, { cwd: dir }).then(
          () => '',
          (err: { stdout: string }) => err.stdout,
        );
        expect(result, `tsc --module ${module}`).to.equal('');
      }
    });
  });
});
