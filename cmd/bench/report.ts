/**
 * The Markdown and JSON reports.
 */
import { LEAK_OPENED } from './cell.js';
import { CLIENTS, type CellSpec, type ClientName } from './cells.js';
import type { BenchData } from './bench.js';
import { chart } from './chart.js';
import type { MemoryResult } from './memory.js';
import { bytes, median, micros, rate, ratio } from './stats.js';
import {
  P99_TARGET,
  PEER_TARGET,
  RAW_TARGET,
  SIGNAL_TARGET,
  summarize,
  verdicts,
  type CellSummary,
  type Verdict,
} from './summary.js';

const LABEL: Record<string, string> = {
  raw: 'raw socket',
  'raw-contract': "raw, memline's flags",
  'raw-promise': "raw, memline's flags, a promise per call",
  'memline-coalesce': 'memline, coalescing',
  'memline-near': 'memline, coalescing + near cache',
  'memline-signal': 'memline, one AbortSignal',
  'memline-baseline': 'memline, baseline build',
};
const label = (name: string): string => LABEL[name] ?? name;

/** The entries of clients `a` and `b` in a cell, when both have runs there. */
function ranBoth<C extends { name: string; runs: readonly unknown[] }>(
  clients: readonly C[],
  a: string,
  b: string,
): [C, C] | undefined {
  const first = clients.find((c) => c.name === a);
  const second = clients.find((c) => c.name === b);
  if (first === undefined || second === undefined || first.runs.length === 0 || second.runs.length === 0) {
    return undefined;
  }
  return [first, second];
}

type ClientRuns = BenchData['cells'][number]['clients'][number];

/**
 * A section comparing clients `a` and `b` in each cell where both ran: a row per such cell (`row`
 * gets the cell, the two clients' entries and all of the cell's), under `title` and the table's
 * `header` (its two Markdown lines), with `note` below; nothing when no cell ran both.
 */
function pairSection(
  data: BenchData,
  [a, b]: [ClientName, ClientName],
  title: string,
  header: readonly [string, string],
  row: (cell: CellSpec, first: ClientRuns, second: ClientRuns, clients: readonly ClientRuns[]) => string,
  note: string,
): string[] {
  const rows: string[] = [];
  for (const { cell, clients } of data.cells) {
    const both = ranBoth(clients, a, b);
    if (both !== undefined) rows.push(row(cell, both[0], both[1], clients));
  }
  if (rows.length === 0) return [];
  return [`## ${title}`, '', ...header, ...rows, '', note];
}

/** The median rate of a client's runs. */
const medianRate = (c: ClientRuns): number => median(c.runs.map((r) => r.rate));

/**
 * This build's memline against the `--baseline` build, cell by cell: the ratio of the medians, and
 * the ratio of each pair of runs (run k of each: the runs alternate, so a pair is close in time and
 * shares the machine's state, where medians over the cell can drift with it).
 */
function baselineSection(data: BenchData): string[] {
  return pairSection(
    data,
    ['memline', 'memline-baseline'],
    'This build against the baseline build',
    [
      '| cell | memline | baseline | ÷ (medians) | ÷ (median of pairs) | ÷ per pair, sorted |',
      '| --- | ---: | ---: | ---: | ---: | --- |',
    ],
    (cell, now, base) => {
      const pairs = Math.min(now.runs.length, base.runs.length);
      const ratios: number[] = [];
      for (let k = 0; k < pairs; k++) ratios.push(now.runs[k].rate / base.runs[k].rate);
      ratios.sort((x, y) => x - y);
      const nowMedian = medianRate(now);
      const baseMedian = medianRate(base);
      return (
        `| ${cell.id} | ${rate(nowMedian)} | ${rate(baseMedian)} | ${ratio(nowMedian / baseMedian)} | ` +
        `${ratio(median(ratios))} | ${ratios.map((r) => ratio(r)).join(' ')} |`
      );
    },
    'A pair is run k of each build; the two alternate within a cell (in the in-process cells they run at the same time), so each pair shares the moment.',
  );
}

/**
 * memline whose every call passes one shared AbortSignal against memline without one, in each cell
 * where both ran: the medians and their ratio, judged against {@link SIGNAL_TARGET}.
 */
