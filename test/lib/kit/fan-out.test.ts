import { expect } from 'chai';
import {
  fanOut,
  finishPartial,
  PartialResultError,
  splitByServer,
  type MemlineError,
} from '../../../lib/index.js';
import type { LineRequest } from '../line-codec.js';
import {
  startScriptedServer,
  type ScriptedConnection,
  type ScriptedServer,
} from '../../harness/scripted-server.js';
import { lineCore, type Core } from './scripted-core.js';

/**
 * Answers `MULTI <keys> <n>` with one line per key, `v-<key>@<port>`, and `GET <id>` with `<port>`,
 * so a reply tells which server gave it; `SOFT` (a non-fatal error) when `fail` is set.
 */
function lines(fail = false) {
  return (conn: ScriptedConnection): void => {
    const port = conn.socket.localPort;
    conn.onRequest(({ line }) => {
      const [kind, id, count] = line.split(' ');
      if (fail) conn.write(`SOFT ${kind} refused\r\n`);
      else if (kind === 'GET') conn.write(`OK ${id} ${port}\r\n`);
      else if (kind === 'MULTI') {
        const keys = id.split(',');
        expect(keys).to.have.length(Number(count));
        conn.write(keys.map((k) => `OK ${id} v-${k}@${port}\r\n`).join(''));
      }
    });
  };
}

/** The request carrying `keys` to one server: `MULTI k1,k2 2`, one reply line per key. */
function multi(keys: readonly string[]): LineRequest {
  return { kind: 'MULTI', id: keys.join(','), count: keys.length };
}

