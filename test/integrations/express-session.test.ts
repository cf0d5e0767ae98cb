import { expect } from 'chai';
import express from 'express';
import session from 'express-session';
import { MemcacheClient } from '../../protocols/memcached-meta/index.js';
import { SessionStore } from '../../protocols/memcached-meta/integrations/express-session.js';
import { startMemcached, type MemcachedProcess } from '../harness/memcached.js';
import { Browser, listen } from './http.js';

declare module 'express-session' {
  interface SessionData {
    user?: string;
    visits?: number;
  }
}

const HOUR_MS = 3_600_000;

function app(store: SessionStore, cookie: session.CookieOptions = { maxAge: HOUR_MS }) {
  const a = express();
  a.use(session({ store, secret: 'test secret', resave: false, saveUninitialized: false, cookie }));
  a.post('/login', (req, res) => {
    req.session.user = req.query.user as string;
    if (req.query.maxAge !== undefined) req.session.cookie.maxAge = Number(req.query.maxAge);
    res.send('ok');
  });
  a.get('/me', (req, res) => {
    if (req.session.user === undefined) res.status(401).send('who?');
    else res.send(req.session.user);
  });
  a.post('/visit', (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.send(String(req.session.visits));
  });
  a.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.send('bye'))));
  return a;
}

/** The session id in the browser's signed `connect.sid` cookie. */
function sidOf(browser: Browser): string {
  const signed = decodeURIComponent(browser.cookies.get('connect.sid')!); // s:<sid>.<signature>
  return signed.slice(2, signed.lastIndexOf('.'));
}

describe('memline/express-session: SessionStore with a real Express app', function () {
  let mc: MemcachedProcess;
  let client: MemcacheClient;
  let store: SessionStore;
  let server: Awaited<ReturnType<typeof listen>>;

  async function ttlOnServer(sid: string): Promise<number | null> {
    const r = await client.meta({ command: 'mg', key: `sess:${sid}`, flags: { t: true } });
    return r.status === 'EN' ? null : r.flags.t!;
  }

  before(async () => {
    mc = await startMemcached();
    client = new MemcacheClient({ servers: [mc.address] });
    store = new SessionStore(client);
    server = await listen(app(store));
  });

  after(async () => {
    await server?.close();
    await client?.close();
    await mc?.stop();
  });

  it('log in, reload: the session is one JSON item that lives as long as the cookie', async () => {
    const browser = new Browser(server.url);
    expect((await browser.request('GET', '/me')).status).to.equal(401);
    expect((await browser.request('POST', '/login?user=ann')).status).to.equal(200);
    for (let i = 0; i < 3; i++) expect((await browser.request('GET', '/me')).body).to.equal('ann');
    const item = await client.get(`sess:${sidOf(browser)}`);
    expect(JSON.parse(item!.value.toString())).to.deep.include({ user: 'ann' });
    expect(await ttlOnServer(sidOf(browser))).to.be.within(3599, 3600);
    expect((await new Browser(server.url).request('GET', '/me')).status).to.equal(401);
  });

  it('an unmodified request touches the session: its TTL is renewed from the cookie', async () => {
    const browser = new Browser(server.url);
    await browser.request('POST', '/login?user=bob');
    await client.touch(`sess:${sidOf(browser)}`, 100);
    expect((await browser.request('GET', '/me')).body).to.equal('bob');
    expect(await ttlOnServer(sidOf(browser))).to.be.within(3599, 3600);
  });

  it('expire: when the cookie runs out, memcached drops the session and the user is logged out', async () => {
    const browser = new Browser(server.url);
    await browser.request('POST', '/login?user=cid&maxAge=1000');
    const sid = sidOf(browser);
    expect(await ttlOnServer(sid)).to.be.oneOf([null, 0, 1]); // memcached counts whole seconds
    // memcached's clock is its own (1 s resolution): wait for the server, bounded, not for a fixed time.
    const deadline = Date.now() + 3000;
    while ((await ttlOnServer(sid)) !== null) {
      expect(Date.now(), 'the session outlived its cookie').to.be.below(deadline);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await browser.request('GET', '/me')).status).to.equal(401);
  });

  it('log out deletes the session; the old cookie is worthless', async () => {
    const browser = new Browser(server.url);
    await browser.request('POST', '/login?user=dee');
    const sid = sidOf(browser);
    expect((await browser.request('POST', '/logout')).body).to.equal('bye');
    expect(await client.get(`sess:${sid}`)).to.equal(null);
    expect((await browser.request('GET', '/me')).status).to.equal(401);
  });

  it('60 concurrent requests of one session, reads and writes mixed, all succeed on one session', async () => {
    const browser = new Browser(server.url);
    await browser.request('POST', '/login?user=eve');
    const sid = sidOf(browser);
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) => browser.request(i % 2 ? 'GET' : 'POST', i % 2 ? '/me' : '/visit')),
    );
    expect(replies.map((r) => r.status)).to.deep.equal(replies.map(() => 200));
    expect(replies.filter((_, i) => i % 2).map((r) => r.body)).to.deep.equal(Array(30).fill('eve'));
    expect(sidOf(browser)).to.equal(sid);
    // Concurrent writers of one session: the last write wins (express-session's contract with any store).
    const stored = JSON.parse((await client.get(`sess:${sid}`))!.value.toString()) as {
      user: string;
      visits: number;
    };
    expect(stored.user).to.equal('eve');
    expect(stored.visits).to.be.within(1, 30);
  });

  it('a cookie without expiry lives `ttl` seconds on the server', async () => {
    const own = new SessionStore({ servers: [mc.address] }, { ttl: 123, prefix: 'other:' });
    const browserSession = await listen(app(own, {}));
    try {
      const browser = new Browser(browserSession.url);
      await browser.request('POST', '/login?user=fay');
      const r = await client.meta({ command: 'mg', key: `other:${sidOf(browser)}`, flags: { t: true } });
      expect(r.flags.t).to.be.within(122, 123);
    } finally {
      await browserSession.close();
      await own.close();
    }
  });

  it('bad options are refused with ERR_INVALID_ARGUMENT', () => {
    expect(() => new SessionStore(client, { ttl: 0 }))
      .to.throw()
      .with.property('code', 'ERR_INVALID_ARGUMENT');
  });
});