function signalSection(data: BenchData): string[] {
  return pairSection(
    data,
    ['memline', 'memline-signal'],
    'Calls sharing one AbortSignal',
    [
      '| cell | memline, no signal | memline, one AbortSignal | signal ÷ no signal |',
      '| --- | ---: | ---: | ---: |',
    ],
    (cell, plain, signal) => {
      const plainMedian = medianRate(plain);
      const signalMedian = medianRate(signal);
      const r = signalMedian / plainMedian;
      return (
        `| ${cell.id} | ${rate(plainMedian)} ${cell.unit} | ${rate(signalMedian)} ${cell.unit} | ` +
        `${ratio(r)} ${r >= SIGNAL_TARGET ? '✓' : '✗'} |`
      );
    },
    "Every get, set and getMulti of `memline-signal` passes `{ signal }`, one AbortController's signal " +
      'made once per worker, never aborted, shared by every call in flight. ' +
      `Target: ≥ ${SIGNAL_TARGET} × memline without a signal (within 10%); ✓ met, ✗ missed.`,
  );
}

/**
 * memline against the promise ceiling (`raw-promise`, the contract socket with a promise per call),
 * in the cells that ran both: what a promise per call leaves of the raw socket, and what memline
 * costs beyond it.
 */
function promiseSection(data: BenchData): string[] {
  return pairSection(
    data,
    ['memline', 'raw-promise'],
    'A promise per call',
    [
      '| cell | raw, a promise per call | it ÷ raw | memline ÷ it | memline CPU per op ÷ its |',
      '| --- | ---: | ---: | ---: | ---: |',
    ],
    (cell, memline, promise, clients) => {
      const raw = clients.find((c) => c.name === 'raw');
      const promiseMedian = medianRate(promise);
      const vsRaw = raw === undefined || raw.runs.length === 0 ? '—' : ratio(promiseMedian / medianRate(raw));
      const cpu = (c: ClientRuns): number => median(c.runs.map((r) => r.cpuUsPerUnit));
      return (
        `| ${cell.id} | ${rate(promiseMedian)} ${cell.unit} | ${vsRaw} | ` +
        `${ratio(medianRate(memline) / promiseMedian)} | ${ratio(cpu(memline) / cpu(promise))} |`
      );
    },
    "The raw socket with memline's flags whose every call makes a promise, resolved when its replies " +
      'are in and awaited with `then` (made as memline makes its own: one shared executor, no closure ' +
      'per call), and nothing else: no validation, deadline, request object or Item. It ÷ raw is the most a ' +
      "client that returns a promise per call and sends memline's requests could reach here.",
  );
}

/** The reports; `chartFile` is the name of the SVG chart beside them, which the Markdown links. */
export function buildReports(
  data: BenchData,
  chartFile: string,
): { markdown: string; json: string; svg: string } {
  const cells = summarize(data);
  const judged = verdicts(cells);
  const json = JSON.stringify({ ...data, summary: cells, verdicts: judged }, null, 2);
  return { markdown: markdown(data, cells, judged, chartFile), json, svg: chart(cells) };
}

