/**
 * What memline prints: results on stdout (text, or JSON with `--json`), notes and errors on stderr,
 * and aligned tables.
 */
import type { Writable } from 'node:stream';

/** Exit statuses (documented in `memline --help`). */
export const Exit = {
  OK: 0,
  /** A miss, a key not found, a value not stored. */
  NOT_FOUND: 1,
  /** A bad command line or argument (invalid key, TTL, …). */
  USAGE: 2,
  /** A server or connection error. */
  ERROR: 3,
} as const;
export type ExitCode = (typeof Exit)[keyof typeof Exit];

export class Output {
  constructor(
    readonly json: boolean,
    readonly stdout: Writable & { isTTY?: boolean } = process.stdout,
    readonly stderr: Writable = process.stderr,
  ) {}

  /** Prints one result: `data` as a line of JSON with `--json`, else `text` (given as a function so
   * that the text is only built when it is printed). */
  result(data: unknown, text: () => string): void {
    if (this.json) this.stdout.write(`${toJson(data)}\n`);
    else {
      const t = text();
      if (t !== '') this.line(t);
    }
  }

  /** A line of text on stdout (ignored with `--json`, where stdout carries only JSON). */
  line(text: string): void {
    if (!this.json) this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Raw bytes on stdout. */
  raw(bytes: Uint8Array | string): void {
    this.stdout.write(bytes);
  }

  /** A line for the person at the terminal, on stderr. */
  note(text: string): void {
    this.stderr.write(`memline: ${text}\n`);
  }

  /** An error on stderr: text, or a line of JSON with `--json` (with `extra`'s fields). */
  error(code: string, message: string, server?: string, extra: Record<string, unknown> = {}): void {
    if (this.json) {
      const error = { code, message, ...(server === undefined ? {} : { server }), ...extra };
      this.stderr.write(`${toJson({ error })}\n`);
    } else {
      this.stderr.write(`memline: ${server === undefined ? '' : `${server}: `}${code}: ${message}\n`);
    }
  }
}

/** JSON with bigints as decimal strings (CAS tokens and counters go past 2^53). */
export function toJson(data: unknown): string {
  return JSON.stringify(data, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

/**
 * Aligned columns, two spaces apart, without trailing spaces. Columns whose cells (below the header)
 * all look numeric are right-aligned.
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => width(r[c] ?? ''))));
  const right = header.map((_, c) => rows.length > 0 && rows.every((r) => NUMERIC.test(r[c] ?? '')));
  return all
    .map((r) =>
      header
        .map((_, c) => {
          const cell = r[c] ?? '';
          const pad = ' '.repeat(widths[c] - width(cell));
          return right[c] ? pad + cell : cell + pad;
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const NUMERIC = /^(?:[-+]?\d[\d,]*(?:\.\d+)?(?: ?[%a-zA-Z]+)?(?: \d+[a-z]+)?|–)$/;

/** Display width: code points (good enough for the ASCII and box characters memline prints). */
function width(s: string): number {
  return [...s].length;
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

/** Milliseconds with a precision that suits their size: `0.084`, `1.23`, `12.3`, `123`. */
export function formatMs(ms: number): string {
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

/** A rate per second: `0`, `3.5`, `1234`. */
export function formatRate(perSecond: number): string {
  if (perSecond === 0) return '0';
  return perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond).toString();
}
