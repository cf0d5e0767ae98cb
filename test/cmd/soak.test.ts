/**
 * The soak program (`npm run soak`, cmd/soak/): a short seeded run with faults, its event log written
 * through pino to a file, and the option parsing it shares with the benchmark (cmd/shared/options.ts).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions as benchOptions } from '../../cmd/bench/options.js';
import { UsageError } from '../../cmd/shared/options.js';
import { parseOptions as soakOptions } from '../../cmd/soak/options.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../cmd/soak/main.ts', import.meta.url));
const RUN_LIMIT_MS = 40_000;

function soak(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe('soak program (cmd/soak)', function () {
  this.timeout(RUN_LIMIT_MS + 10_000);

  it('--log writes the events as pino JSON lines: the seed, the servers, each fault with its fields', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memline-soak-test-'));
    try {
      const file = join(dir, 'events.log');
      const args = ['--duration', '2.5', '--servers', '2', '--concurrency', '20', '--fault-every', '0.5'];
      const r = await soak([...args, '--seed', '7', '--log', file]);
      expect(r.code, r.out + r.err).to.equal(0);
      const lines = (await readFile(file, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines[0]).to.include({ name: 'memline-soak', level: 30, seed: 7 });
      expect(lines.filter((l) => typeof l.pid === 'number' && l.fault === undefined)).to.have.length(2);
      const fault = lines.find((l) => l.fault === 'SIGSTOP' || l.fault === 'SIGKILL');
      expect(fault, JSON.stringify(lines)).to.have.property('server').that.is.a('string');
      expect(fault).to.have.property('elapsed').that.is.a('number');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bench and soak reject bad numbers and unknown flags with the same UsageError', () => {
    expect(() => soakOptions(['--servers', '0'])).to.throw(UsageError, /--servers must be a number from 1/);
    expect(() => benchOptions(['--repeats', '1.5'])).to.throw(UsageError, /--repeats must be an integer/);
    expect(() => soakOptions(['--nope'])).to.throw(UsageError, /nope/);
    expect(() => benchOptions(['--nope'])).to.throw(UsageError, /nope/);
    expect(soakOptions(['--log', 'x.log'])).to.include({ log: 'x.log' });
  });
});