function markdown(data: BenchData, cells: CellSummary[], judged: Verdict[], chartFile: string): string {
  const m = data.machine;
  const t = data.timing;
  const shown = CLIENTS.filter((c) => cells.some((cell) => cell.clients.some((s) => s.name === c)));
  const out: string[] = [];
  out.push(`# memline benchmark (${data.mode} run)`, '');
  out.push(
    `${data.date.slice(0, 16).replace('T', ' ')} UTC · \`${data.command}\` · ${(data.seconds / 60).toFixed(1)} min`,
    '',
  );
  out.push(
    `- **Machine:** ${m.cpu}, ${m.cores} logical CPUs, ${m.memoryGiB} GiB; ${m.os}; Node ${m.node} (V8 ${m.v8}); ` +
      `memcached ${m.memcached} with \`-t 1\`; ${m.pinning}.`,
    `- **Clients:** memline ${m.memline}; ` +
      Object.entries(m.peers)
        .map(([p, v]) => `${p} ${v}`)
        .join(', ') +
      '. Each runs in its own process with its default options (loggers silenced), closed loop: each call ' +
      'that finishes starts the next.',
    `- **Method:** 10,000 keys taken in turn, 100-byte values that embed their key (the large-value cells: 1,000 of 16 KiB, 32 of 512 KiB; the hot-key cells: 100,000 keys drawn from a Zipf distribution). Per cell and client ${t.repeats} timed runs of ` +
      `${t.durationMs / 1000} s, interleaved across clients (${t.firstWarmupMs / 1000} s warm-up before the first, ` +
      `${t.warmupMs / 1000} s before the others). Figures are medians; spread is (max − min) ÷ median. ` +
      "Every value read is compared with its key's; after each set run every key written is read back through the raw socket.",
    `- **Background load:** ${background(data)}`,
    '',
  );

  out.push('## Throughput (medians)', '');
  out.push(
    `Chart: [${chartFile}](${chartFile}), each client's throughput per cell against the two ceilings.`,
    '',
  );
  out.push(
    `| cell | ${shown.map(label).join(' | ')} | memline ÷ raw | memline ÷ raw with its flags | memline ÷ best peer |`,
  );
  out.push(`| --- | ${shown.map(() => '---:').join(' | ')} | ---: | ---: | ---: |`);
  for (const c of cells) {
    const v = judged.find((j) => j.cell === c.id);
    const cols = shown.map((name) => {
      const s = c.clients.find((x) => x.name === name);
      if (s === undefined || s.median === undefined)
        return s?.status === 'skipped' ? 'n/a' : s ? 'failed' : '';
      return rate(s.median) + (s.mismatches > 0 ? ' ⚠' : '');
    });
    const vsRaw = v?.vsRaw === undefined ? '—' : `${ratio(v.vsRaw)}${v.underRaw ? ' ✗' : ''}`;
    const vsContract = ratio(v?.vsContract);
    const vsPeer =
      v?.vsBestPeer === undefined ? '—' : `${ratio(v.vsBestPeer)}${v.underPeer && v.peerTarget ? ' ✗' : ''}`;
    out.push(`| ${c.title} (${c.unit}) | ${cols.join(' | ')} | ${vsRaw} | ${vsContract} | ${vsPeer} |`);
  }
  out.push(
    '',
    'Two ceilings: the raw socket sends the least a client can (`mg <key> v`); the raw socket with ' +
      "memline's flags sends what memline's contract needs (`mg <key> v f c O<n>`, quiet " +
      '`mg … q k O<n>` lines and `mn` for getMulti), so memline ÷ it is the cost of the client itself. ' +
      '✗ marks a miss of a target: memline ≥ 0.9 × the raw socket for get and set at 50 in flight, ' +
      `≥ 0.85 × for getMulti ×100, ≥ ${RAW_TARGET} × in every other loaded cell (none at 1 in flight), ` +
      `≥ ${PEER_TARGET} × the best peer at 50 and 500 in flight. n/a: the client cannot do it (see below). ` +
      '⚠: the client read wrong values.',
    '',
  );

  const hot = cells.filter((c) => c.zipf > 0);
  if (hot.length > 0) out.push(...hotKeysSection(hot), '');
  const promise = promiseSection(data);
  if (promise.length > 0) out.push(...promise, '');
  const signal = signalSection(data);
  if (signal.length > 0) out.push(...signal, '');
  const against = baselineSection(data);
  if (against.length > 0) out.push(...against, '');

  out.push(...cpuTable(cells, shown), '');
  out.push(...gcTable(cells, shown), '');

  const lat = cells.filter((c) => c.latency);
  for (const c of lat) {
    out.push(`## Latency: ${c.title}`, '');
    out.push('| client | p50 | p90 | p99 | p99.9 | p99 ÷ raw p99 | gets/s |');
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    const rawP99 = c.clients.find((s) => s.name === 'raw')?.latency?.p99;
    for (const s of c.clients) {
      if (s.latency === undefined) continue;
      const l = s.latency;
      const r = rawP99 !== undefined ? l.p99 / rawP99 : undefined;
      const flag = s.name === 'memline' && r !== undefined && r > P99_TARGET ? ' ✗' : '';
      out.push(
        `| ${label(s.name)} | ${micros(l.p50)} | ${micros(l.p90)} | ${micros(l.p99)} | ${micros(l.p999)} | ` +
          `${ratio(r)}${flag} | ${rate(s.median ?? NaN)} |`,
      );
    }
    out.push('', `Target: memline's p99 ≤ ${P99_TARGET} × the raw socket's.`, '');
  }

  out.push('## Targets', '');
  const under = (xs: Verdict[]): string =>
    xs.length === 0 ? 'none' : xs.map((v) => `\`${v.cell}\``).join(', ');
  out.push(`- memline under its target share of the raw socket: ${under(judged.filter((v) => v.underRaw))}.`);
  out.push(
    `- memline under ${PEER_TARGET}× the best peer: ${under(judged.filter((v) => v.underPeer))} ` +
      `(the target applies to ${under(judged.filter((v) => v.peerTarget))}; ` +
      `missed there: ${under(judged.filter((v) => v.peerTarget && v.underPeer))}).`,
  );
  for (const v of judged) {
    if (v.p99VsRaw !== undefined) {
      out.push(
        `- memline's p99 is ${ratio(v.p99VsRaw)} × the raw socket's in \`${v.cell}\` (target ≤ ${P99_TARGET}).`,
      );
    }
  }
  out.push('');

  out.push('## Every client, every cell', '');
  out.push(
    '| cell | client | median | spread | client CPU per op | GC | writes / reads per 100 ops | memcached CPU | other load | ÷ raw | ÷ raw with flags | ÷ best peer | wrong values | errors |',
  );
  out.push(
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const c of cells) {
    for (const s of c.clients) {
      if (s.median === undefined) continue;
      const best = c.bestPeer?.name === s.name ? ' (best peer)' : '';
      out.push(
        `| ${c.id} | ${label(s.name)}${best} | ${rate(s.median)} ${c.unit} | ${s.spread!.rangePct.toFixed(1)}% | ` +
          `${micros(s.cpuUsPerUnit!)} | ${pct1(s.gcPct)} | ${per100(s.writesPerUnit)} / ${per100(s.readsPerUnit)} | ` +
          `${pct(s.serverCpuPct)} | ${pct(s.otherCpuPct)} | ` +
          `${ratio(s.vsRaw)} | ${ratio(s.vsContract)} | ${ratio(s.vsBestPeer)} | ${s.mismatches} | ${s.errors}${s.stalled > 0 ? ` (${s.stalled} stalled)` : ''} |`,
      );
    }
  }
  out.push(
    '',
    "CPU per op is the client process's user + system time per get, set or key; GC is the share of the " +
      "timed window the client's process spent collecting garbage; writes and reads are its " +
      'system calls (/proc/self/io), a measure of batching. memcached CPU and other load ' +
      '(CPU used meanwhile by every other process on the machine) are % of one core, medians over the runs.',
    '',
  );

  if (data.memory !== undefined) out.push(...memorySection(data.memory), '');

  out.push('## Correctness', '');
  const flagged = cells.flatMap((c) =>
    c.clients.filter((s) => s.mismatches > 0).map((s) => `${s.name} in \`${c.id}\` (${s.mismatches})`),
  );
  out.push(
    flagged.length === 0
      ? '- No client read a wrong or missing value.'
      : `- **Wrong or missing values:** ${flagged.join(', ')}.`,
  );
  const errs = cells.flatMap((c) =>
    c.clients
      .filter((s) => s.errors > 0)
      .map((s) => `${s.name} in \`${c.id}\`: ${s.errors} (${s.firstError ?? ''})`),
  );
  if (errs.length > 0) out.push(`- Errors: ${errs.join('; ')}.`);
  const leaks = cells.flatMap((c) =>
    c.clients
      .filter((s) => s.restarts > 0 || (s.connectionsOpenedMax ?? 0) > 16)
      .map(
        (s) =>
          `${s.name} in \`${c.id}\`: up to ${s.connectionsOpenedMax} connections opened in one run` +
          (s.restarts > 0 ? `, worker restarted ${times(s.restarts)} to close them` : ''),
      ),
  );
  out.push(
    leaks.length === 0
      ? '- No client opened more than 16 connections in a run.'
      : `- **Connections opened** (memcached's \`total_connections\` over a run; a worker that opens more ` +
          `than ${LEAK_OPENED} is restarted after the run so memcached's connection limit is never reached): ${leaks.join('; ')}.`,
  );
  out.push('');

  // "client: reason" → the cells it applies to.
  const notes = new Map<string, string[]>();
  for (const c of cells) {
    for (const s of c.clients) {
      if (s.status === 'ok' || s.reason === undefined) continue;
      const what = `${s.name}: ${s.reason}`;
      notes.set(what, [...(notes.get(what) ?? []), `\`${c.id}\``]);
    }
  }
  out.push('## Not measured', '');
  if (notes.size === 0) out.push('- Every client ran every cell.');
  for (const [what, where] of notes) out.push(`- ${what} (${where.join(', ')}).`);
  out.push(
    `- Values handed to \`set\`: ${Object.entries(data.valueTypes)
      .map(([c, v]) => `${c} ${v}`)
      .join(', ')} (what each client's \`get\` returns).`,
    '',
  );

  for (const p of data.profiles) {
    out.push(
      `## Profile: memline, \`${p.cell}\``,
      '',
      `\`${p.file}\`: ${(p.totalMs / 1000).toFixed(1)} s sampled, ${(p.busyMs / 1000).toFixed(1)} s of it busy ` +
        '(start-up and warm-up included); self time as % of the busy time.',
      '',
    );
    out.push('| self | function | where |', '| ---: | --- | --- |');
    for (const f of p.top) out.push(`| ${f.selfPct.toFixed(1)}% | ${f.name} | ${f.location} |`);
    out.push('', 'In lib/ and protocols/:', '', '| self | function | where |', '| ---: | --- | --- |');
    for (const f of p.memline) out.push(`| ${f.selfPct.toFixed(1)}% | ${f.name} | ${f.location} |`);
    out.push(
      '',
      `By file: ${p.memlineFiles.map((f) => `${f.file} ${f.selfPct.toFixed(1)}%`).join(', ')}.`,
      '',
    );
  }
  return out.join('\n');
}

