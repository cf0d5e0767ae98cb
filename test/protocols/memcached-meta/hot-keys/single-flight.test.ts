import { expect } from 'chai';
import { AbortedError, ServerErrorReply, TimeoutError } from '../../../../lib/errors.js';
import { SingleFlight, slotOf } from '../../../../protocols/memcached-meta/hot-keys/single-flight.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  it('gives 200 concurrent reads of one key one request', async () => {
    const flights = new SingleFlight<string>();
    let started = 0;
    const d = deferred<string>();
    const start = (): Promise<string> => {
      started++;
      return d.promise;
    };
    const reads = Array.from({ length: 200 }, () => flights.run('k', 100, undefined, start));
    d.resolve('value');
    expect(await Promise.all(reads)).to.deep.equal(Array(200).fill('value'));
    expect(started).to.equal(1);
    expect(flights.coalesced).to.equal(199);
    expect(flights.size).to.equal(0);
  });

  it('a read after a write does not join a read issued before it', async () => {
    const flights = new SingleFlight<string>();
    const old = deferred<string>();
    const fresh = deferred<string>();
    const first = flights.run('k', 100, undefined, () => old.promise);
    flights.forget('k'); // this client wrote k
    const second = flights.run('k', 100, undefined, () => fresh.promise);
    old.resolve('old');
    fresh.resolve('new');
    expect([await first, await second]).to.deep.equal(['old', 'new']);
  });

  it('two keys in one slot: the later takes it, a read of the earlier sends its own, forget spares the other', () => {
    const a = 'key:0';
    let b = '';
    for (let i = 1; b === ''; i++) if (slotOf(`key:${i}`) === slotOf(a)) b = `key:${i}`;
    const flights = new SingleFlight<string>();
    const sent: string[] = [];
    const start = (key: string) => (): Promise<string> => {
      sent.push(key);
      return new Promise(() => {});
    };
    void flights.run(a, 100, undefined, start(a));
    void flights.run(b, 100, undefined, start(b));
    void flights.run(a, 100, undefined, start(a)); // a's flight lost its slot: a request of its own
    expect(sent).to.deep.equal([a, b, a]);
    flights.forget(b); // b no longer holds the slot: a's flight stays
    void flights.run(a, 100, undefined, start(a)); // joins the a in flight
    expect(sent).to.have.length(3);
    expect(flights.size).to.equal(1);
  });

  it('does not make a caller with an earlier deadline wait for a later request', () => {
    const flights = new SingleFlight<string>();
    let started = 0;
    const start = (): Promise<string> => {
      started++;
      return new Promise(() => {});
    };
    void flights.run('k', 100, undefined, start);
    void flights.run('k', 50, undefined, start);
    expect(started).to.equal(2);
  });

  it('the others send their own request when the issuer gave up', async () => {
    const flights = new SingleFlight<string>();
    const issued = deferred<string>();
    const leader = flights.run('k', 100, undefined, () => issued.promise);
    const follower = flights.run('k', 100, undefined, () => Promise.resolve('own'));
    issued.reject(new AbortedError('aborted'));
    await leader.then(
      () => expect.fail('the issuer was aborted'),
      (err: Error) => expect(err).to.be.instanceOf(AbortedError),
    );
    expect(await follower).to.equal('own');
    const again = deferred<string>();
    const l2 = flights.run('j', 100, undefined, () => again.promise);
    const f2 = flights.run('j', 100, undefined, () => Promise.resolve('own2'));
    again.reject(new TimeoutError('slow', 'request'));
    await l2.catch(() => undefined);
    expect(await f2).to.equal('own2');
  });

  it('shares a server’s error with everyone who joined', async () => {
    const flights = new SingleFlight<string>();
    const d = deferred<string>();
    const a = flights.run('k', 100, undefined, () => d.promise);
    const b = flights.run('k', 100, undefined, () => Promise.resolve('never'));
    d.reject(new ServerErrorReply('out of memory'));
    for (const p of [a, b]) {
      await p.then(
        () => expect.fail('should reject'),
        (err: Error) => expect(err).to.be.instanceOf(ServerErrorReply),
      );
    }
  });

  it('releases a joined caller when its own signal fires', async () => {
    const flights = new SingleFlight<string>();
    const d = deferred<string>();
    const leader = flights.run('k', 100, undefined, () => d.promise);
    const ac = new AbortController();
    const follower = flights.run('k', 100, ac.signal, () => Promise.resolve('own'));
    ac.abort();
    await follower.then(
      () => expect.fail('should be aborted'),
      (err: Error) => expect(err).to.be.instanceOf(AbortedError),
    );
    d.resolve('value');
    expect(await leader).to.equal('value');
    const done = new AbortController();
    done.abort();
    const late = flights.run('k2', 100, undefined, () => new Promise(() => {}));
    void late;
    await flights
      .run('k2', 100, done.signal, () => Promise.resolve('x'))
      .catch((err: Error) => {
        expect(err).to.be.instanceOf(AbortedError);
      });
  });
});
