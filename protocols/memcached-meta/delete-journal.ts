/**
 * Reliable deletes (mcrouter's asynclog, inside the client). A delete that fails on a server that is
 * down, slow or shed (ERR_CONNECTION, ERR_TIMEOUT, ERR_CIRCUIT_OPEN) still rejects the caller's
 * promise, and is journaled by (server, key) and replayed in the background until that server
 * takes it: a server that comes back must not serve a value the application deleted.
 *
 * ```
 *   md fails ──► entry (server, key) ──round due──► background queue ──► mg <key> c ──► md <key> C<cas>
 *                  │  ▲                                                      │ EN: gone already
 *                  │  └──── a later md that fails replaces it                └ down again: back-off ×2
 *                  └─────── a later ms or md to that server that succeeds removes it
 * ```
 *
 * A replay never deletes a value this client wrote after the delete: a store issued after the
 * delete removes the entry when it succeeds; no replay starts while a store of the key is in
 * flight; and the replay deletes only the version it read (`md … C<cas>`), after checking that no
 * store was issued since it read it.
 */
import { MemlineError } from '../../lib/errors.js';
import type { SendOptions } from '../../lib/request-entry.js';
import type { Background } from './background.js';
import { type MetaFrame } from './frame.js';
import { casOf } from './returned-flags.js';
import { MetaRequest, RequestKind, type WireKey } from './request.js';
import type { JournalLine, ResolvedReliableDeletes } from './reliable-deletes.js';
import { JournalFile, readJournal } from './reliable-deletes.js';

/** The errors that journal a delete: the server did not answer, or was not asked. */
const JOURNALED = new Set(['ERR_CONNECTION', 'ERR_TIMEOUT', 'ERR_CIRCUIT_OPEN']);

/** The delete journal's numbers, in `client.metrics.reliableDeletes`. */
export interface DeleteJournalStats {
  /** Deletes waiting to be replayed. */
  readonly depth: number;
  /** Failed deletes journaled (a later failure of the same key counts again). */
  readonly journaled: number;
  /** Entries replayed: the server took the delete, or the item was gone or changed already. */
  readonly replayed: number;
  /** Entries removed by a later successful store or delete of the key by this client. */
  readonly cancelled: number;
  /** Entries dropped: the oldest past `maxEntries`, a server no longer configured, or an error reply. */
  readonly dropped: number;
  /** Replay rounds put off because the background queue was full (the entries stay). */
  readonly deferred: number;
  /** Writes of the journal's `file` that failed (the next change tries again). */
  readonly fileErrors: number;
}

/** What the journal needs of a server. */
export interface JournalBackend {
  readonly server: string;
  send(req: MetaRequest, so: SendOptions): Promise<unknown>;
}

interface Entry {
  readonly id: string;
  readonly server: string;
  readonly key: WireKey;
  /** The order of the delete among the requests watched. */
  readonly seq: number;
  /** Bumped by every store of the key issued while the entry exists. */
  gen: number;
}

/** A key's requests in flight (stores and deletes), its stores among them, and the last store's order. */
interface Flight {
  requests: number;
  stores: number;
  lastStore: number;
}

export class DeleteJournal {
  readonly #entries = new Map<string, Entry>();
  readonly #flight = new Map<string, Flight>();
  /** Per server: failed rounds in a row, when the next may start, and whether one runs. */
  readonly #servers = new Map<string, { fails: number; next: number; running: boolean }>();
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #stats = { journaled: 0, replayed: 0, cancelled: 0, dropped: 0, deferred: 0 };
  /** The journal's file, written as the entries change, when `file` is given. */
  readonly #file: JournalFile | undefined;