/**
 * The hot-key cells: how much of the read load coalescing and the near cache keep off memcached, and
 * what that does to throughput.
 */
function hotKeysSection(cells: readonly CellSummary[]): string[] {
  const out = ['## Hot keys', ''];
  out.push(
    '| cell | client | throughput | ÷ coalescing off | memcached gets per op | memcached hits per op | near-cache hits per op | coalesced per op | memcached CPU | client CPU per op |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  const per = (x: number | undefined): string => (x === undefined ? '—' : x.toFixed(3));
  for (const c of cells) {
    const plain = c.clients.find((s) => s.name === 'memline')?.median;
    for (const name of CLIENTS) {
      const s = c.clients.find((x) => x.name === name);
      if (s?.median === undefined) continue;
      const vsPlain = plain !== undefined && s.name.startsWith('memline') ? s.median / plain : undefined;
      out.push(
        `| ${c.id} | ${label(s.name)} | ${rate(s.median)} ${c.unit} | ${ratio(vsPlain)} | ` +
          `${per(s.serverGetsPerUnit)} | ${per(s.serverHitsPerUnit)} | ${per(s.nearHitsPerUnit)} | ` +
          `${per(s.coalescedPerUnit)} | ${pct(s.serverCpuPct)} | ${s.cpuUsPerUnit === undefined ? '—' : micros(s.cpuUsPerUnit)} |`,
      );
    }
  }
  out.push(
    '',
    `Keys drawn from a Zipf(${cells.map((c) => c.zipf).join(', ')}) distribution (seeded: every client reads the same sequence). ` +
      'memline runs three ways: its defaults (no coalescing), `coalesce: true` (concurrent reads of a key share one request), ' +
      'and with `nearCache: { maxAge: 1000, promoteChance: 0.1 }` as well. Memcached gets and hits per op are ' +
      "the server's `cmd_get` and `get_hits` over each whole run (warm-up and drain included) ÷ the client's " +
      "completed gets; near-cache hits and coalesced reads are the client's own counters (`metrics.total`) over the same " +
      'runs. Each get either reaches memcached, shares a request in flight, or is answered from the near cache.',
  );
  return out;
}

/**
 * Client CPU per operation: less disturbed by other load on the machine than throughput, and what the
 * hot-path work changes directly. "raw ÷ memline" is the share of the ceiling's efficiency memline has.
 */
function cpuTable(cells: CellSummary[], shown: readonly string[]): string[] {
  const out = ['## Client CPU per operation (medians)', ''];
  out.push(`| cell | ${shown.map(label).join(' | ')} | raw ÷ memline |`);
  out.push(`| --- | ${shown.map(() => '---:').join(' | ')} | ---: |`);
  for (const c of cells) {
    const cpu = (name: string): number | undefined => c.clients.find((s) => s.name === name)?.cpuUsPerUnit;
    const raw = cpu('raw');
    const memline = cpu('memline');
    const cols = shown.map((name) => {
      const x = cpu(name);
      return x === undefined ? (c.clients.some((s) => s.name === name) ? 'n/a' : '') : micros(x);
    });
    const eff = raw !== undefined && memline !== undefined ? ratio(raw / memline) : '—';
    out.push(`| ${c.title} (per ${c.unit.split('/')[0].replace(/s$/, '')}) | ${cols.join(' | ')} | ${eff} |`);
  }
  out.push(
    '',
    "User + system time of the client's process per operation. At 1 in flight it is mostly the cost of " +
      'sleeping and waking the event loop.',
  );
  return out;
}

/** CPU that other processes used during the timed runs: these machines are shared, so say how much. */
function background(data: BenchData): string {
  const other = data.cells.flatMap((c) => c.clients.flatMap((s) => s.runs.map((r) => r.otherCpuPct)));
  const steal = data.cells.flatMap((c) => c.clients.flatMap((s) => s.runs.map((r) => r.stealPct)));
  const known = other.filter((x): x is number => x !== null);
  if (known.length === 0) return 'unknown (no /proc/stat).';
  const stolen = steal.filter((x): x is number => x !== null);
  return (
    `other processes used a median ${median(known).toFixed(0)}% (max ${Math.max(...known).toFixed(0)}%) of one core ` +
    `during the timed runs; the hypervisor stole a median ${median(stolen).toFixed(0)}% (max ` +
    `${Math.max(...stolen).toFixed(0)}%). Runs with much background load are slower and spread wider.`
  );
}

const times = (n: number): string => (n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`);

const per100 = (x: number | undefined): string => (x === undefined ? '—' : (x * 100).toFixed(1));

const pct = (x: number | undefined): string => (x === undefined ? '—' : `${x.toFixed(0)}%`);

const pct1 = (x: number | undefined): string => (x === undefined ? '—' : `${x.toFixed(1)}%`);

/** Garbage collection's share of each client's timed window: what allocation on the hot path costs. */
function gcTable(cells: CellSummary[], shown: readonly string[]): string[] {
  const out = ['## Time in garbage collection (medians)', ''];
  out.push(`| cell | ${shown.map(label).join(' | ')} |`);
  out.push(`| --- | ${shown.map(() => '---:').join(' | ')} |`);
  for (const c of cells) {
    const cols = shown.map((name) => {
      const s = c.clients.find((x) => x.name === name);
      return s === undefined ? '' : s.gcPct === undefined ? 'n/a' : pct1(s.gcPct);
    });
    out.push(`| ${c.title} | ${cols.join(' | ')} |`);
  }
  out.push(
    '',
    "Pause time of the collections in the client's process (perf_hooks 'gc' entries) as % of the window.",
  );
  return out;
}

/** "the median of 3 rounds (184, 205, 186)"; reports written before rounds existed had one. */
function roundsText(rounds: number[] | undefined): string {
  if (rounds === undefined || rounds.length < 2) return 'one round';
  return `the median of ${rounds.length} rounds (${rounds.map((r) => r.toFixed(0)).join(', ')} bytes)`;
}

function memorySection(mem: MemoryResult | { error: string }): string[] {
  if ('error' in mem) return ['## Memory (memline)', '', `- The measurement failed: ${mem.error}`];
  const run = mem.longRun;
  const heaps = run.samples.map((s) => s.heapUsed);
  const every = Math.max(1, Math.ceil(run.samples.length / 10));
  const shown = run.samples.filter((_, i) => i % every === 0 || i === run.samples.length - 1);
  return [
    '## Memory (memline)',
    '',
    `- **${mem.heapPerPending.toFixed(0)} bytes of heap per pending request:** ${mem.pending.toLocaleString('en')} gets ` +
      `left pending against a SIGSTOPped memcached, ${roundsText(mem.rounds)}; heapUsed ${bytes(mem.heapBefore)} → ${bytes(mem.heapWithPending)}` +
      `${mem.gcExposed ? ', each after two full collections' : ' (gc() not exposed: not collected first)'}; ` +
      `the caller's promise is included. Off-heap (external + ArrayBuffers) changed by ` +
      `${mem.externalPerPending.toFixed(0)} bytes per request (bytes not yet taken by the kernel would show here). Once memcached resumed: ${mem.mismatches} wrong values, ${mem.errors} errors.`,
    `- **Over ${run.seconds.toFixed(0)} s at 500 in flight** (${rate(run.gets)} gets), heapUsed after a collection: ` +
      `first ${bytes(heaps[0])}, last ${bytes(heaps[heaps.length - 1])}, min ${bytes(Math.min(...heaps))}, ` +
      `max ${bytes(Math.max(...heaps))}` +
      // A slope over a few seconds extrapolates noise; give it only for runs long enough to mean something.
      (run.seconds >= 10 ? `, least-squares slope ${bytes(run.slopePerMinute)}/min. ` : '. ') +
      `Samples: ${shown.map((s) => `${s.t.toFixed(1)} s ${bytes(s.heapUsed)}`).join(', ')}.`,
  ];
}
