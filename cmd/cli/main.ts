#!/usr/bin/env node
/**
 * memline's command-line tool (the `memline` bin; `npm run cli -- <command>` from a checkout).
 *
 *   memline --servers 10.0.0.1:11211,10.0.0.2:11211 get user:42
 *   memline stats --json | jq .
 *
 * This file parses the line, builds the client, runs the command and turns errors into exit statuses;
 * the commands are in commands/, one table row each.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MemcacheClient,
  MemlineError,
  type MemcacheClientOptions,
  type TlsOptions,
} from '../../protocols/memcached-meta/index.js';
import { DEFAULT_SERVER, findCommand as commandIndex, parseLine, UsageError, type TlsFlags } from './argv.js';
import type { Command, Context } from './command.js';
import { findCommand } from './commands/index.js';
import { describePools, readConfig, type RouteConfig } from './config.js';
import { ARGUMENT_CODES, exitFor } from './errors.js';
import { commandHelp, globalHelp } from './help.js';
import { verboseLogger } from './logger.js';
import { Exit, Output, type ExitCode } from './output.js';

async function main(argv: string[]): Promise<ExitCode> {
  const at = commandIndex(argv);
  let name = at === -1 ? undefined : argv[at];
  let command = name === undefined ? undefined : findCommand(name);
  let out = new Output(argv.includes('--json'));
  try {
    const line = parseLine(argv, command?.options ?? {}, process.env);
    out = new Output(line.global.json);
    if (line.global.version) {
      out.result({ version: ownVersion() }, () => `memline ${ownVersion()}`);
      return Exit.OK;
    }
    if (name === 'help') {
      name = line.positionals[0];
      command = name === undefined ? undefined : findCommand(name);
      if (name !== undefined && command === undefined) throw new UsageError(`unknown command "${name}"`);
      out.raw(`${command === undefined ? globalHelp() : commandHelp(command)}\n`);
      return Exit.OK;
    }
    if (command === undefined) {
      if (name === undefined && line.global.help) {
        out.raw(`${globalHelp()}\n`);
        return Exit.OK;
      }
      throw new UsageError(name === undefined ? 'no command given' : `unknown command "${name}"`);
    }
    if (line.global.help) {
      out.raw(`${commandHelp(command)}\n`);
      return Exit.OK;
    }
    const n = line.positionals.length;
    if (n < command.arity.min || n > command.arity.max) throw new UsageError(arityMessage(command, n));
    if (line.global.serverSource === 'default') {
      out.note(`no --servers or MEMLINE_SERVERS given: using ${DEFAULT_SERVER}`);
    }
    return await runCommand(command, {
      global: line.global,
      args: line.positionals,
      flags: line.flags,
      out,
    });
  } catch (err) {
    return fail(err, command, out);
  }
}

async function runCommand(
  command: Command,
  ctx: Omit<Context, 'client' | 'signal' | 'stdin'>,
): Promise<ExitCode> {
  const g = ctx.global;
  const config = g.config === undefined ? undefined : readConfig(g.config);
  const options: MemcacheClientOptions = {
    ...(config === undefined
      ? { servers: g.serverSpecs }
      : { pools: config.pools, ...(config.route === undefined ? {} : { route: config.route }) }),
    distribution: g.distribution,
    timeout: g.timeout,
    connectTimeout: g.timeout,
    ...(g.keyPrefix === undefined ? {} : { keyPrefix: g.keyPrefix }),
    ...(g.auth === undefined ? {} : { auth: g.auth }),
    ...(g.tls === undefined ? {} : { tls: tlsOptions(g.tls) }),
    breaker: { threshold: 0 },
    ...(g.verbose ? { logger: await verboseLogger() } : {}),
  };
  const client = newClient(options, config);
  // With pools, the servers are every pool's, in the client's order (what per-server.ts indexes).
  const global =
    config === undefined
      ? g
      : {
          ...g,
          servers: client.metrics.servers.map((s) => s.server),
          pools: describePools(config, g.distribution),
        };
  const interrupt = new AbortController();
  // The first Ctrl-C asks a long-running command to finish (and print its summary); a second one exits.
  const onSigint = () => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  };
  if (command.interruptible === true) process.on('SIGINT', onSigint);
  try {
    return await command.run({ ...ctx, global, client, signal: interrupt.signal, stdin: readStdin });
  } finally {
    process.off('SIGINT', onSigint);
    await client.close();
  }
}

/** The client; with `--config`, a pool or route the client refuses is a usage error naming the file. */
function newClient(options: MemcacheClientOptions, config: RouteConfig | undefined): MemcacheClient {
  try {
    return new MemcacheClient(options);
  } catch (err) {
    if (config !== undefined && err instanceof MemlineError && err.code === 'ERR_INVALID_ARGUMENT') {
      throw new UsageError(`--config ${config.file}: ${err.message}`);
    }
    throw err;
  }
}

/** The TLS flags as the client's options, with the PEM files read. */
function tlsOptions(flags: TlsFlags): TlsOptions {
  const read = (option: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(
        `${option}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
    }
  };
  const tls: TlsOptions = {};
  const ca = read('--tls-ca', flags.ca);
  const cert = read('--tls-cert', flags.cert);
  const key = read('--tls-key', flags.key);
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if (flags.servername !== undefined) tls.servername = flags.servername;
  if (flags.insecure) tls.dangerouslyDisableCertificateVerification = true;
  return tls;
}

function arityMessage({ arity: { min, max }, synopsis }: Command, n: number): string {
  const count = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
  const noun = /(^| )1$/.test(count) ? 'argument' : 'arguments';
  return `expected ${count} ${noun} (${synopsis || 'none'}), got ${n}`;
}

/** Prints an error the way its kind calls for and returns the exit status. */
function fail(err: unknown, command: Command | undefined, out: Output): ExitCode {
  const help = command === undefined ? globalHelp() : commandHelp(command);
  const where = command === undefined ? 'memline' : `memline ${command.name}`;
  if (err instanceof UsageError) {
    out.stderr.write(`${where}: ${err.message}\n\n${help}\n`);
    return Exit.USAGE;
  }
  if (err instanceof MemlineError) {
    const mayHaveExecuted = command?.writes === true && err.mayHaveExecuted;
    out.error(err.code, err.message, err.server, mayHaveExecuted ? { mayHaveExecuted } : {});
    if (mayHaveExecuted && !out.json) {
      out.note(
        `the ${command.name} may have been executed all the same (the server got the request before the error): check before retrying`,
      );
    }
    debug(out, err);
    const status = exitFor(err.code);
    if (ARGUMENT_CODES.has(err.code)) out.stderr.write(`\n${help}\n`);
    return status;
  }
  out.error('ERR_UNEXPECTED', err instanceof Error ? err.message : String(err));
  debug(out, err);
  return Exit.ERROR;
}

function debug(out: Output, err: unknown): void {
  if (process.env.MEMLINE_DEBUG === '1' && err instanceof Error) out.stderr.write(`${err.stack}\n`);
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The version in memline's package.json (two levels up from cmd/cli, three from dist/cmd/cli). */
function ownVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'memline' && pkg.version !== undefined) return pkg.version;
    } catch {
      // not here: one level up
    }
  }
  return 'unknown';
}

// A closed pipe (`memline stats | head -1`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
