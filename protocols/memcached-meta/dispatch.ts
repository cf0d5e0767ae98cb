/**
 * Where the client's requests go: one server by key (or by a caller's routing key), one quiet batch
 * per server for bulk calls, or every server (version, stats, flush_all).
 */
import type { Backend } from '../../lib/backend.js';
import type { Cluster } from '../../lib/cluster.js';
import { PartialResultError, type MemlineError } from '../../lib/errors.js';
import type { SendOptions } from '../../lib/request-entry.js';
import type { MetaFrame } from './frame.js';
import { MetaRequest, type WireKey } from './request.js';

export type MetaCluster = Cluster<MetaRequest, unknown, MetaFrame>;
export type MetaBackend = Backend<MetaRequest, unknown, MetaFrame>;

export class Dispatcher {
  constructor(
    readonly cluster: MetaCluster,
    /** Hash keys with the client's key prefix (else the bare key). */
    readonly hashKeyPrefix: boolean,
  ) {}

  /** The key a request is routed by. */
  route(wk: WireKey): string {
    return this.hashKeyPrefix ? wk.token : wk.original;
  }

  /** The backend for a key, or for the caller's routing key when given. */
  backendFor(wk: WireKey | undefined, routingKey: string | undefined): MetaBackend {
    return this.cluster.backendFor(routingKey ?? (wk === undefined ? undefined : this.route(wk)));
  }

  /**
   * Splits `wks` by the backend that owns each key, sends each part as one quiet batch fenced by
   * `mn`, in parallel, and hands every reply (`undefined`: no reply, the quiet default) to
   * `onReply`. Resolves with the errors of the parts that failed, by key; a sick backend fails only
   * its own keys and does not delay the others beyond the shared deadline.
   */
  async bulk(
    wks: WireKey[],
    so: SendOptions,
    routingKey: string | undefined,
    make: (wk: WireKey) => MetaRequest,
    onReply: (backend: MetaBackend, wk: WireKey, frame: MetaFrame | undefined) => void,
  ): Promise<Map<string, MemlineError>> {
    const errors = new Map<string, MemlineError>();
    if (wks.length === 0) return errors;
    const parts =
      routingKey !== undefined
        ? new Map([[this.cluster.backendFor(routingKey), wks.map((_, i) => i)]])
        : this.cluster.partition(wks.map((wk) => this.route(wk)));
    await Promise.all(
      [...parts].map(([backend, indexes]) =>
        backend.send(MetaRequest.batch(indexes.map((i) => make(wks[i]))), so).then(
          (replies) => {
            const frames = replies as (MetaFrame | undefined)[];
            indexes.forEach((i, j) => onReply(backend, wks[i], frames[j]));
          },
          (err: MemlineError) => {
            for (const i of indexes) errors.set(wks[i].original, err);
          },
        ),
      ),
    );
    return errors;
  }

  /**
   * Sends a request made by `make` to every server, keyed by address; ERR_PARTIAL_RESULT when some
   * fail (the error itself when the only server does).
   */
  async eachServer(so: SendOptions, make: () => MetaRequest): Promise<Map<string, unknown>> {
    const backends = this.cluster.backends;
    // One request object per server: replies are collected on the request (stats lines), so a
    // shared one would merge the servers' answers.
    const settled = await Promise.allSettled(backends.map((b) => b.send(make(), so)));
    const results = new Map<string, unknown>();
    const errors = new Map<string, MemlineError>();
    settled.forEach((s, i) => {
      const server = backends[i].server;
      if (s.status === 'fulfilled') results.set(server, s.value);
      else errors.set(server, s.reason as MemlineError);
    });
    if (errors.size === 0) return results;
    if (results.size === 0 && errors.size === 1) throw errors.values().next().value!;
    throw new PartialResultError(`${errors.size} of ${backends.length} servers failed`, results, errors);
  }
}

/**
 * Ends a bulk call: the result, or ERR_PARTIAL_RESULT when some keys failed (the error itself when
 * every key failed for one reason, e.g. the only server is down).
 */
export function finishBulk<R>(result: R, errors: Map<string, MemlineError>, total: number): R {
  if (errors.size === 0) return result;
  const distinct = new Set(errors.values());
  if (errors.size === total && distinct.size === 1) throw distinct.values().next().value!;
  throw new PartialResultError(`${errors.size} of ${total} keys failed`, result, errors);
}
