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
 * | `memline:request:start`       | `{ id, server, request, system, batchSize?, batchOperation? }` |
 * | `memline:request:end`         | `{ id, server, request, duration }` (ms)                       |
 * | `memline:request:error`       | `{ id, server, request, duration, error }`                     |
 * | `memline:connection:open`     | `{ server, id, tls }`                                          |
 * | `memline:connection:close`    | `{ server, id, error }` (`error` when it failed)               |
 * | `memline:breaker:change`      | `{ server, state }` (`closed`, `open`, `half-open`)            |
 * | `memline:eject:change`        | `{ server, state, pools, failures? }` (`ejected`, `restored`)  |
 *
 * `request` is the codec's label (`"mg"`, `"batch of 3 mg"`). Request messages carry no key, value or
 * credential, unless an OpenTelemetry instrumentation with `recordKeys` asked for keys.
 */
export const channels = {
  requestStart: diagnostics.channel('memline:request:start'),
  requestEnd: diagnostics.channel('memline:request:end'),
  requestError: diagnostics.channel('memline:request:error'),
  connectionOpen: diagnostics.channel('memline:connection:open'),
  connectionClose: diagnostics.channel('memline:connection:close'),
  breaker: diagnostics.channel('memline:breaker:change'),
  /** Auto-eject (a pool's `eject` option): a server left its pools' rings, or came back. */
  eject: diagnostics.channel('memline:eject:change'),
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
  /**
   * How many operations the request carries, when it is a batch (a label `"batch of <n>"`, as a
   * getMulti's per-server request, `"pipeline of <n>"` or `"transaction of <n>"`); absent otherwise.
   */
  readonly batchSize?: number;
  /** The operation every item of a batch shares (`"mg"` in `"batch of 3 mg"`), when the label says. */
  readonly batchOperation?: string;
  /**
   * The keys the request names, as sent (key prefix included); present only while an OpenTelemetry
   * instrumentation with `recordKeys` runs.
   */
  readonly keys?: readonly string[];
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

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Whether anyone listens to request events (checked per request, so it must stay cheap). */
export function tracingRequests(): boolean {
  return (
    channels.requestStart.hasSubscribers ||
    channels.requestEnd.hasSubscribers ||
    channels.requestError.hasSubscribers
  );
}

let keySharers = 0;

/**
 * Asks for the keys of every request in the `keys` field of request messages, for every subscriber,
 * until the returned function is called (once per call of this one). Keys can be personal data:
 * only ask when whoever reads the channels may see them.
 */
export function shareKeys(): () => void {
  keySharers++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    keySharers--;
  };
}

/** `"batch of 3 mg"`, `"batch of 2"`, `"pipeline of 3"`, `"transaction of 2"`. */
const BATCH_LABEL = /^(?:batch|pipeline|transaction) of (\d+)(?: (\S+))?$/;

let nextRequestId = 1;

/**
 * Publishes start, then end or error, around a request's promise. `keys` is called only while a
 * subscriber asked for keys ({@link shareKeys}).
 */
export function traceRequest<T>(
  server: string,
  request: string,
  system: string,
  sent: () => Promise<T>,
  keys?: () => readonly string[],
): Promise<T> {
  const id = nextRequestId++;
  const startedAt = performance.now();
  const start: Mutable<RequestStartMessage> = { id, server, request, system };
  const batch = BATCH_LABEL.exec(request);
  if (batch !== null) {
    start.batchSize = Number(batch[1]);
    if (batch[2] !== undefined) start.batchOperation = batch[2];
  }
  if (keySharers > 0 && keys !== undefined) start.keys = keys();
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
