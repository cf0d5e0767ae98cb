/**
 * `node:diagnostics_channel` channels memline publishes on (see {@link channels}).
 */
import diagnostics from 'node:diagnostics_channel';
import type { MemlineError } from './errors.js';

/**
 * The `node:diagnostics_channel` channels memline publishes on, for subscribing without repeating
 * their names (`channels.requestEnd.subscribe(…)`). Publishing costs nothing when nobody subscribes
 * (every publish is guarded by `hasSubscribers`).
 *
 * | channel                       | message                                                        |
 * |-------------------------------|----------------------------------------------------------------|
 * | `memline:request:start`       | `{ id, server, request, system }` (`request`: a label, `"mg"`) |
 * | `memline:request:end`         | `{ id, server, request, duration }` (ms)                       |
 * | `memline:request:error`       | `{ id, server, request, duration, error }`                     |
 * | `memline:connection:open`     | `{ server, id, tls }`                                          |
 * | `memline:connection:close`    | `{ server, id, error }` (`error` when it failed)               |
 * | `memline:breaker:change`      | `{ server, state }` (`closed`, `open`, `half-open`)            |
 *
 * Request messages carry no key, value or credential: a label from the codec only.
 */
export const channels = {
  requestStart: diagnostics.channel('memline:request:start'),
  requestEnd: diagnostics.channel('memline:request:end'),
  requestError: diagnostics.channel('memline:request:error'),
  connectionOpen: diagnostics.channel('memline:connection:open'),
  connectionClose: diagnostics.channel('memline:connection:close'),
  breaker: diagnostics.channel('memline:breaker:change'),
} as const;

/** Published on `memline:request:start` when a backend accepts a request (past its breaker and queue). */
export interface RequestStartMessage {
  /** Identifies the request across its start and its end or error message (per process). */
  readonly id: number;
  /** `"host:port"` of the server it was sent to. */
  readonly server: string;
  /** The codec's label for the request (`"mg"`); never a key, value or credential. */
  readonly request: string;
  /** The protocol's database system (`ProtocolCodec.system`, else its name): `db.system.name`. */
  readonly system: string;
}
/** Published on `memline:request:end` when a request succeeds. */
export interface RequestEndMessage extends RequestStartMessage {
  /** ms from the start message to the reply. */
  readonly duration: number;
}
/** Published on `memline:request:error` when a request fails. */
export interface RequestErrorMessage extends RequestEndMessage {
  /** The error the caller's promise rejected with. */
  readonly error: MemlineError;
}

/** Whether anyone listens to request events (checked per request, so it must stay cheap). */
export function tracingRequests(): boolean {
  return (
    channels.requestStart.hasSubscribers ||
    channels.requestEnd.hasSubscribers ||
    channels.requestError.hasSubscribers
  );
}

let nextRequestId = 1;

/** Publishes start, then end or error, around a request's promise. */
export function traceRequest<T>(
  server: string,
  request: string,
  system: string,
  sent: () => Promise<T>,
): Promise<T> {
  const id = nextRequestId++;
  const startedAt = performance.now();
  const start: RequestStartMessage = { id, server, request, system };
  channels.requestStart.publish(start);
  return sent().then(
    (value) => {
      channels.requestEnd.publish({
        ...start,
        duration: performance.now() - startedAt,
      } satisfies RequestEndMessage);
      return value;
    },
    (error: MemlineError) => {
      const duration = performance.now() - startedAt;
      channels.requestError.publish({ ...start, duration, error } satisfies RequestErrorMessage);
      throw error;
    },
  );
}
