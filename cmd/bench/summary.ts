/**
 * Turns the runs into per-cell figures: medians, spread, ratios to the ceiling and to the best peer,
 * and memline's verdict against the design's targets.
 */
import { PEERS, type ClientName } from './cells.js';
import type { BenchData } from './bench.js';
import type { RunResult } from './load.js';
import { median, spread, type Spread } from './stats.js';

export interface ClientSummary {
  name: ClientName;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  runs: number;
  median?: number;
  spread?: Spread;
  cpuUsPerUnit?: number;
  /** Share of the timed window spent in garbage collection, % (median). */
  gcPct?: number;
  serverCpuPct?: number;
  /** Write and read system calls per operation (medians). */
  writesPerUnit?: number;
  readsPerUnit?: number;
  /** CPU used by the rest of the machine during this client's runs (median, % of one core). */
  otherCpuPct?: number;
  vsRaw?: number;
  /** ÷ the contract ceiling (the raw socket sending memline's flags). */
  vsContract?: number;
  vsBestPeer?: number;
  mismatches: number;
  errors: number;
  stalled: number;
  firstError?: string;
  /** Most connections the client opened in one run, and how often its worker was restarted for it. */
  connectionsOpenedMax?: number;
  restarts: number;
  /**
   * Per operation over whole runs (medians): memcached's `cmd_get` and `get_hits`, and the client's
   * near-cache hits and coalesced reads. Server gets under 1 are reads the client took off the server.
   */
  serverGetsPerUnit?: number;
  serverHitsPerUnit?: number;
  nearHitsPerUnit?: number;
  coalescedPerUnit?: number;
  /** Medians over the repeats, µs. */
  latency?: { p50: number; p90: number; p99: number; p999: number; max: number };
}

export interface CellSummary {
  id: string;
  title: string;
  unit: string;
  peerTarget: boolean;
  latency: boolean;
  /** The Zipf exponent keys are drawn with; 0 when they are taken in turn. */
  zipf: number;
  raw?: number;
  rawContract?: number;
  bestPeer?: { name: ClientName; median: number };
  clients: ClientSummary[];
}

/** memline in one cell, against the project's performance targets (README, Performance). */
export interface Verdict {
  cell: string;
  vsRaw?: number;
  vsContract?: number;
  vsBestPeer?: number;
  /** Under its target share of the raw socket (the minimal ceiling): see {@link rawTarget}. */
  underRaw: boolean;
  /** That target, if the cell has one. */
  rawTarget?: number;
  /** Under 3× the best peer (the target applies at 50 and 500 in flight). */
  underPeer: boolean;
  peerTarget: boolean;
  /** memline's p99 ÷ the raw socket's, in latency cells. */
  p99VsRaw?: number;
}

/**
 * memline's target share of the minimal raw socket in a cell (the performance issue's "done when"):
 * 0.9 for get and set at 50 in flight, 0.85 for getMulti ×100, 0.8 in every other loaded cell;
 * none at 1 in flight, where the time is the event loop's sleeping and waking, nor in the in-process
 * cells, where no socket is read or written.
 */
export function rawTarget(cell: string): number | undefined {
  switch (cell) {
    case 'get-1':
      return undefined;
    case 'get-50':
    case 'set-50':
      return 0.9;
    case 'multi-1':
    case 'multi-10':
      return 0.85;
    default:
      return cell.startsWith('inproc-') ? undefined : RAW_TARGET;
  }
}

/** The floor: memline's share of the raw socket in every loaded cell without a target of its own. */
export const RAW_TARGET = 0.8;
export const PEER_TARGET = 3;
export const P99_TARGET = 1.3;
/** memline with one AbortSignal shared by every call: at least this share of its throughput without one. */
export const SIGNAL_TARGET = 0.9;

