/**
 * What the soak counts: per operation kind a latency histogram, a count and errors by code; over all
 * of them the values checked, desyncs and damaged values.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { MemlineError, PartialResultError } from '../../protocols/memcached-meta/index.js';

export const OP_KINDS = ['get', 'set', 'delete', 'incr', 'getMulti', 'setMulti'] as const;
export type OpKind = (typeof OP_KINDS)[number];

/** Codes that a stopped or killed server explains. Any other code fails the soak. */
export const FAULT_CODES: ReadonlySet<string> = new Set([
  'ERR_TIMEOUT',
  'ERR_CONNECTION',
  'ERR_CIRCUIT_OPEN',
  'ERR_PARTIAL_RESULT',
  'ERR_QUEUE_FULL',
]);

/** How many anomalies are kept word for word for the report. */
const SAMPLES = 10;

export class OpStats {
  count = 0;
  readonly errors = new Map<string, number>();
  /** Nanoseconds from the call to its settling, successes and failures alike. */
  readonly latency: RecordableHistogram = createHistogram();
}

export class SoakStats {
  readonly ops = Object.fromEntries(OP_KINDS.map((k) => [k, new OpStats()])) as Record<OpKind, OpStats>;
  /** Codes of the per-key errors inside ERR_PARTIAL_RESULT. */
  readonly partialErrors = new Map<string, number>();
  /** Values (and counters) read back and checked. */
  checked = 0;
  /** Reads that found nothing (a miss is never checked). */
  misses = 0;
  desyncs = 0;
  corrupt = 0;
  /** Calls that settled more than {@link lateSlackMs} after their deadline. */
  late = 0;
  maxOverDeadlineMs = 0;
  readonly samples: string[] = [];

  constructor(
    readonly deadlineMs: number,
    readonly lateSlackMs = 250,
  ) {}

  get total(): number {
    let n = 0;
    for (const k of OP_KINDS) n += this.ops[k].count;
    return n;
  }

  /** Errors by code over every kind. */
  errorsByCode(): Map<string, number> {
    const all = new Map<string, number>();
    for (const k of OP_KINDS) for (const [code, n] of this.ops[k].errors) add(all, code, n);
    return new Map([...all].sort((a, b) => b[1] - a[1]));
  }

  /** Codes (top level or inside a partial result) that no fault explains. */
  unexpectedCodes(): string[] {
    const codes = new Set([...this.errorsByCode().keys(), ...this.partialErrors.keys()]);
    return [...codes].filter((c) => !FAULT_CODES.has(c));
  }

  /** Records a settled call; `error` is what it rejected with, if it did. */
  record(kind: OpKind, ns: bigint, error?: unknown): void {
    const op = this.ops[kind];
    op.count++;
    op.latency.record(ns > 0n ? ns : 1n);
    const overMs = Number(ns) / 1e6 - this.deadlineMs;
    if (overMs > this.lateSlackMs) {
      this.late++;
      this.maxOverDeadlineMs = Math.max(this.maxOverDeadlineMs, overMs);
    }
    if (error === undefined) return;
    add(op.errors, codeOf(error), 1);
    if (error instanceof PartialResultError) {
      for (const inner of error.errors.values()) add(this.partialErrors, codeOf(inner), 1);
    }
    if (!(error instanceof MemlineError)) this.sample(`${kind}: ${describe(error)}`);
  }

  /** Records a value that was read for the wrong key (desync) or came back damaged. */
  anomaly(desync: boolean, detail: string): void {
    if (desync) this.desyncs++;
    else this.corrupt++;
    this.sample(`${desync ? 'desync' : 'corrupt'}: ${detail}`);
  }

  sample(text: string): void {
    if (this.samples.length < SAMPLES) this.samples.push(text);
  }
}

/** An error's stable code; errors that are not memline's are named by their class. */
export function codeOf(error: unknown): string {
  if (error instanceof MemlineError) return error.code;
  return `non-memline ${error instanceof Error ? error.name : typeof error}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : JSON.stringify(error);
}

function add(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}
