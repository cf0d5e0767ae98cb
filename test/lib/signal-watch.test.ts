import { getEventListeners } from 'node:events';
import { expect } from 'chai';
import { RequestEntry, SignalWatch, type SendOptions } from '../../lib/request-entry.js';
import { ConnectionError, type MemlineError } from '../../lib/errors.js';

/** A pending entry whose promise's outcome can be read later. */
function entry(signal: AbortSignal): { entry: RequestEntry<string, string>; outcome: Promise<string> } {
  const options: SendOptions = { deadline: Infinity, timeout: 0, signal };
  const e = new RequestEntry<string, string>('req', options);
  const outcome = e.promise().then(
    (v) => `resolved ${v}`,
    (err: MemlineError) => err.code,
  );
  return { entry: e, outcome };
}

describe('SignalWatch', () => {
  it('counts what is pending through heavy churn, and an abort then rejects exactly the pending entries', async () => {
    const ac = new AbortController();
    let emptied = 0;
    const watch = new SignalWatch(ac.signal, 'server:1', () => void emptied++);
    const anchor = entry(ac.signal);
    anchor.entry.watch(watch);
    const settled: Promise<string>[] = [];
    // 10,000 requests come and go while the anchor stays pending: the watch never empties.
    for (let i = 0; i < 10_000; i++) {
      const e = entry(ac.signal);
      e.entry.watch(watch);
      e.entry.resolve(`v${i}`);
      settled.push(e.outcome);
    }
    const pending = Array.from({ length: 5 }, () => entry(ac.signal));
    for (const p of pending) p.entry.watch(watch);
    expect(watch.size).to.equal(6);
    expect(emptied).to.equal(0);
    expect(getEventListeners(ac.signal, 'abort')).to.have.length(1);

    ac.abort();
    expect(await anchor.outcome).to.equal('ERR_ABORTED');
    for (const p of pending) expect(await p.outcome).to.equal('ERR_ABORTED');
    // The settled ones keep their values: the abort reached none of them.
    expect(await settled[0]).to.equal('resolved v0');
    expect(await settled[9_999]).to.equal('resolved v9999');
    expect(emptied).to.equal(1);
    expect(watch.size).to.equal(0);
    expect(getEventListeners(ac.signal, 'abort')).to.have.length(0);
  });

  it('removes its listener when the last pending entry settles, and not before', () => {
    const ac = new AbortController();
    let emptied = 0;
    const watch = new SignalWatch(ac.signal, 'server:1', () => void emptied++);
    const a = entry(ac.signal);
    const b = entry(ac.signal);
    a.entry.watch(watch);
    b.entry.watch(watch);
    a.entry.resolve('a');
    a.entry.resolve('again'); // settling twice counts once
    expect(watch.size).to.equal(1);
    expect(getEventListeners(ac.signal, 'abort')).to.have.length(1);
    b.entry.reject(new ConnectionError('gone'));
    expect(watch.size).to.equal(0);
    expect(emptied).to.equal(1);
    expect(getEventListeners(ac.signal, 'abort')).to.have.length(0);
    void a.outcome;
    void b.outcome;
  });
});
