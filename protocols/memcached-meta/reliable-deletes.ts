/**
 * The `reliableDeletes` option and the journal file. The journal itself (what is kept, replayed and
 * cancelled) is delete-journal.ts.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../../lib/errors.js';
import { checkNames, duration, integer } from '../../lib/kit/index.js';

/**
 * The `reliableDeletes` option: a delete that fails on a server that is down, slow or shed is
 * journaled and replayed in the background until that server takes it.
 */
export interface ReliableDeletesOptions {
  /** Deletes journaled at most; past it the oldest is dropped (counted in `dropped`). @default 10000 */
  maxEntries?: number;
  /**
   * A file the journal is kept in, one JSON object a line, read when the client is built. It is
   * rewritten whole (to a temporary file renamed over it, so a reader never sees half) at most
   * `fileInterval` ms after the journal changes, and by `close()` and `destroy()`. A crash loses
   * at most the changes of the last `fileInterval` ms (plus those of a write it interrupts).
   * @default undefined (kept in memory only)
   */
  file?: string;
  /**
   * ms at most between a change of the journal and its write to `file`; changes within that time
   * share one write, and one write runs at a time. @default 1000
   */
  fileInterval?: number;
  /** ms between replay rounds, and the first back-off after a round that failed. @default 1000 */
  retryInterval?: number;
  /** The back-off doubles after each failed round to a server, up to this many ms. @default 30000 */
  maxRetryInterval?: number;
}

export const RELIABLE_DELETES_DEFAULTS = Object.freeze({
  maxEntries: 10_000,
  retryInterval: 1000,
  maxRetryInterval: 30_000,
  fileInterval: 1000,
});

export interface ResolvedReliableDeletes {
  readonly maxEntries: number;
  readonly file: string | undefined;
  readonly fileInterval: number;
  readonly retryInterval: number;
  readonly maxRetryInterval: number;
}

const NAMES: ReadonlySet<string> = new Set([
  'maxEntries',
  'file',
  'fileInterval',
  'retryInterval',
  'maxRetryInterval',
]);

/** `true` takes every default; `false` or absent: off. Throws ERR_INVALID_ARGUMENT naming the option. */
export function resolveReliableDeletes(given: unknown): ResolvedReliableDeletes | undefined {
  if (given === undefined || given === false) return undefined;
  const o = (given === true ? {} : given) as ReliableDeletesOptions;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new InvalidArgumentError(
      'reliableDeletes must be true, false or { maxEntries, file, retryInterval }',
    );
  }
  checkNames(o, NAMES, 'reliableDeletes option');
  const d = RELIABLE_DELETES_DEFAULTS;
  const file = o.file;
  if (file !== undefined && (typeof file !== 'string' || file === '')) {
    throw new InvalidArgumentError('reliableDeletes.file must be a non-empty path');
  }
  const retryInterval = duration(o.retryInterval ?? d.retryInterval, 'reliableDeletes.retryInterval');
  const maxRetryInterval = duration(
    o.maxRetryInterval ?? d.maxRetryInterval,
    'reliableDeletes.maxRetryInterval',
  );
  if (maxRetryInterval < retryInterval) {
    throw new InvalidArgumentError('reliableDeletes.maxRetryInterval must be at least retryInterval');
  }
  return {
    maxEntries: integer(o.maxEntries ?? d.maxEntries, 'reliableDeletes.maxEntries'),
    file,
    fileInterval: duration(o.fileInterval ?? d.fileInterval, 'reliableDeletes.fileInterval'),
    retryInterval,
    maxRetryInterval,
  };
}

/** One journaled delete as a line of the file. */
export interface JournalLine {
  /** The server, `"host:port"` as configured. */
  readonly server: string;
  /** The key as sent (with the client's prefix; base64 when `b`). */
  readonly key: string;
  readonly b?: true;
}

/** The lines of `file`, oldest first; none when it does not exist. Lines that do not parse are skipped. */
export function readJournal(file: string): JournalLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new InvalidArgumentError(`reliableDeletes.file cannot be read: ${(err as Error).message}`);
  }
  const out: JournalLine[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const v = JSON.parse(line) as Partial<JournalLine>;
      if (typeof v.server === 'string' && typeof v.key === 'string' && v.key !== '') {
        out.push(v.b === true ? { server: v.server, key: v.key, b: true } : { server: v.server, key: v.key });
      }
    } catch {
      // A torn last line (the process died while writing) is skipped, not fatal.
    }
  }
  return out;
}

function render(lines: readonly JournalLine[]): string {
  return lines.map((l) => JSON.stringify(l) + '\n').join('');
}

let temporaries = 0;

/** Writes the journal whole: to a temporary file first, renamed over `file`, so a reader never sees half. */
export async function writeJournal(file: string, lines: readonly JournalLine[]): Promise<void> {
  const tmp = `${file}.${process.pid}.${++temporaries}.tmp`;
  await writeFile(tmp, render(lines));
  await rename(tmp, file);
}

/** {@link writeJournal} at once, for `destroy()`. */
export function writeJournalNow(file: string, lines: readonly JournalLine[]): void {
  const tmp = `${file}.${process.pid}.${++temporaries}.tmp`;
  writeFileSync(tmp, render(lines));
  renameSync(tmp, file);
}

/**
 * The journal's file, kept up to date as the journal changes: a change arms one timer of
 * `interval` ms, whose write takes the journal as it is then; changes made while a write runs
 * arm the next one when it ends. So the file is at most `interval` ms (plus one write) behind the
 * journal, and there are at most two writes per `interval`, whatever the rate of changes.
 */
export class JournalFile {
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #dirty = false;
  /** The last lines written at close or destroy: a write still running when they were is redone. */
  #final: readonly JournalLine[] | undefined;
  /** Writes that failed (the journal in memory is unchanged; the next change tries again). */
  errors = 0;

  constructor(
    readonly file: string,
    readonly interval: number,
    private readonly lines: () => JournalLine[],
  ) {}

  /** The journal changed. */
  changed(): void {
    if (this.#final !== undefined) return;
    this.#dirty = true;
    if (this.#timer !== undefined || this.#writing !== undefined) return;
    this.#timer = setTimeout(() => this.#write(), this.interval);
    // A pending write does not keep the process alive: close() and destroy() write the file.
    this.#timer.unref();
  }

  #write(): void {
    this.#timer = undefined;
    if (!this.#dirty || this.#final !== undefined) return;
    this.#dirty = false;
    this.#writing = writeJournal(this.file, this.lines())
      .catch(() => {
        this.errors++;
      })
      .finally(() => {
        this.#writing = undefined;
        // destroy() wrote while this write ran: its rename may have put older lines back.
        if (this.#final !== undefined) this.#rewriteFinal();
        else if (this.#dirty) this.changed();
      });
  }

  #rewriteFinal(): void {
    try {
      writeJournalNow(this.file, this.#final!);
    } catch {
      this.errors++;
    }
  }

  #stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Writes the journal once more, after the write running if any; no write after it. */
  async close(): Promise<void> {
    this.#stop();
    const final = this.lines();
    this.#final = final;
    await this.#writing;
    await writeJournal(this.file, final);
  }

  /** Writes the journal at once; no write after it. */
  destroy(): void {
    this.#stop();
    this.#final = this.lines();
    this.#rewriteFinal();
  }
}
