/**
 * A benchmark worker: one child process per client, so no client shares a heap, a JIT profile or an
 * event loop with another. The parent drives it over IPC: open a cell, run it (many times), close it;
 * or measure memory. `argv[2]` names the client.
 */
import type { CellSpec, ClientName, Timing } from './cells.js';
import { createDriver } from './clients.js';
import { InMemoryMemcached, installInMemoryServer } from './in-memory.js';
import type { Driver } from './driver.js';
import { Keyspace, keyspaceFor } from './keyspace.js';
import { timedRun } from './load.js';
import { measureMemory } from './memory.js';
import type { RawTransport } from './raw.js';

export type WorkerRequest =
  | {
      type: 'open';
      cell: CellSpec;
      /** Where the client connects, and the plaintext listeners of the same servers for `stats`. */
      servers: string[];
      statsServers: string[];
      pids: number[];
      transport: RawTransport;
    }
  | { type: 'run'; warmupMs: number; durationMs: number }
  | { type: 'close' }
  | { type: 'memory'; address: string; pid: number; timing: Timing }
  | { type: 'exit' };

export type WorkerReply = { id: number } & ({ ok: true; value?: unknown } | { ok: false; error: string });

const name = process.argv[2] as ClientName;
// The open cell: its key space and the driver made for it.
let open:
  | {
      cell: CellSpec;
      ks: Keyspace;
      driver: Driver;
      statsServers: string[];
      pids: number[];
      /** Puts Node's `net.connect` back (an in-process cell). */
      uninstall: (() => void) | undefined;
    }
  | undefined;

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.type) {
    case 'open': {
      const ks = keyspaceFor(req.cell);
      const uninstall = req.cell.inProcess ? installInMemoryServer(InMemoryMemcached.of(ks)) : undefined;
      const driver = createDriver(name, ks);
      try {
        await driver.open(req.servers, req.transport);
      } catch (err) {
        uninstall?.();
        throw err;
      }
      open = { cell: req.cell, ks, driver, statsServers: req.statsServers, pids: req.pids, uninstall };
      return undefined;
    }
    case 'run':
      if (open === undefined) throw new Error('run before open');
      return timedRun(
        open.driver,
        open.ks,
        open.cell,
        req.warmupMs,
        req.durationMs,
        open.statsServers,
        open.pids,
      );
    case 'close':
      await open?.driver.close();
      open?.uninstall?.();
      open = undefined;
      return undefined;
    case 'memory':
      return measureMemory(new Keyspace(), req.address, req.pid, req.timing);
    case 'exit':
      setImmediate(() => process.exit(0)); // after the reply is sent; --cpu-prof writes its profile here
      return undefined;
  }
}

process.on('message', (message: { id: number; request: WorkerRequest }) => {
  handle(message.request).then(
    (value) => process.send?.({ id: message.id, ok: true, value } satisfies WorkerReply),
    (err: unknown) =>
      process.send?.({
        id: message.id,
        ok: false,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      } satisfies WorkerReply),
  );
});

// The parent went away (Ctrl-C, a crash): do not linger.
process.on('disconnect', () => process.exit(0));
// A peer's stray rejection or exception must not take the worker down mid-run; report it instead.
process.on('unhandledRejection', (err) => console.error(`bench worker ${name}: unhandled rejection:`, err));
process.on('uncaughtException', (err) => console.error(`bench worker ${name}: uncaught exception:`, err));
