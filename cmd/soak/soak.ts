/**
 * One soak run: start the servers, load them through one client while faults come and go, then stop
 * in order (faults undone, calls settled, client closed, servers stopped by PID) and judge the run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { closeEventLog, openEventLog } from './events.js';
import { FaultRunner } from './faults.js';
import type { SoakOptions } from './options.js';
import { Random } from './random.js';
import { Output, progressLine, summaryJson, summaryText, type SoakResult } from './report.js';
import { killServersNow, startServers, stopServers, type LocalServer } from '../shared/local-servers.js';
import { SoakStats } from './stats.js';
import { Workload } from './workload.js';

/** The client's per-call deadline, in ms. */
const TIMEOUT_MS = 1000;
/** How long the calls in flight get to settle once the load stops, and `close()` to finish. */
const SETTLE_MS = 3 * TIMEOUT_MS + 2000;
const CLOSE_MS = 5000;

/** Runs the soak; resolves with the exit code once every server is stopped. */
export async function runSoak(o: SoakOptions): Promise<number> {
  const events = o.log === undefined ? undefined : openEventLog(o.log);
  const out = new Output(o.json ? process.stderr : process.stdout, events);
  const random = new Random(o.seed);
  const faultRandom = random.fork();
  out.log(`seed ${o.seed} (replay the mix and the fault schedule with --seed ${o.seed})`, { seed: o.seed });

  let servers: LocalServer[] = [];
  let interrupted: string | undefined;
  const stopper = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted !== undefined) {
      killServersNow(servers); // a second signal: stop at once
      process.exit(130);
    }
    interrupted = sig;
    out.log(`${sig}: stopping (again to stop at once)`);
    stopper.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let client: MemcacheClient | undefined;
  let faults: FaultRunner | undefined;
  let ticker: NodeJS.Timeout | undefined;
  try {
    servers = await startServers(o.servers);
    for (const s of servers)
      out.log(`memcached ${s.address} (pid ${s.pid})`, { server: s.address, pid: s.pid });
    if (o.faults && servers.some((s) => s.argv === undefined)) {
      out.log('no /proc command line to restart memcached with: faults are SIGSTOP/SIGCONT only');
    }
    if (stopper.signal.aborted) return 130;

    const live = new MemcacheClient({
      servers: servers.map((s) => s.address),
      timeout: TIMEOUT_MS,
      ...(events === undefined ? {} : { logger: events }),
    });
    client = live;
    const stats = new SoakStats(TIMEOUT_MS);
    const workload = new Workload(live, random, stats);
    faults = o.faults
      ? new FaultRunner(
          servers,
          faultRandom,
          o.faultEvery,
          () => out.elapsed(),
          (line, fields) => out.log(line, fields),
        )
      : undefined;
    const heapStart = process.memoryUsage().heapUsed;

    let lastTotal = 0;
    let lastAt = performance.now();
    const runner = faults;
    ticker = setInterval(() => {
      const now = performance.now();
      const rate = ((stats.total - lastTotal) * 1000) / (now - lastAt);
      [lastTotal, lastAt] = [stats.total, now];
      const breakers = live.metrics.servers.filter((b) => b.breaker !== 'closed');
      out.progress(
        progressLine(
          stats,
          rate,
          runner?.current,
          breakers.map((b) => `${b.server} ${b.breaker}`),
        ),
      );
    }, 1000);

    const loadStart = performance.now();
    workload.start(o.concurrency);
    faults?.start();
    await sleep(o.duration * 1000, undefined, { signal: stopper.signal }).catch(() => undefined);
    const seconds = (performance.now() - loadStart) / 1000;

    if (faults !== undefined) out.log('stopping: undoing the fault in progress, if any');
    await faults?.stop();
    const settled = await workload.stop(SETTLE_MS);
    const hung = settled === 'hung' ? workload.unsettled() : [];
    clearInterval(ticker);
    const metrics = live.metrics.total;

    let closeHung = false;
    if (!(await within(live.close(), CLOSE_MS))) {
      closeHung = true;
      live.destroy();
    }
    const afterClose = live.metrics.total;
    client = undefined;
    const heapEnd = process.memoryUsage().heapUsed;
    await stopServers(servers);
    out.log(`stopped ${servers.length} memcached processes`);

    const result: SoakResult = {
      options: o,
      seconds,
      interrupted,
      stats,
      faults: faults?.events ?? [],
      metrics,
      afterClose,
      heapUsed: { start: heapStart, end: heapEnd },
      hung,
      failures: [],
    };
    result.failures = judge(result, closeHung, faults?.failed ?? false);
    out.print(summaryText(result));
    if (o.json) process.stdout.write(`${summaryJson(result)}\n`);
    return result.failures.length === 0 ? 0 : 1;
  } finally {
    clearInterval(ticker);
    await faults?.stop(); // before the servers stop, so that no restart comes after
    client?.destroy();
    await stopServers(servers);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    closeEventLog(events);
  }
}

/** Whether `promise` settles within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why the run fails; empty when it passes. */
function judge(r: SoakResult, closeHung: boolean, faultFailed: boolean): string[] {
  const { stats } = r;
  const failures: string[] = [];
  if (stats.desyncs > 0) failures.push(`${stats.desyncs} values read for another key (desync)`);
  if (stats.corrupt > 0) failures.push(`${stats.corrupt} damaged values`);
  const unexpected = stats.unexpectedCodes();
  if (unexpected.length > 0) failures.push(`errors no fault explains: ${unexpected.join(', ')}`);
  if (r.hung.length > 0)
    failures.push(`${r.hung.length} calls had not settled ${SETTLE_MS} ms after the load`);
  if (closeHung) failures.push(`close() had not finished after ${CLOSE_MS} ms`);
  const left = r.afterClose;
  if (left.connections + left.pending + left.inflight > 0) {
    failures.push(
      `after close: ${left.connections} connections, ${left.pending} pending, ${left.inflight} in flight`,
    );
  }
  if (faultFailed) failures.push('a fault could not be undone');
  if (stats.total === 0) failures.push('no call completed');
  return failures;
}
