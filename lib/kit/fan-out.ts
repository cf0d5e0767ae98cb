/**
 * Calls over many items (keys, commands) split by the server that owns each one, and calls sent to
 * every server, with partial results: a failing server fails only its own items, and the caller gets
 * what the others answered in an ERR_PARTIAL_RESULT.
 *
 *   items    k0 k1 k2 k3 k4          splitByServer       fanOut: one request per part,
 *   owner    A  B  A  C  B      →    A: [0, 2]       →   in parallel; each reply goes to
 *                                    B: [1, 4]           onReply, each failure to every
 *                                    C: [3]              item of its part (by name)
 */
import type { Backend } from '../backend.js';
import type { Cluster } from '../cluster.js';
import { PartialResultError, type MemlineError } from '../errors.js';
import type { SendOptions } from '../request-entry.js';

/** For each backend, the indexes (into the caller's items) it owns, in their original order. */
export type Parts<Req, Res, Frame> = Map<Backend<Req, Res, Frame>, number[]>;

/**
 * Splits items by the backend that owns each one's routing key (`undefined`: the first server), or
 * gives them all to `target` when the call chose a server.
 */
export function splitByServer<Req, Res, Frame>(
  cluster: Cluster<Req, Res, Frame>,
  keys: readonly (string | undefined)[],
  target?: Backend<Req, Res, Frame>,
): Parts<Req, Res, Frame> {
  if (target === undefined) return cluster.partition(keys);
  const parts: Parts<Req, Res, Frame> = new Map();
  return keys.length === 0
    ? parts
    : parts.set(
        target,
        keys.map((_, i) => i),
      );
}

/** How {@link fanOut} builds and reads each server's share of a call. */
export interface FanOut<Req, Res, Frame> {
  /** The one request that carries the items at `indexes` to their server. */
  request(indexes: readonly number[], backend: Backend<Req, Res, Frame>): Req;
  /** Takes a server's reply to its request. */
  onReply(reply: Res, indexes: readonly number[], backend: Backend<Req, Res, Frame>): void;
  /** The name of item `i` in the call's errors (a key, or a command's index as a string). */
  name(i: number): string;
  /** Sees each request as it is sent, with the promise of its reply (e.g. to follow its outcome). */
  sent?: ((backend: Backend<Req, Res, Frame>, req: Req, reply: Promise<Res>) => void) | undefined;
}

/**
 * Sends one request per part, in parallel, and hands every reply to `how.onReply`. Resolves (never
 * rejects) with the errors of the parts that failed, by item name: a sick server fails only its own
 * items and does not delay the others beyond the shared deadline. Requests are all made before the
 * first is sent, so a request `how.request` refuses fails the call with nothing sent.
 */
export async function fanOut<Req, Res, Frame>(
  parts: Parts<Req, Res, Frame>,
  so: SendOptions,
  how: FanOut<Req, Res, Frame>,
): Promise<Map<string, MemlineError>> {
  const errors = new Map<string, MemlineError>();
  const requests = [...parts].map(
    ([backend, indexes]) => [backend, indexes, how.request(indexes, backend)] as const,
  );
  await Promise.all(
    requests.map(([backend, indexes, req]) => {
      const reply = backend.send(req, so);
      how.sent?.(backend, req, reply);
      return reply.then(
        (reply) => how.onReply(reply, indexes, backend),
        (err: MemlineError) => {
          for (const i of indexes) errors.set(how.name(i), err);
        },
      );
    }),
  );
  return errors;
}

/**
 * Ends a call over many items: `result`, or ERR_PARTIAL_RESULT (with `result` as its `results` and
 * `errors` as its `errors`) when some failed; the error itself when all `total` items failed for one
 * reason, e.g. the only server is down.
 *
 * @param what the items in the message ("3 of 10 keys failed") @default 'keys'
 */
export function finishPartial<R>(
  result: R,
  errors: Map<string, MemlineError>,
  total: number,
  what = 'keys',
): R {
  if (errors.size === 0) return result;
  const distinct = new Set(errors.values());
  if (errors.size === total && distinct.size === 1) throw distinct.values().next().value!;
  throw new PartialResultError(`${errors.size} of ${total} ${what} failed`, result, errors);
}

/**
 * Sends a request made by `make` to each backend, in parallel, and resolves with the replies keyed
 * by `"host:port"`. One request per server (replies may be collected on the request, so a shared one
 * would merge the servers' answers), all made before the first is sent. ERR_PARTIAL_RESULT when
 * some fail, with the replies in `results` and each failed server's error in `errors`; the error
 * itself when the only server fails.
 */
export async function eachServer<Req, Res, Frame>(
  backends: readonly Backend<Req, Res, Frame>[],
  so: SendOptions,
  make: () => Req,
): Promise<Map<string, Res>> {
  const requests = backends.map(() => make());
  const settled = await Promise.allSettled(backends.map((b, i) => b.send(requests[i], so)));
  const results = new Map<string, Res>();
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
