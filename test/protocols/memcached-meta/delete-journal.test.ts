/**
 * The delete journal without a network: which outcomes journal a delete, the bound, a later delete
 * replacing an entry, a later store cancelling it, the file round trip, and the replay itself
 * against a fake server (read the CAS, delete that version only; back off while the server is down).
 */
import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientErrorReply, ConnectionError, TimeoutError } from '../../../lib/errors.js';
import { Background } from '../../../protocols/memcached-meta/background.js';
import { DeleteJournal, type JournalBackend } from '../../../protocols/memcached-meta/delete-journal.js';
import { MetaFrame } from '../../../protocols/memcached-meta/frame.js';
import { resolveReliableDeletes } from '../../../protocols/memcached-meta/reliable-deletes.js';
import { MetaRequest, type WireKey } from '../../../protocols/memcached-meta/request.js';
import { waitFor } from '../../harness/resources.js';

const key = (token: string, base64 = false): WireKey => ({ token, base64, ascii: true, original: token });
const del = (k: string) => MetaRequest.meta('md', key(k), '', undefined, true);
const set = (k: string) => MetaRequest.meta('ms', key(k), '', Buffer.from('v'), true);
const down = () => Promise.reject(new ConnectionError('down', { server: 'a:1' }));
const frame = (line: string) => new MetaFrame(line.slice(0, 2), line, undefined);

/** A server that answers from `items` (key → CAS), or fails while `up` is false; logs what it got. */
class FakeServer implements JournalBackend {
  readonly server = 'a:1';
  up = false;
  readonly items = new Map<string, number>();
  readonly log: string[] = [];
  send(req: MetaRequest): Promise<unknown> {
    const line = `${req.command} ${req.key!.token}${req.flags}`;
    this.log.push(line);
    if (!this.up) return Promise.reject(new ConnectionError('down', { server: this.server }));
    const cas = this.items.get(req.key!.token);
    if (req.command === 'mg') return Promise.resolve(frame(cas === undefined ? 'EN' : `HD c${cas}`));
    const compare = / C(\d+)/.exec(req.flags);
    if (cas === undefined) return Promise.resolve(frame('NF'));
    if (compare !== null && Number(compare[1]) !== cas) return Promise.resolve(frame('EX'));
    this.items.delete(req.key!.token);
    return Promise.resolve(frame('HD'));
  }
}

