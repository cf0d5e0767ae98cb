/**
 * `node:diagnostics_channel` channels memline publishes on. Publishing costs nothing when nobody
 * subscribes (every publish is guarded by `hasSubscribers`).
 *
 * | channel                       | message                                   |
 * |-------------------------------|-------------------------------------------|
 * | `memline:connection:open`     | `{ server, id, tls }`                     |
 * | `memline:connection:close`    | `{ server, id, error }` (error if failed) |
 * | `memline:breaker:change`      | `{ server, state }` (closed/open/half-open) |
 */
import diagnostics from 'node:diagnostics_channel';

export const channels = {
  connectionOpen: diagnostics.channel('memline:connection:open'),
  connectionClose: diagnostics.channel('memline:connection:close'),
  breaker: diagnostics.channel('memline:breaker:change'),
} as const;
