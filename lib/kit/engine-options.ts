/**
 * The engine options every client built on memline shares (servers, timeouts, bounds, TLS, breaker,
 * reconnects, logger): their documented type, their frozen defaults, and their resolution into the
 * {@link ClusterOptions} the engine takes. A protocol's options extend {@link EngineOptions} with
 * its own and resolve them next to {@link resolveEngineOptions}.
 */
import type { ConnectionOptions as TlsConnectOptions } from 'node:tls';
import type { EngineLogger } from '../backend.js';
import type { BreakerOptions } from '../breaker.js';
import type { ClusterOptions, ServerSpec } from '../cluster.js';
import type { ProtocolCodec } from '../codec.js';
import type { DistributionKind } from '../distribution/index.js';
import { InvalidArgumentError } from '../errors.js';
import { checkNames, duration, integer, MAX_TIMER_MS, objectOption } from './validate.js';

/** TLS settings. Certificate verification is on unless switched off by its loudly named option. */
export interface TlsOptions {
  /** CA certificates to trust instead of the system's. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Client certificate, for servers that require one (mutual TLS). */
  cert?: string | Buffer;
  /** Private key of `cert`. */
  key?: string | Buffer;
  /** Name to verify the server's certificate against. @default the host, when it is not an IP address */
  servername?: string;
  /** Lowest TLS version to accept. @default 'TLSv1.2' */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /**
   * Accept any certificate, including forged ones: the connection is then open to interception.
   * For tests against self-signed servers only. @default false
   */
  dangerouslyDisableCertificateVerification?: boolean;
}

/** The settings of the engine under a client; only `servers` is required. */
export interface EngineOptions {
  /** The servers, as `"host:port"` or `{ host, port, weight? }`. */
  servers: readonly ServerSpec[];
  /** How keys map to servers: `'ketama'`, `'jump'`, `'modula'`, `'proxy'` or a function. @default 'ketama' */
  distribution?: DistributionKind;
  /** ms per call, counted from the call (queueing and connecting included). @default 1000 */
  timeout?: number;
  /** ms to open a connection (TCP, TLS and the protocol's handshake). @default 1000 */
  connectTimeout?: number;
  /** TLS: `true` for the system's CAs, or settings. @default undefined (plain TCP) */
  tls?: boolean | TlsOptions;
  /** Connections per server. @default 1 */
  connectionsPerServer?: number;
  /** Requests queued plus in flight per connection; past it calls fail with ERR_QUEUE_FULL. @default 16384 */
  maxPending?: number;
  /** TCP keepalive initial delay in ms; 0 turns keepalive off. @default 30000 */
  keepAlive?: number;
  /** Bytes queued for one connection and not yet taken by the kernel; past it ERR_QUEUE_FULL. @default 67108864 */
  maxQueuedBytes?: number;
  /**
   * ms a connection may go without receiving a byte while requests are in flight before it is
   * considered dead, destroyed and replaced; 0: never. @default 2000
   */
  silentTimeout?: number;
  /** ms after which a connection is replaced (gracefully) when next used; 0: never. @default 0 */
  maxConnectionAge?: number;
  /** ms without requests after which a connection is closed; 0: never. @default 0 */
  idleTimeout?: number;
  /**
   * Per-server circuit breaker: after `threshold` consecutive failures (refused or dropped
   * connections, timeouts) calls to that server fail at once with ERR_CIRCUIT_OPEN for `openTime` ms;
   * then one probe request goes through, and the breaker closes when the server answers. The open
   * time doubles after each failed probe up to `maxOpenTime`. `threshold: 0` turns it off.
   * @default { threshold: 5, openTime: 1000, maxOpenTime: 5000 }
   */
  breaker?: { threshold?: number; openTime?: number; maxOpenTime?: number };
  /** First reconnect delay after a failed connect, in ms (doubling, with jitter). @default 50 */
  reconnectBase?: number;
  /** Longest reconnect delay, in ms. @default 2000 */
  reconnectCap?: number;
  /** A pino logger. @default undefined (silent) */
  logger?: EngineLogger;
}

/**
 * The values {@link EngineOptions} falls back to, frozen. A protocol spreads them into its own
 * defaults object (and may override any of them).
 */
export const ENGINE_DEFAULTS = Object.freeze({
  distribution: 'ketama' as const,
  timeout: 1000,
  connectTimeout: 1000,
  connectionsPerServer: 1,
  maxPending: 16384,
  keepAlive: 30_000,
  maxQueuedBytes: 64 * 1024 * 1024,
  silentTimeout: 2000,
  maxConnectionAge: 0,
  idleTimeout: 0,
  reconnectBase: 50,
  reconnectCap: 2000,
  breaker: Object.freeze({ threshold: 5, openTime: 1000, maxOpenTime: 5000 }),
});

/** The defaults {@link resolveEngineOptions} reads: {@link ENGINE_DEFAULTS} or a protocol's own. */
export interface EngineDefaults {
  readonly distribution: DistributionKind;
  readonly timeout: number;
  readonly connectTimeout: number;
  readonly connectionsPerServer: number;
  readonly maxPending: number;
  readonly keepAlive: number;
  readonly maxQueuedBytes: number;
  readonly silentTimeout: number;
  readonly maxConnectionAge: number;
  readonly idleTimeout: number;
  readonly reconnectBase: number;
  readonly reconnectCap: number;
  readonly breaker: Readonly<BreakerOptions>;
}

