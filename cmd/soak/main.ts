/**
 * memline's soak program (`npm run soak -- --help`): a mixed workload against local memcached
 * processes, with servers stopped and killed on a seeded schedule, checking that no value is ever
 * read for another key.
 */
import { optionsOrExit } from '../shared/options.js';
import { parseOptions, USAGE } from './options.js';
import { runSoak } from './soak.js';

const options = optionsOrExit('soak', USAGE, parseOptions);

try {
  process.exitCode = await runSoak(options);
} catch (err) {
  console.error(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
}

// Everything is closed and stopped by now, so the process should end by itself. If something still
// holds the event loop, say what and end anyway: a soak must not hang a CI job.
setTimeout(() => {
  const left = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'Timeout');
  console.error(`soak: the event loop is still held after the run (${left.join(', ')}); exiting`);
  process.exit(process.exitCode ?? 1);
}, 2000).unref();