  constructor(
    readonly options: ResolvedReliableDeletes,
    private readonly background: Background,
    /** The backend of a configured server; throws when it is not configured (any more). */
    private readonly lookup: (server: string) => JournalBackend,
    /** ms each replay request may take. */
    private readonly timeout: number,
  ) {
    if (options.file === undefined) return;
    for (const line of readJournal(options.file)) {
      const key = {
        token: line.key,
        base64: line.b === true,
        ascii: /^[\x21-\x7e]*$/.test(line.key),
        original: line.key,
      };
      this.#add(line.server, key, 0);
    }
    this.#file = new JournalFile(options.file, options.fileInterval, () => this.#lines());
  }

  get stats(): DeleteJournalStats {
    return { depth: this.#entries.size, ...this.#stats, fileErrors: this.#file?.errors ?? 0 };
  }

  /** {@link watch} in the shape of a bulk call's `sent` hook (one function for every bulk call). */
  readonly sent = (backend: { readonly server: string }, req: MetaRequest, reply: Promise<unknown>): void =>
    this.watch(backend.server, req, reply);

  /**
   * Follows a request sent to `server`: a plain delete that fails with a journaled error is
   * journaled; a store or delete that succeeds removes the key's older entry.
   */
  watch(server: string, req: MetaRequest, sent: Promise<unknown>): void {
    if (req.kind === RequestKind.Batch) {
      if (req.readKeys !== undefined) return; // plain reads only: nothing to follow
      const at: number[] = [];
      req.items!.forEach((item, i) => followed(item) && at.push(i));
      if (at.length === 0) return;
      const items = req.items!;
      const seqs = at.map((i) => this.#issued(server, items[i]));
      sent.then(
        (replies) => {
          const frames = replies as (MetaFrame | undefined)[];
          at.forEach((i, j) => this.#settled(server, items[i], seqs[j], frames[i]));
        },
        (err: unknown) => at.forEach((i, j) => this.#settled(server, items[i], seqs[j], err)),
      );
      return;
    }
    if (!followed(req)) return;
    const seq = this.#issued(server, req);
    sent.then(
      (frame) => this.#settled(server, req, seq, frame),
      (err: unknown) => this.#settled(server, req, seq, err),
    );
  }

  #issued(server: string, req: MetaRequest): number {
    const seq = ++this.#seq;
    const id = idOf(server, req.key!);
    const store = req.command === 'ms';
    let f = this.#flight.get(id);
    if (f === undefined) this.#flight.set(id, (f = { requests: 0, stores: 0, lastStore: 0 }));
    f.requests++;
    if (!store) return seq;
    f.stores++;
    f.lastStore = seq;
    const e = this.#entries.get(id);
    if (e !== undefined) e.gen++;
    return seq;
  }

  #settled(server: string, req: MetaRequest, seq: number, outcome: unknown): void {
    const id = idOf(server, req.key!);
    const store = req.command === 'ms';
    const f = this.#flight.get(id)!;
    if (store) f.stores--;
    if (--f.requests === 0) this.#flight.delete(id);
    if (outcome instanceof Error) {
      if (store || !(outcome instanceof MemlineError) || !JOURNALED.has(outcome.code)) return;
      // A store issued after this delete decides the key's value: the delete is not replayed.
      if (f.lastStore > seq) return;
      this.#stats.journaled++;
      this.#add(server, req.key!, seq);
      return;
    }
    const status = (outcome as MetaFrame | undefined)?.status;
    const ok = status === undefined || status === 'HD' || (!store && status === 'NF');
    const e = this.#entries.get(id);
    if (ok && e !== undefined && e.seq < seq) {
      this.#entries.delete(id);
      this.#stats.cancelled++;
      this.#file?.changed();
    }
  }

  /** Whether a store of the key is in flight. */
  #storing(id: string): boolean {
    return (this.#flight.get(id)?.stores ?? 0) > 0;
  }

  #add(server: string, key: WireKey, seq: number): void {
    const id = idOf(server, key);
    const old = this.#entries.get(id);
    if (old !== undefined && old.seq > seq) return;
    // Deleted and set again, so the map's order stays the order of the deletes: oldest first.
    this.#entries.delete(id);
    this.#entries.set(id, { id, server, key, seq, gen: 0 });
    if (this.#entries.size > this.options.maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
      this.#stats.dropped++;
    }
    this.#file?.changed();
    this.#arm();
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => this.#tick(), this.options.retryInterval);
    // Pending replays do not keep the process alive; close() writes them to the file.
    this.#timer.unref();
  }

  /** Starts a replay round for each server whose back-off is over. */
  #tick(): void {
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = performance.now();
    const due = new Set<string>();
    for (const e of this.#entries.values()) due.add(e.server);
    for (const server of due) {
      let s = this.#servers.get(server);
      if (s === undefined) this.#servers.set(server, (s = { fails: 0, next: 0, running: false }));
      if (s.running || s.next > now) continue;
      s.running = true;
      const state = s;
      const queued = this.background.run(() => this.#round(server).finally(() => (state.running = false)));
      if (!queued) {
        s.running = false;
        this.#stats.deferred++;
      }
    }
  }

  /** Replays a server's entries, oldest first, until one fails to reach it. */
  async #round(server: string): Promise<void> {
    const s = this.#servers.get(server)!;
    const entries = [...this.#entries.values()].filter((e) => e.server === server);
    let backend: JournalBackend;
    try {
      backend = this.lookup(server);
    } catch {
      for (const e of entries) this.#remove(e, 'dropped');
      return;
    }
    for (const e of entries) {
      if (this.#closed) return;
      if (this.#entries.get(e.id) !== e || this.#storing(e.id)) continue;
      const gen = e.gen;
      try {
        const read = (await backend.send(
          MetaRequest.meta('mg', e.key, ' c', undefined, true),
          this.#so(),
        )) as MetaFrame;
        if (read.status === 'HD') {
          // A store issued since the read: the value may be the application's; leave it.
          if (this.#entries.get(e.id) !== e || e.gen !== gen || this.#storing(e.id)) continue;
          const del = MetaRequest.meta('md', e.key, ` C${casOf(read)}`, undefined, true);
          await backend.send(del, this.#so());
        }
        this.#remove(e, 'replayed');
      } catch (err) {
        if (err instanceof MemlineError && JOURNALED.has(err.code)) {
          s.fails++;
          const backOff = this.options.retryInterval * 2 ** (s.fails - 1);
          s.next = performance.now() + Math.min(this.options.maxRetryInterval, backOff);
          return;
        }
        this.#remove(e, 'dropped');
      }
    }
    s.fails = 0;
    s.next = 0;
  }

  #remove(e: Entry, counter: 'replayed' | 'dropped'): void {
    if (this.#entries.get(e.id) !== e) return;
    this.#entries.delete(e.id);
    this.#stats[counter]++;
    this.#file?.changed();
  }

  #so(): SendOptions {
    return { deadline: performance.now() + this.timeout, timeout: this.timeout, signal: undefined };
  }

  #lines(): JournalLine[] {
    return [...this.#entries.values()].map((e) =>
      e.key.base64 ? { server: e.server, key: e.key.token, b: true } : { server: e.server, key: e.key.token },
    );
  }

  /** `false` when already stopped (the file was written then). */
  #stop(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    return true;
  }

  /** Stops replaying; once the rounds running have ended, writes what is left to the file, when named. */
  async close(): Promise<void> {
    if (!this.#stop()) return;
    await this.background.idle();
    await this.#file?.close();
  }

  /** {@link close}, writing the file at once. */
  destroy(): void {
    if (this.#stop()) this.#file?.destroy();
  }
}

/** A plain delete (no flags: not `x`, `I` or a CAS compare) or any store. */
function followed(req: MetaRequest): boolean {
  return (
    req.kind === RequestKind.Meta && (req.command === 'ms' || (req.command === 'md' && req.flags === ''))
  );
}

function idOf(server: string, key: WireKey): string {
  return `${server} ${key.base64 ? 'b' : 't'}${key.token}`;
}