/** {@link EngineOptions} with every default filled in and every value checked. */
export interface ResolvedEngineOptions extends EngineDefaults {
  /** As given: a list, or one comma-separated string (the {@link Cluster} parses either). */
  readonly servers: readonly ServerSpec[] | string;
  /** `node:tls` options, or `undefined` for plain TCP. */
  readonly tls: TlsConnectOptions | undefined;
  readonly breaker: BreakerOptions;
  readonly logger: EngineLogger | undefined;
}

/**
 * Fills in the defaults of the engine options and validates them; throws ERR_INVALID_ARGUMENT naming
 * the option. Options that are not the engine's are left to the caller.
 *
 * @param defaults @default ENGINE_DEFAULTS
 */
export function resolveEngineOptions(
  options: EngineOptions,
  defaults: EngineDefaults = ENGINE_DEFAULTS,
): ResolvedEngineOptions {
  const o = objectOption(options, 'options', 'an object with at least `servers`');
  const ms = (name: DurationOption, min = 1) => duration(o[name] ?? defaults[name], name, min);
  const count = (name: CountOption) => integer(o[name] ?? defaults[name], name);
  return {
    servers: o.servers,
    distribution: resolveDistribution(o.distribution ?? defaults.distribution),
    timeout: ms('timeout'),
    connectTimeout: ms('connectTimeout'),
    tls: resolveTls(o.tls),
    connectionsPerServer: count('connectionsPerServer'),
    maxPending: count('maxPending'),
    keepAlive: ms('keepAlive', 0),
    maxQueuedBytes: count('maxQueuedBytes'),
    silentTimeout: ms('silentTimeout', 0),
    maxConnectionAge: ms('maxConnectionAge', 0),
    idleTimeout: ms('idleTimeout', 0),
    breaker: resolveBreaker(o.breaker, defaults.breaker),
    reconnectBase: ms('reconnectBase'),
    reconnectCap: ms('reconnectCap'),
    logger: o.logger,
  };
}

type DurationOption =
  | 'timeout'
  | 'connectTimeout'
  | 'keepAlive'
  | 'silentTimeout'
  | 'maxConnectionAge'
  | 'idleTimeout'
  | 'reconnectBase'
  | 'reconnectCap';
type CountOption = 'connectionsPerServer' | 'maxPending' | 'maxQueuedBytes';

/** The settings of the engine's {@link Cluster} for `codec`, from resolved options. */
export function clusterOptions<Req, Res, Frame>(
  codec: ProtocolCodec<Req, Res, Frame>,
  o: ResolvedEngineOptions,
): ClusterOptions<Req, Res, Frame> {
  return {
    codec,
    distribution: o.distribution,
    // Server strings may carry the system's URL scheme ("memcached://host:port").
    ...(codec.system === undefined ? {} : { scheme: codec.system }),
    tls: o.tls,
    connectTimeout: o.connectTimeout,
    keepAlive: o.keepAlive,
    maxPending: o.maxPending,
    connections: o.connectionsPerServer,
    maxConnectionAge: o.maxConnectionAge,
    idleTimeout: o.idleTimeout,
    silentTimeout: o.silentTimeout,
    maxQueuedBytes: o.maxQueuedBytes,
    maxPendingPerServer: o.maxPending * o.connectionsPerServer,
    breaker: o.breaker,
    reconnect: { base: o.reconnectBase, cap: o.reconnectCap },
    ...(o.logger === undefined ? {} : { logger: o.logger }),
  };
}

/** A distribution name or function; throws ERR_INVALID_ARGUMENT naming `distribution`. */
export function resolveDistribution(distribution: unknown): DistributionKind {
  if (typeof distribution === 'function') return distribution as DistributionKind;
  if (
    distribution === 'ketama' ||
    distribution === 'jump' ||
    distribution === 'modula' ||
    distribution === 'proxy'
  ) {
    return distribution;
  }
  throw new InvalidArgumentError(
    `distribution "${String(distribution)}" is unknown: use 'ketama', 'jump', 'modula', 'proxy' or a function`,
  );
}

/** `tls: true | TlsOptions` to `node:tls` options; `undefined` for plain TCP. */
export function resolveTls(tls: boolean | TlsOptions | undefined): TlsConnectOptions | undefined {
  if (tls === undefined || tls === false) return undefined;
  if (tls === true) return {};
  checkNames(objectOption(tls, 'tls', 'true or an object'), TLS_NAMES, 'tls option');
  const { dangerouslyDisableCertificateVerification, ...rest } = tls;
  return {
    minVersion: 'TLSv1.2',
    ...rest,
    rejectUnauthorized: dangerouslyDisableCertificateVerification !== true,
  };
}

const TLS_NAMES: ReadonlySet<string> = new Set([
  'ca',
  'cert',
  'key',
  'servername',
  'minVersion',
  'dangerouslyDisableCertificateVerification',
]);

const BREAKER_NAMES: ReadonlySet<string> = new Set(['threshold', 'openTime', 'maxOpenTime']);

/** Fills in and validates the breaker settings; throws ERR_INVALID_ARGUMENT naming the field. */
export function resolveBreaker(
  given: Partial<BreakerOptions> | undefined,
  defaults: Readonly<BreakerOptions>,
): BreakerOptions {
  if (given === undefined) return defaults;
  checkNames(objectOption(given, 'breaker'), BREAKER_NAMES, 'breaker option');
  const out = { ...defaults, ...given };
  integer(out.threshold, 'breaker.threshold', 0, MAX_TIMER_MS);
  integer(out.openTime, 'breaker.openTime', 1, MAX_TIMER_MS);
  integer(out.maxOpenTime, 'breaker.maxOpenTime', 1, MAX_TIMER_MS);
  return out;
}