describe('lib/kit fan-out (scripted servers, toy line protocol)', () => {
  let a: ScriptedServer;
  let b: ScriptedServer;
  let core: Core | undefined;

  /** A client over servers a and b whose keys starting with `a` live on a, the others on b. */
  function open(options: { timeout?: number } = {}): Core {
    core = lineCore([a.address, b.address], {
      distribution: (key) => (key.startsWith('a') ? 0 : 1),
      ...options,
    });
    return core;
  }

  /** getMulti over the toy protocol, built from the kit as a client would. */
  async function getMulti(c: Core, keys: string[], routingKey?: string): Promise<Map<string, string>> {
    const so = c.prepare(undefined);
    const result = new Map<string, string>();
    const parts = splitByServer(c.cluster, keys, c.target({ routingKey }));
    const errors = await fanOut(parts, so, {
      request: (indexes) => multi(indexes.map((i) => keys[i])),
      onReply: (reply, indexes) => indexes.forEach((i, j) => result.set(keys[i], (reply as string[])[j])),
      name: (i) => keys[i],
    });
    return finishPartial(result, errors, keys.length);
  }

  afterEach(async () => {
    core?.destroy();
    core = undefined;
    await Promise.all([a.close(), b.close()]);
  });

  describe('with both servers answering', () => {
    beforeEach(async () => {
      [a, b] = await Promise.all([startScriptedServer(lines()), startScriptedServer(lines())]);
    });

    it('splits the keys by server, one request each, in the keys’ order, and joins the replies', async () => {
      const c = open();
      const got = await getMulti(c, ['a1', 'b1', 'a2', 'b2', 'b3']);
      expect(Object.fromEntries(got)).to.deep.equal({
        a1: `v-a1@${a.port}`,
        a2: `v-a2@${a.port}`,
        b1: `v-b1@${b.port}`,
        b2: `v-b2@${b.port}`,
        b3: `v-b3@${b.port}`,
      });
      expect(a.connections[0].requests.map((r) => r.line)).to.deep.equal(['MULTI a1,a2 2']);
      expect(b.connections[0].requests.map((r) => r.line)).to.deep.equal(['MULTI b1,b2,b3 3']);
    });

    it('sends nothing to a server that owns none of the keys', async () => {
      const c = open();
      await getMulti(c, ['b1', 'b2']);
      expect(a.connections).to.have.length(0);
    });

    it('a routing key sends every key to its server, in one request', async () => {
      const c = open();
      const got = await getMulti(c, ['a1', 'b1'], 'b-anything');
      expect([...got.values()]).to.deep.equal([`v-a1@${b.port}`, `v-b1@${b.port}`]);
      expect(a.connections).to.have.length(0);
    });

    it('splitByServer gives keyless items to the first server', () => {
      const c = open();
      const parts = splitByServer(c.cluster, [undefined, 'b1', undefined]);
      expect([...parts].map(([backend, i]) => [backend.server, i])).to.deep.equal([
        [a.address, [0, 2]],
        [b.address, [1]],
      ]);
    });

    it('splitByServer over one server gives it every item, in order, and nothing for no items', () => {
      const c = lineCore([a.address], { distribution: () => 1 }); // one server: never asked
      try {
        const parts = splitByServer(c.cluster, ['b1', undefined, 'a1', 'b2']);
        expect([...parts].map(([backend, i]) => [backend.server, i])).to.deep.equal([
          [a.address, [0, 1, 2, 3]],
        ]);
        expect(splitByServer(c.cluster, []).size).to.equal(0);
      } finally {
        c.destroy();
      }
    });

    it('a request the caller refuses fails the call with nothing sent', async () => {
      const c = open();
      const sent = fanOut(splitByServer(c.cluster, ['a1', 'b1']), c.prepare(undefined), {
        request: (indexes, backend) => {
          if (backend.server === b.address) throw new Error('refused');
          return multi(indexes.map(String));
        },
        onReply: () => undefined,
        name: String,
      });
      const err = (await sent.catch((e: unknown) => e)) as Error;
      expect(err.message).to.equal('refused');
      // Checked on the client: a connection it had opened might not be accepted yet.
      expect(c.cluster.stats.map((s) => s.created + s.pending)).to.deep.equal([0, 0]);
    });
  });

  describe('with one server failing', () => {
    beforeEach(async () => {
      [a, b] = await Promise.all([startScriptedServer(lines()), startScriptedServer(lines(true))]);
    });

    it("ERR_PARTIAL_RESULT: the other server's replies in results, each failed key's error in errors", async () => {
      const c = open();
      const err = (await getMulti(c, ['a1', 'b1', 'a2', 'b2']).catch(
        (e: unknown) => e,
      )) as PartialResultError<Map<string, string>>;
      expect(err).to.be.instanceOf(PartialResultError);
      expect(err.code).to.equal('ERR_PARTIAL_RESULT');
      expect(err.message).to.equal('2 of 4 keys failed');
      expect(Object.fromEntries(err.results)).to.deep.equal({ a1: `v-a1@${a.port}`, a2: `v-a2@${a.port}` });
      expect([...err.errors.keys()].sort()).to.deep.equal(['b1', 'b2']);
      const failure = err.errors.get('b1')!;
      expect(failure.code).to.equal('ERR_SERVER_ERROR');
      expect(failure.server).to.equal(b.address);
      expect(err.errors.get('b2')).to.equal(failure);
    });

    it('when every key failed for one reason: that error itself, not a partial result', async () => {
      const c = open();
      const err = (await getMulti(c, ['b1', 'b2']).catch((e: unknown) => e)) as MemlineError;
      expect(err.code).to.equal('ERR_SERVER_ERROR');
      expect(err.server).to.equal(b.address);
    });
  });
});

describe('lib/kit finishPartial', () => {
  it('names the items in its message; the result as it is when nothing failed', () => {
    expect(finishPartial('r', new Map(), 3)).to.equal('r');
    const e1 = new PartialResultError('x', null, new Map());
    const errors = new Map<string, MemlineError>([['1', e1]]);
    expect(() => finishPartial([1, undefined], errors, 2, 'commands')).to.throw('1 of 2 commands failed');
  });
});
