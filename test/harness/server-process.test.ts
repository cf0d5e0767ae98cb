import { expect } from 'chai';
import { exchange, startServer, ServerProcess, type ServerConfig } from './server-process.js';
import { pidAlive } from './resources.js';

/** A Node server on every given port that tells its PID to each connection and ignores SIGTERM. */
const STUBBORN = `
  const net = require('node:net');
  process.on('SIGTERM', () => {});
  for (const port of process.argv.slice(1)) {
    net.createServer((s) => s.end(String(process.pid))).listen(Number(port), '127.0.0.1');
  }`;

const stubborn = (portCount: number): ServerConfig => ({
  program: process.execPath,
  args: (ports) => ['-e', STUBBORN, ...ports.map(String)],
  portCount,
  probePid: async (ports, probe) => {
    // Every port must answer: the server is ready only once it listens on all of them.
    const pids = await Promise.all(ports.map((p) => exchange(p, [{ write: '' }], probe)));
    const [first, ...rest] = pids.map(([reply]) => Number(String(reply)));
    return rest.every((pid) => pid === first) ? first : NaN;
  },
  stopGraceMs: 200,
});

describe('server-process harness', () => {
  const started: ServerProcess[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.kill()));
  });

  it('stop() sends SIGKILL after stopGraceMs when the server ignores SIGTERM', async () => {
    const server = await startServer(ServerProcess, stubborn(1));
    started.push(server);
    const { pid } = server;
    const t0 = performance.now();
    await server.stop();
    expect(performance.now() - t0).to.be.within(190, 1500); // the grace, not the 2 s default
    expect(server.running).to.equal(false);
    expect(pidAlive(pid)).to.equal(false);
  });

  it('picks as many free ports as asked and restarts on the same ones with a new pid', async () => {
    const server = await startServer(ServerProcess, stubborn(2));
    started.push(server);
    const { ports, pid } = server;
    expect(ports).to.have.length(2);
    expect(ports[0]).to.not.equal(ports[1]);
    await server.kill();
    await server.restart();
    expect(server.ports).to.deep.equal(ports);
    expect(server.pid).to.not.equal(pid);
    const [reply] = await exchange(ports[1], [{ write: '' }]);
    expect(String(reply)).to.equal(String(server.pid));
  });

  it('rejects with the output when the program exits before it answers', async () => {
    const config: ServerConfig = {
      program: process.execPath,
      args: () => ['-e', 'console.error("no such option"); process.exit(3)'],
      probePid: async ([port], probe) => Number(String((await exchange(port, [{ write: '' }], probe))[0])),
    };
    let error: unknown;
    await startServer(ServerProcess, config).catch((e: unknown) => (error = e));
    expect(String(error)).to.match(/exited early \(code 3, signal null\)\nstderr: no such option/);
  });
});
