/** What the route nodes share: the call, the bulk plan, the node interface and small helpers. */

import type { SendOptions } from '../../../lib/request-entry.js';
import { MemlineError } from '../../../lib/errors.js';
import type { MetaBackend } from '../dispatch.js';
import { MetaFrame } from '../frame.js';
import { MetaRequest, type WireKey } from '../request.js';
import type { RoutedBackend } from './router.js';

/** One call on its way through the tree. */
export interface Call {
  /** The key as the caller gave it (prefix matching). */
  readonly key: string;
  /** The key the rings hash (with the client's prefix unless `hashKeyPrefix` is off). */
  readonly hash: string;
  readonly so: SendOptions;
  /** Where the answering server is written; `undefined` for background copies. */
  readonly target: RoutedBackend | undefined;
  /** The request compares a CAS: home server only. */
  readonly cas: boolean;
}

export interface BulkItem {
  readonly wk: WireKey;
  readonly key: string;
  readonly hash: string;
}

export interface BulkHow {
  make(wk: WireKey): MetaRequest;
  onReply(backend: MetaBackend, wk: WireKey, frame: MetaFrame | undefined): void;
}

export interface Node {
  readonly path: string;
  home(c: Call): MetaBackend;
  send(req: MetaRequest, c: Call): Promise<unknown>;
  bulk(items: readonly BulkItem[], so: SendOptions, how: BulkHow): Promise<Map<string, MemlineError>>;
}

export const FAILOVER_CODES = new Set(['ERR_CONNECTION', 'ERR_TIMEOUT', 'ERR_CIRCUIT_OPEN']);

/** Whether an error moves a failover to the next child: the server is down, slow or shed. */
export function failsOver(err: unknown): err is MemlineError {
  return err instanceof MemlineError && FAILOVER_CODES.has(err.code);
}

export const CAS_COMPARE = / C\d/;

/** A read's miss: no item (typed reads) or EN (a frame). */
export function isMiss(reply: unknown): boolean {
  return reply === null || (reply instanceof MetaFrame && reply.status === 'EN');
}

export function isRead(req: MetaRequest): boolean {
  return req.command === 'me' || (req.command === 'mg' && !/ [TN]\d/.test(req.flags));
}

/** A copy of `req` (a request is sent once), with other flags when given. */
export function copy(req: MetaRequest, flags = req.flags): MetaRequest {
  const r = MetaRequest.meta(req.command!, req.key, flags, req.value, req.idempotent);
  r.itemSink = req.itemSink;
  return r;
}

/** The SendOptions of one try: `budget` ms of the call's remaining time, the signal kept. */
export function slice(so: SendOptions, budget: number): SendOptions {
  const now = performance.now();
  if (now + budget >= so.deadline) return so;
  return { deadline: now + budget, timeout: Math.max(1, Math.round(budget)), signal: so.signal };
}

/** An FNV-1a hash of `s` in [0, 1), for choosing the keys a fraction applies to. */
export function unit(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32;
}
