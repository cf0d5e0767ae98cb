/**
 * memline's benchmark (`npm run bench -- --help`): memline side by side with a raw pipelined socket and
 * the other Node clients, against memcached processes it starts and pins itself.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runBench } from './bench.js';
import { optionsOrExit } from '../shared/options.js';
import { parseOptions, USAGE } from './options.js';
import { buildReports } from './report.js';

// The repository root, from cmd/bench/ (under tsx) or dist/cmd/bench/ (compiled).
const HERE = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const ROOT = HERE.endsWith('/dist') ? HERE.slice(0, -'/dist'.length) : HERE;

const options = optionsOrExit('bench', USAGE, parseOptions);

try {
  // Progress goes to stderr, the report to stdout.
  const data = await runBench(options, ROOT, (line) => console.error(line));
  const stamp = data.date.replace(/[:.]/g, '-').slice(0, 19);
  const name = `bench-${data.mode}-${stamp}`;
  const { markdown, json, svg } = buildReports(data, `${name}.svg`);
  mkdirSync(`${ROOT}/bench-results`, { recursive: true });
  const base = `bench-results/${name}`;
  writeFileSync(`${ROOT}/${base}.md`, markdown + '\n');
  writeFileSync(`${ROOT}/${base}.json`, json + '\n');
  writeFileSync(`${ROOT}/${base}.svg`, svg);
  console.log(`\n${markdown}`);
  console.error(`\nbench: wrote ${base}.md, ${base}.json and ${base}.svg`);
  const wrong = data.cells.some((c) => c.clients.some((s) => s.runs.some((r) => r.mismatches > 0)));
  process.exitCode = wrong ? 1 : 0;
} catch (err) {
  console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
}

// Everything is stopped by now; if a peer still holds the event loop, do not hang.
setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