describe('delete journal', () => {
  const journals: DeleteJournal[] = [];
  afterEach(() => {
    for (const j of journals.splice(0)) j.destroy();
  });

  function journal(options: object = {}, fake = new FakeServer()): DeleteJournal {
    const j = new DeleteJournal(
      resolveReliableDeletes({ retryInterval: 5, maxRetryInterval: 20, ...options })!,
      new Background(16),
      () => fake,
      100,
    );
    journals.push(j);
    return j;
  }

  /** Waits for the promise callbacks the journal attached to run. */
  const settle = () => new Promise((r) => setImmediate(r));

  it('journals a delete that failed to reach its server; not one that was answered or refused', async () => {
    const j = journal({ retryInterval: 60_000, maxRetryInterval: 60_000 });
    j.watch('a:1', del('k1'), down());
    j.watch('a:1', del('k2'), Promise.reject(new TimeoutError('slow', 'request', { server: 'a:1' })));
    j.watch('a:1', del('k3'), Promise.reject(new ClientErrorReply('bad', { server: 'a:1' })));
    j.watch('a:1', del('k4'), Promise.resolve(frame('NF')));
    j.watch('a:1', MetaRequest.meta('md', key('k5'), ' I T30', undefined, true), down());
    await settle();
    expect(j.stats).to.include({ depth: 2, journaled: 2 });
  });

  it('keeps at most maxEntries, dropping the oldest; a later delete of a key replaces its entry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memline-journal-'));
    try {
      const file = join(dir, 'deletes.jsonl');
      const j = journal({ maxEntries: 2, file, retryInterval: 60_000, maxRetryInterval: 60_000 });
      for (const k of ['k1', 'k2', 'k1', 'k3']) j.watch('a:1', del(k), down());
      j.watch('b:2', del('k3'), down());
      await settle();
      expect(j.stats).to.include({ depth: 2, journaled: 5, dropped: 2 });
      await j.close();
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      expect(lines.map((l) => JSON.parse(l) as object)).to.deep.equal([
        { server: 'a:1', key: 'k3' },
        { server: 'b:2', key: 'k3' },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a later successful store of the key on that server cancels the entry; a failed one does not', async () => {
    const j = journal({ retryInterval: 60_000, maxRetryInterval: 60_000 });
    j.watch('a:1', del('k1'), down());
    j.watch('a:1', del('k2'), down());
    j.watch('a:1', del('k3'), down());
    await settle();
    j.watch('a:1', set('k1'), Promise.resolve(frame('HD')));
    j.watch('b:2', set('k2'), Promise.resolve(frame('HD'))); // another server: its copy is not this one
    j.watch('a:1', set('k3'), down());
    await settle();
    expect(j.stats).to.include({ depth: 2, cancelled: 1 });
    // A store issued after a delete that then fails: the store decides, nothing is journaled.
    let fail!: (e: Error) => void;
    j.watch('a:1', del('k9'), new Promise((_, reject) => (fail = reject)));
    j.watch('a:1', MetaRequest.batch([set('k9')]), Promise.resolve([undefined]));
    fail(new ConnectionError('down', { server: 'a:1' }));
    await settle();
    expect(j.stats).to.include({ depth: 2, journaled: 3 });
  });

  it('round trip through the file, binary keys included; a missing file is an empty journal', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memline-journal-'));
    try {
      const file = join(dir, 'deletes.jsonl');
      const quiet = { file, retryInterval: 60_000, maxRetryInterval: 60_000 };
      const j = journal(quiet);
      expect(j.stats.depth).to.equal(0);
      j.watch('a:1', del('k1'), down());
      j.watch('a:1', MetaRequest.meta('md', key('AAE=', true), '', undefined, true), down());
      j.watch('a:1', MetaRequest.batch([del('k2'), del('k3')]), down());
      await settle();
      await j.close();
      const again = journal(quiet);
      expect(again.stats.depth).to.equal(4);
      again.destroy();
      expect((await readFile(file, 'utf8')).split('\n')[1]).to.equal(
        '{"server":"a:1","key":"AAE=","b":true}',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps the file up to date while open: written within fileInterval of each change, atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memline-journal-'));
    try {
      const file = join(dir, 'deletes.jsonl');
      const lines = () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
      const j = journal({ file, fileInterval: 20, retryInterval: 60_000, maxRetryInterval: 60_000 });
      j.watch('a:1', del('k1'), down());
      j.watch('a:1', del('k2'), down());
      await settle();
      expect(j.stats.depth).to.equal(2);
      // Both changes share one write, made while the journal is open.
      await waitFor(() => lines().length === 2);
      expect(lines()).to.deep.equal(['{"server":"a:1","key":"k1"}', '{"server":"a:1","key":"k2"}']);
      // A store that succeeds cancels k1: the file follows.
      j.watch('a:1', set('k1'), Promise.resolve(frame('HD')));
      await settle();
      await waitFor(() => lines().length === 1);
      expect(lines()).to.deep.equal(['{"server":"a:1","key":"k2"}']);
      expect(readdirSync(dir)).to.deep.equal(['deletes.jsonl']); // no temporary file left
      expect(j.stats.fileErrors).to.equal(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('counts a write of the file that failed; the journal in memory is unchanged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memline-journal-'));
    try {
      const file = join(dir, 'missing-directory', 'deletes.jsonl');
      const j = journal({ file, fileInterval: 5, retryInterval: 60_000, maxRetryInterval: 60_000 });
      j.watch('a:1', del('k1'), down());
      await waitFor(() => j.stats.fileErrors === 1);
      expect(j.stats.depth).to.equal(1);
      // destroy() does not throw: its failed write is counted too.
      j.destroy();
      expect(j.stats.fileErrors).to.equal(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('replays once the server is back: reads the CAS, deletes that version only, backs off while down', async () => {
    const fake = new FakeServer();
    fake.items.set('k1', 7).set('k2', 8);
    const j = journal({}, fake);
    j.watch('a:1', del('k1'), down());
    j.watch('a:1', del('k2'), down());
    j.watch('a:1', del('gone'), down());
    await settle();
    await waitFor(() => fake.log.length >= 2, 2000);
    // Down: one try per round, the back-off doubling (5, 10, 20 ms), never all three keys.
    expect(fake.log.every((l) => l === 'mg k1 c')).to.equal(true);
    fake.up = true;
    await waitFor(() => j.stats.depth === 0, 2000);
    expect(j.stats).to.include({ replayed: 3 });
    expect(fake.items.size).to.equal(0);
    expect(fake.log.slice(-5)).to.deep.equal(['mg k1 c', 'md k1 C7', 'mg k2 c', 'md k2 C8', 'mg gone c']);
  });

  it('no replay while a store of the key is in flight; the store, once done, cancels the entry', async () => {
    const fake = new FakeServer();
    fake.up = true;
    fake.items.set('k1', 7);
    const j = journal({}, fake);
    let stored!: (f: MetaFrame) => void;
    j.watch('a:1', del('k1'), down());
    await settle();
    j.watch('a:1', set('k1'), new Promise((resolve) => (stored = resolve)));
    await new Promise((r) => setTimeout(r, 40));
    expect(fake.log).to.deep.equal([]);
    stored(frame('HD'));
    await settle();
    expect(j.stats).to.include({ depth: 0, cancelled: 1, replayed: 0 });
  });

  it('validates the option, naming it', () => {
    expect(resolveReliableDeletes(undefined)).to.equal(undefined);
    expect(resolveReliableDeletes(true)).to.include({ maxEntries: 10_000, retryInterval: 1000 });
    expect(() => resolveReliableDeletes({ maxEntries: 0 })).to.throw(/reliableDeletes.maxEntries/);
    expect(() => resolveReliableDeletes({ file: '' })).to.throw(/reliableDeletes.file/);
    expect(() => resolveReliableDeletes({ retryIntreval: 5 })).to.throw(
      /reliableDeletes option "retryIntreval"/,
    );
    expect(() => resolveReliableDeletes({ retryInterval: 100, maxRetryInterval: 50 })).to.throw(
      /maxRetryInterval/,
    );
    expect(() => resolveReliableDeletes(5)).to.throw(/reliableDeletes must be/);
  });
});
