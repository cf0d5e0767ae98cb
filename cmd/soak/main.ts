/**
 * memline's soak program (`npm run soak -- --help`): a mixed workload against local memcached
 * processes, with servers stopped and killed on a seeded schedule, checking that no value is ever
 * read for another key.
 */
import { parseOptions, USAGE, UsageError, type SoakOptions } from './options.js';
import { runSoak } from './soak.js';

let options: SoakOptions | 'help';
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`soak: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options === 'help') {
  console.log(USAGE);
  process.exit(0);
}

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
