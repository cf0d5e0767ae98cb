import { once, type EventEmitter } from 'node:events';

/** The resources active when this module was loaded (stdio handles and whatever the runner held). */
const atLoad = current();

/**
 * The resources keeping the event loop alive (`process.getActiveResourcesInfo()` without terminal
 * handles), minus `baseline` (a multiset: each baseline entry cancels one equal entry). Inside a test,
 * pass a baseline from {@link snapshotResources}, since the runner's own timer is active there.
 * The harness servers and memcached children are unref'd, so they do not show up here.
 *
 * @example
 * const before = await snapshotResources();
 * await client.close();
 * await waitFor(() => activeResources(before).length === 0);
 */
export function activeResources(baseline: readonly string[] = atLoad): string[] {
  const left = [...baseline];
  return current().filter((name) => {
    const i = left.indexOf(name);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

/**
 * A baseline for {@link activeResources}. Async because mocha arms a test's timeout timer only once
 * the test function has returned its promise; after one turn that timer is part of the baseline.
 */
export async function snapshotResources(): Promise<string[]> {
  await new Promise((resolve) => setImmediate(resolve));
  return current();
}

/**
 * Polls `condition` (on setImmediate, then on short timers) until it returns true; rejects after
 * `timeoutMs`. Only for states no event announces; await the event where there is one.
 */
export async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; !condition(); round++) {
    if (Date.now() >= deadline) {
      throw new Error(`waitFor: condition still false after ${timeoutMs} ms: ${condition.toString()}`);
    }
    await new Promise((resolve) => (round < 10 ? setImmediate(resolve) : setTimeout(resolve, 5)));
  }
}

/** Resolves with the first of `events` to fire, or 'timeout' after `ms`: for asserting that nothing happens. */
export async function eventWithin(emitter: EventEmitter, events: string[], ms: number): Promise<string> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    return await Promise.race(events.map((e) => once(emitter, e, { signal: ac.signal }).then(() => e)));
  } catch {
    return 'timeout';
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

/** Whether a process with this PID exists (signal 0 probes without signalling). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function current(): string[] {
  return process.getActiveResourcesInfo().filter((name) => name !== 'TTYWrap');
}
