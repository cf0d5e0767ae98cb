/**
 * Redis (RESP2/RESP3) on memline's engine: a pure codec and a small typed client.
 *
 * ```ts
 * import { RedisClient } from 'memline/redis';
 * const client = new RedisClient({ servers: ['127.0.0.1:6379'] });
 * ```
 */
export { RedisClient } from './client.js';
export type { CallOptions, SetOptions, CommandOptions, HashFields, Value } from './client.js';
export { REDIS_DEFAULTS } from './options.js';
export type { RedisClientOptions, RedisTlsOptions } from './options.js';
export { RespCodec } from './codec.js';
export type { RespCodecOptions } from './codec.js';
export { RespDecoder } from './decoder.js';
export type { RespLimits } from './decoder.js';
export { encodeCommand } from './encoder.js';
export type { RedisArg } from './encoder.js';
export { COMMANDS } from './commands.js';
export type { CommandSpec } from './commands.js';
export { RedisRequest } from './request.js';
export type { RequestKind } from './request.js';
export { RedisServerError } from './errors.js';
export { RespError, VerbatimString } from './values.js';
export type { RespValue, ReplyKind } from './values.js';
export * from '../../lib/errors.js';
export type { ServerSpec } from '../../lib/cluster.js';
export type { BackendStats, ClientMetrics } from '../../lib/backend.js';
export type { DistributionKind, DistributionFunction } from '../../lib/distribution/index.js';
