/**
 * The client kit: what every client built on the engine shares, whatever its protocol. Engine
 * options resolved from a client's options, the call wrapper, calls over many keys split by server
 * with partial results, and calls sent to every server.
 */
export {
  ENGINE_DEFAULTS,
  clusterOptions,
  resolveBreaker,
  resolveDistribution,
  resolveEngineOptions,
  resolveTls,
} from './engine-options.js';
export type { EngineDefaults, EngineOptions, ResolvedEngineOptions, TlsOptions } from './engine-options.js';
export { ClientCore, asError, prepareCall } from './call.js';
export type { CallOptions, RoutedCallOptions } from './call.js';
export { eachServer, fanOut, finishPartial, splitByServer } from './fan-out.js';
export type { FanOut, Parts } from './fan-out.js';
export { MAX_TIMER_MS, bool, checkNames, duration, integer, iterable, objectOption } from './validate.js';
