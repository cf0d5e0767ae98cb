/**
 * Time-boxed property runs. Each property runs for its share of `MEMLINE_FUZZ_SECONDS` (default 2 s
 * per unit share, so the whole security suite stays well under a minute in CI), or for as many runs as
 * fit; set the variable higher for a long run by hand:
 *
 *   MEMLINE_FUZZ_SECONDS=120 npx mocha --no-config -n import=tsx --timeout 0 'test/security/*.test.ts'
 *
 * Every run prints its seed and run count. A failure prints fast-check's report (seed, path and the
 * shrunk counterexample); replay it with MEMLINE_FUZZ_SEED=<seed> MEMLINE_FUZZ_PATH=<path>.
 */
import fc from 'fast-check';

/** Seconds per unit of fuzzing share. */
export const FUZZ_SECONDS = positive(process.env.MEMLINE_FUZZ_SECONDS, 2);

/** Totals for the closing summary: property name → runs and seconds. */
export const fuzzLog: { name: string; runs: number; seconds: number; seed: number }[] = [];

export interface FuzzOptions {
  /** This property's share of {@link FUZZ_SECONDS}. @default 1 */
  share?: number;
  /** Fewer runs than this is a failure (the machine was too slow to test anything). @default 20 */
  minRuns?: number;
}

/**
 * Runs `property` until its time is up (or a failure is found and shrunk), prints the volume and the
 * seed, and throws fast-check's report on failure.
 */
export async function fuzz<Ts>(
  name: string,
  property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>,
  options: FuzzOptions = {},
): Promise<void> {
  const ms = Math.round(FUZZ_SECONDS * (options.share ?? 1) * 1000);
  const seed = process.env.MEMLINE_FUZZ_SEED;
  const parameters: fc.Parameters<unknown> = {
    numRuns: 1_000_000_000,
    plugins: [fc.interruptAfterTimeLimit(ms)],
    ...(seed === undefined ? {} : { seed: Number(seed), path: process.env.MEMLINE_FUZZ_PATH }),
  };
  const start = performance.now();
  const tracked = trackRuns(property as fc.IAsyncPropertyWithHooks<unknown>);
  const details = await fc.check(tracked.property, parameters);
  // fast-check stops waiting for the run in progress when the time is up; it is still talking to the
  // test's servers. Wait for it, so that it cannot touch what the next property uses, and report it
  // if it failed.
  const abandoned = await tracked.last();
  const seconds = (performance.now() - start) / 1000;
  fuzzLog.push({ name, runs: details.numRuns, seconds, seed: details.seed });
  console.log(
    `        fuzz "${name}": ${details.numRuns} runs in ${seconds.toFixed(1)} s, seed ${details.seed}`,
  );
  if (details.failed) {
    const cause = details.errorInstance;
    throw new Error(`${fc.defaultReportMessage(details)}\n\nThe property failed with: ${String(cause)}`, {
      cause,
    });
  }
  if (abandoned !== undefined) {
    const why = abandoned instanceof Error ? abandoned.message : JSON.stringify(abandoned);
    throw new Error(`the run in progress when time was up failed: ${why}`, { cause: abandoned });
  }
  // A replay from a path runs from that counterexample on only: too few runs then is no failure.
  const minRuns = process.env.MEMLINE_FUZZ_PATH === undefined ? (options.minRuns ?? 20) : 1;
  if (details.numRuns < minRuns) {
    throw new Error(`only ${details.numRuns} runs in ${seconds.toFixed(1)} s (expected at least ${minRuns})`);
  }
}

function positive(text: string | undefined, fallback: number): number {
  const n = text === undefined ? NaN : Number(text);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/**
 * `property` with its runs followed: {@link last} waits for the latest run (which fast-check may have
 * stopped waiting for) and gives its failure, or undefined when it passed or was never started.
 */
function trackRuns<Ts>(property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>): {
  property: fc.IAsyncPropertyWithHooks<Ts>;
  last: () => Promise<unknown>;
} {
  if (!property.isAsync()) {
    return { property: property as fc.IAsyncPropertyWithHooks<Ts>, last: () => Promise.resolve(undefined) };
  }
  let latest: Promise<unknown> = Promise.resolve(null);
  const tracked = Object.create(property) as fc.IAsyncPropertyWithHooks<Ts>;
  tracked.run = (v: Ts) => {
    const run = Promise.resolve(property.run(v) as ReturnType<fc.IAsyncPropertyWithHooks<Ts>['run']>);
    latest = run;
    return run;
  };
  return {
    property: tracked,
    last: async () => {
      // A run passes with null (or a skip); a failure carries its error.
      const outcome = await latest.catch((error: unknown) => ({ error }));
      return typeof outcome === 'object' && outcome !== null && 'error' in outcome
        ? outcome.error
        : undefined;
    },
  };
}
