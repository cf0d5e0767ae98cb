/**
 * The option handling of the client kit under its former names, for code not yet moved onto
 * `lib/kit/` (to be removed once nothing imports it).
 */
export { MAX_TIMER_MS, checkNames, prepareCall, resolveBreaker, resolveTls } from './kit/index.js';
export type { CallOptions as CallOptionsBase, TlsOptions } from './kit/index.js';
