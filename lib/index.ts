/**
 * The engine: connections, backends and the cluster, for any request/response protocol that
 * implements {@link ProtocolCodec}. Import it as `memline/engine`.
 */
export * from './errors.js';
export { MORE, SKIP, FrameFailure } from './codec.js';
export type {
  ProtocolCodec,
  FrameDecoder,
  FrameVerdict,
  ConnectionInfo,
  ReplyHead,
  ReplySlot,
} from './codec.js';
export { OutBuffer } from './out-buffer.js';
export { Connection } from './connection.js';
export type { ConnectionOptions, ConnectionEvents } from './connection-options.js';
export type { SendOptions, RequestEntry, EntryState, SignalWatch } from './request-entry.js';
export { Backend } from './backend.js';
export type { BackendOptions, ServerAddress } from './backend.js';
export type { ReconnectOptions } from './reconnect.js';
export { clientMetrics } from './metrics.js';
export type { BackendStats, ClientMetrics, ServerMetrics, MetricsTotal } from './metrics.js';
export { engineProbeVerdict } from './breaker.js';
export { Transport, tlsServername, isTlsErrorCode } from './transport.js';
export type { TransportTarget, ConnectPhase } from './transport.js';
export { Cluster, parseServer } from './cluster.js';
export type { ServerSpec } from './cluster.js';
export { channels } from './diagnostics.js';
export { StaticDiscovery, ShortExchange } from './discovery.js';
export type { DiscoverySource, ShortExchangeOptions } from './discovery.js';
export { createDistribution } from './distribution/index.js';
export type { Distribution, DistributionKind, DistributionFunction } from './distribution/index.js';
export type { ClusterOptions, ServerListChange } from './cluster.js';
export type { BackendCounters, RequestCounters } from './metrics.js';
export type { BreakerOptions, BreakerState } from './breaker.js';
export type { EngineLogger } from './backend.js';
export type { RequestStartMessage, RequestEndMessage, RequestErrorMessage } from './diagnostics.js';
export * from './kit/index.js';
