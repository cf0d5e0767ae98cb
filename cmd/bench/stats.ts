/**
 * Small statistics over repeats and latencies, and the number formats the report uses.
 */

export interface LatencySummary {
  /** Calls measured. */
  count: number;
  /** Microseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Percentiles of `ms` (milliseconds, unsorted; sorted in place), in µs. */
export function summarizeLatency(ms: Float64Array): LatencySummary {
  ms.sort();
  const n = ms.length;
  const at = (p: number): number => (n === 0 ? 0 : ms[Math.min(n - 1, Math.floor(p * n))] * 1000);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += ms[i];
  return {
    count: n,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: n === 0 ? 0 : ms[n - 1] * 1000,
    mean: n === 0 ? 0 : (sum / n) * 1000,
  };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface Spread {
  min: number;
  max: number;
  /** (max − min) / median, %. */
  rangePct: number;
  /** Sample standard deviation / mean, %. */
  stddevPct: number;
}

export function spread(xs: readonly number[]): Spread {
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
  const m = median(xs);
  return {
    min,
    max,
    rangePct: m > 0 ? ((max - min) / m) * 100 : 0,
    stddevPct: mean > 0 ? (Math.sqrt(variance) / mean) * 100 : 0,
  };
}

/** 1234567 → "1.23M", 45678 → "45.7k", 950 → "950". */
export function rate(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(2)}k`;
  return x.toFixed(0);
}

/** A ratio with two decimals, or "—". */
export function ratio(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(2);
}

/** Microseconds: "12.3 µs", "1.25 ms". */
export function micros(us: number): string {
  if (!Number.isFinite(us)) return '—';
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  return `${us >= 100 ? us.toFixed(0) : us.toFixed(1)} µs`;
}

/** Bytes: "312 B", "1.5 MB". */
export function bytes(b: number): string {
  const abs = Math.abs(b);
  if (abs >= 1024 * 1024) return `${(b / 1024 / 1024).toFixed(1)} MB`;
  if (abs >= 10 * 1024) return `${(b / 1024).toFixed(0)} kB`;
  return `${b.toFixed(0)} B`;
}
