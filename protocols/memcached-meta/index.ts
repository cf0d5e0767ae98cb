/**
 * memline: a memcached meta-protocol client.
 *
 * ```ts
 * import { MemcacheClient } from 'memline';
 * const client = new MemcacheClient({ servers: ['127.0.0.1:11211'] });
 * ```
 */
export { MemcacheClient } from './client.js';
// The route constructors, checkRoute, PartialWriteError and the route types.
export * from './routes/index.js';
export type {
  CallOptions,
  StoreOptions,
  CounterOptions,
  MetaRequestSpec,
  ReadManyOptions,
  ReadOptions,
  ValueStoreOptions,
  AppendOptions,
  DeleteOptions,
  ExpiryOptions,
} from './client.js';
export type { MemcacheClientOptions, TlsOptions, Logger, CompressionOptions } from './options.js';
export { DEFAULTS, DEFAULT_MAX_STORE_SIZE } from './options.js';
export type { Item, ItemMetaField, DebugInfo, Key, MetaResult, Value } from './results.js';
export type { GetOrSetOptions, UpdateOptions, LockHandle, RecipeClient } from './recipes.js';
export { serializers, memlineSerializer, phpSerializer } from './serializers.js';
export type { Serializer, SerializedValue, CompressionAlgorithm } from './serializers.js';
export { FEATURE_SINCE } from './features.js';
export type { ServerFeatures, FeatureName } from './features.js';
export type { MetaFrame } from './frame.js';
export type { ReturnedFlags } from './returned-flags.js';
export type { MetaFlags } from './commands.js';
export type { ItemSink, MetaCommand, MetaRequest, RequestKind, WireKey } from './request.js';
export { meta } from './builders.js';
export type {
  FetchFlag,
  MetaGetOptions,
  MetaSetOptions,
  MetaDeleteOptions,
  MetaArithOptions,
} from './builders.js';
export { MetaCodec } from './codec.js';
export type { MetaCodecOptions } from './codec.js';
export type { DecoderLimits } from './decoder.js';
export * from '../../lib/errors.js';
export * from './errors.js';
export type { ServerSpec, ServerListChange } from '../../lib/cluster.js';
export type { ClientMetrics, ServerMetrics } from './client.js';
export type { ReadCounts, ReadCounter } from './counters.js';
export type { NearCacheOptions, NearCacheStats } from './hot-keys/near-cache.js';
export type { ReliableDeletesOptions } from './reliable-deletes.js';
export type { DeleteJournalStats } from './delete-journal.js';
export type { BackendStats } from '../../lib/backend.js';
export { ElastiCacheDiscovery, parseClusterConfig, ELASTICACHE_DISCOVERY_DEFAULTS } from './elasticache.js';
export type { ElastiCacheDiscoveryOptions, ClusterConfig } from './elasticache.js';
export { StaticDiscovery } from '../../lib/discovery.js';
export type { DiscoverySource } from '../../lib/discovery.js';
export type { DistributionKind, DistributionFunction } from '../../lib/distribution/index.js';
