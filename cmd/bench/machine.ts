/**
 * What the report says about the machine and the software it measured.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { PEERS } from './cells.js';

export interface Machine {
  cpu: string;
  /** Logical CPUs the machine has, and those the benchmark could use before pinning. */
  cores: number;
  available: number;
  memoryGiB: number;
  os: string;
  node: string;
  v8: string;
  memcached: string;
  /** How memcached and the clients were placed on cores. */
  pinning: string;
  /** memline's commit, and whether lib/ or protocols/ had uncommitted changes. */
  memline: string;
  /** Installed versions of the peers. */
  peers: Record<string, string>;
}

export function describeMachine(
  root: string,
  memcached: string,
  pinning: string,
  available: number,
): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpuModel() ?? cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    available,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    memcached,
    pinning,
    memline: memlineRevision(root),
    peers: Object.fromEntries(PEERS.map((p) => [p, packageVersion(root, p)])),
  };
}

/** /proc's model name (os.cpus() gives the same on Linux, but not always with the frequency). */
function cpuModel(): string | undefined {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'latin1'))?.[1]?.trim();
  } catch {
    return undefined;
  }
}

function memlineRevision(root: string): string {
  try {
    const git = (...args: string[]): string =>
      execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'lib', 'protocols') !== '';
    return dirty ? `${commit} + uncommitted changes in lib/ or protocols/` : commit;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function packageVersion(root: string, name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}