export function summarize(data: BenchData): CellSummary[] {
  return data.cells.map(({ cell, clients }) => {
    const summaries: ClientSummary[] = clients.map((c) => {
      const s: ClientSummary = {
        name: c.name,
        status: c.status,
        runs: c.runs.length,
        mismatches: c.runs.reduce((a, r) => a + r.mismatches, 0),
        errors: c.runs.reduce((a, r) => a + r.errors, 0),
        stalled: c.runs.reduce((a, r) => a + r.stalled, 0),
        restarts: c.restarts,
      };
      const opened = c.runs.map((r) => r.connectionsOpened).filter((x): x is number => x !== null);
      if (opened.length > 0) s.connectionsOpenedMax = Math.max(...opened);
      if (c.reason !== undefined) s.reason = c.reason;
      const firstError = c.runs.find((r) => r.firstError !== undefined)?.firstError;
      if (firstError !== undefined) s.firstError = firstError;
      if (c.runs.length > 0) {
        const rates = c.runs.map((r) => r.rate);
        s.median = median(rates);
        s.spread = spread(rates);
        s.cpuUsPerUnit = median(c.runs.map((r) => r.cpuUsPerUnit));
        s.gcPct = median(c.runs.map((r) => r.gcPct));
        const server = c.runs.map((r) => r.serverCpuPct).filter((x): x is number => x !== null);
        if (server.length > 0) s.serverCpuPct = median(server);
        const writes = c.runs.map((r) => r.writesPerUnit).filter((x): x is number => x !== null);
        if (writes.length > 0) s.writesPerUnit = median(writes);
        const reads = c.runs.map((r) => r.readsPerUnit).filter((x): x is number => x !== null);
        if (reads.length > 0) s.readsPerUnit = median(reads);
        const other = c.runs.map((r) => r.otherCpuPct).filter((x): x is number => x !== null);
        if (other.length > 0) s.otherCpuPct = median(other);
        // Only when every run has the count (a client without hot-key counters has none).
        const perUnit = (count: (r: RunResult) => number | null): number | undefined => {
          const xs: number[] = [];
          for (const r of c.runs) {
            const n = count(r);
            if (n == null || !(r.unitsTotal > 0)) return undefined;
            xs.push(n / r.unitsTotal);
          }
          return median(xs);
        };
        const gets = perUnit((r) => r.serverGets);
        if (gets !== undefined) s.serverGetsPerUnit = gets;
        const hits = perUnit((r) => r.serverHits);
        if (hits !== undefined) s.serverHitsPerUnit = hits;
        const near = perUnit((r) => r.nearHits);
        if (near !== undefined) s.nearHitsPerUnit = near;
        const coalesced = perUnit((r) => r.coalesced);
        if (coalesced !== undefined) s.coalescedPerUnit = coalesced;
        const lat = c.runs.map((r) => r.latency).filter((l) => l !== undefined);
        if (lat.length > 0) {
          s.latency = {
            p50: median(lat.map((l) => l.p50)),
            p90: median(lat.map((l) => l.p90)),
            p99: median(lat.map((l) => l.p99)),
            p999: median(lat.map((l) => l.p999)),
            max: Math.max(...lat.map((l) => l.max)),
          };
        }
      }
      return s;
    });
    const raw = summaries.find((s) => s.name === 'raw' && s.mismatches === 0)?.median;
    const rawContract = summaries.find((s) => s.name === 'raw-contract' && s.mismatches === 0)?.median;
    // The best peer: the fastest peer that read only correct values.
    let bestPeer: CellSummary['bestPeer'];
    for (const s of summaries) {
      if (!PEERS.includes(s.name) || s.median === undefined || s.mismatches > 0) continue;
      if (bestPeer === undefined || s.median > bestPeer.median) bestPeer = { name: s.name, median: s.median };
    }
    for (const s of summaries) {
      if (s.median === undefined) continue;
      if (raw !== undefined) s.vsRaw = s.median / raw;
      if (rawContract !== undefined) s.vsContract = s.median / rawContract;
      if (bestPeer !== undefined) s.vsBestPeer = s.median / bestPeer.median;
    }
    const summary: CellSummary = {
      id: cell.id,
      title: cell.title,
      unit: cell.unit,
      peerTarget: cell.peerTarget,
      latency: cell.latency,
      zipf: cell.zipf,
      clients: summaries,
    };
    if (raw !== undefined) summary.raw = raw;
    if (rawContract !== undefined) summary.rawContract = rawContract;
    if (bestPeer !== undefined) summary.bestPeer = bestPeer;
    return summary;
  });
}

export function verdicts(cells: readonly CellSummary[]): Verdict[] {
  const out: Verdict[] = [];
  for (const c of cells) {
    const m = c.clients.find((s) => s.name === 'memline');
    if (m?.median === undefined) continue;
    const target = rawTarget(c.id);
    const v: Verdict = {
      cell: c.id,
      underRaw: m.vsRaw !== undefined && target !== undefined && m.vsRaw < target,
      underPeer: m.vsBestPeer !== undefined && m.vsBestPeer < PEER_TARGET,
      peerTarget: c.peerTarget,
    };
    if (target !== undefined) v.rawTarget = target;
    if (m.vsRaw !== undefined) v.vsRaw = m.vsRaw;
    if (m.vsContract !== undefined) v.vsContract = m.vsContract;
    if (m.vsBestPeer !== undefined) v.vsBestPeer = m.vsBestPeer;
    const rawP99 = c.clients.find((s) => s.name === 'raw')?.latency?.p99;
    if (m.latency !== undefined && rawP99 !== undefined && rawP99 > 0) v.p99VsRaw = m.latency.p99 / rawP99;
    out.push(v);
  }
  return out;
}
