/**
 * The memcached meta protocol as a {@link ProtocolCodec}: encoding, decoding and, above all,
 * correlation. A reply is accepted for the request at the head of the FIFO only if it is one that
 * request can receive (its status, its opaque, its key: correlation.ts); anything else means the
 * stream is out of sync and the connection must go (docs/architecture.md). The server's error lines
 * are sorted here: which fail only their request and which the connection.
 */
import { FrameFailure, MORE } from '../../lib/codec.js';
import type { FrameDecoder, FrameVerdict, ProtocolCodec, ReplyHead, ReplySlot } from '../../lib/codec.js';
import type { ErrorCode, MemlineError } from '../../lib/errors.js';
import {
  AuthError,
  ClientErrorReply,
  InvalidArgumentError,
  ProtocolError,
  ResponseTooLargeError,
  ServerErrorReply,
  ValueTooLargeError,
} from '../../lib/errors.js';
import { NotNumericError } from './errors.js';
import type { OutBuffer } from '../../lib/out-buffer.js';
import { meta } from './builders.js';
import {
  checkMeta,
  itemOf,
  label,
  notStored,
  onBatchFrame,
  onStatsFrame,
  outOfSync,
  toItem,
} from './correlation.js';
import { MetaDecoder } from './decoder.js';
import { quote } from './reply-line.js';
import type { DecoderLimits } from './decoder.js';
import { encodeRequest, opaqueCursor, type OpaqueCursor } from './encoder.js';
import { batchState, sentOpaque } from './reply-state.js';
import type { MetaFrame } from './frame.js';
import { CredentialGuard, quotedForm, scrub } from './credential-guard.js';
import { MetaRequest, RequestKind, type WireKey } from './request.js';

/** Options of {@link MetaCodec}. */
export interface MetaCodecOptions extends DecoderLimits {
  /** Credentials for memcached `-Y`, sent first on every connection. */
  auth?: { username: string; password: string };
  /**
   * The most requests in flight on one connection: each connection cycles through at least this
   * many opaques, so no two of its requests in flight share one. @default 16384
   */
  maxPending?: number;
}

/** The largest opaque cycle: past it, opaques repeat within a connection's requests in flight. */
const MAX_OPAQUES = 2 ** 20;

/** The server's reasons for refusing a login; any other text is not repeated in the error. */
const AUTH_REASONS = new Set([
  'CLIENT_ERROR authentication failure',
  'CLIENT_ERROR bad authentication token format',
  'CLIENT_ERROR unauthenticated',
]);

/** Whether a `CLIENT_ERROR` leaves the reply stream in step: see {@link CLIENT_ERRORS}. */
export type InStep = 'always' | 'not-ms' | 'never';

/**
 * Every `CLIENT_ERROR` memcached 1.6.18 answers a meta command with, by whether the stream stays in
 * step: each was sent to a real 1.6.18 followed by `mn` on the same connection, and is in step when
 * the one error line was followed by `MN` and nothing else. `not-ms`: in step after `mg`, `md`, `ma`,
 * `me`, but after an `ms` the data block may have been read as commands (the error came before the
 * length was parsed: `ms <251-byte key> 3`, `ms k x`). A text not listed (another version, a proxy)
 * counts as out of step. In step, only the request fails and the connection is kept; out of step,
 * the connection is destroyed (docs/architecture.md).
 */
export const CLIENT_ERRORS: ReadonlyMap<string, { readonly inStep: InStep; readonly code: ErrorCode }> =
  new Map(
    (
      [
        ['cannot increment or decrement non-numeric value', 'always', 'ERR_NOT_NUMERIC'],
        ['bad command line format', 'not-ms', 'ERR_CLIENT_ERROR'],
        ['invalid flag', 'always', 'ERR_CLIENT_ERROR'],
        ['duplicate flag', 'always', 'ERR_CLIENT_ERROR'],
        ['invalid or duplicate flag', 'always', 'ERR_CLIENT_ERROR'],
        ['bad token in command line format', 'always', 'ERR_CLIENT_ERROR'],
        ['opaque token too long', 'always', 'ERR_CLIENT_ERROR'],
        ['invalid mode for ms M token', 'always', 'ERR_CLIENT_ERROR'],
        ['invalid mode for ma M token', 'always', 'ERR_CLIENT_ERROR'],
        ['incorrect length for M token', 'always', 'ERR_CLIENT_ERROR'],
        ['error decoding key', 'always', 'ERR_CLIENT_ERROR'],
        ['options flags are too long', 'always', 'ERR_CLIENT_ERROR'],
        // `ms` only: its data block is read as commands.
        ['options flags too long', 'never', 'ERR_CLIENT_ERROR'],
        ['bad data chunk', 'never', 'ERR_CLIENT_ERROR'],
      ] as const
    ).map(([text, inStep, code]) => [text, Object.freeze({ inStep, code })]),
  );

/** The memcached meta codec. */
export class MetaCodec implements ProtocolCodec<MetaRequest, unknown, MetaFrame> {
  readonly name = 'memcached-meta';
  readonly system = 'memcached';
  readonly #limits: DecoderLimits;
  readonly #credentials: Buffer | undefined;
  /** The password in the forms a reply line could show it in; cut out of errors (see {@link scrub}). */
  readonly #secrets: string[] | undefined;
  /** The size of each connection's opaque cycle: a power of two of at least `maxPending`. */
  readonly #opaques: number;

  constructor(options: MetaCodecOptions) {
    this.#limits = { maxValueSize: options.maxValueSize, maxLineLength: options.maxLineLength };
    const pending = Math.min(Math.max(options.maxPending ?? 16384, 2), MAX_OPAQUES);
    this.#opaques = 2 ** Math.ceil(Math.log2(pending));
    const auth = options.auth;
    if (auth === undefined) return;
    // The server splits "<user> <pass>" at the space and reads to the end of the data.
    if (typeof auth.username !== 'string' || !/^[\x21-\x7e]+$/.test(auth.username)) {
      throw new InvalidArgumentError(
        'auth.username must be a non-empty string of printable ASCII without spaces',
      );
    }
    if (typeof auth.password !== 'string' || auth.password.length === 0) {
      throw new InvalidArgumentError('auth.password must be a non-empty string');
    }
    this.#credentials = Buffer.from(`${auth.username} ${auth.password}`);
    const latin1 = Buffer.from(auth.password, 'utf8').toString('latin1');
    this.#secrets = [...new Set([auth.password, latin1, quotedForm(latin1)])];
  }

  /** Each connection's place in its cycle of opaques is kept on its out buffer (one per connection). */
  encode(req: MetaRequest, out: OutBuffer, slot: ReplySlot): void {
    let cursor = out.codecState as OpaqueCursor | undefined;
    if (cursor === undefined) out.codecState = cursor = opaqueCursor(this.#opaques);
    slot.reply = encodeRequest(req, out, cursor);
  }

  createDecoder(head?: ReplyHead<MetaRequest, unknown>): FrameDecoder<MetaFrame> {
    // Socket chunks are never written again once read.
    const decoder = new MetaDecoder(this.#limits, {
      stableChunks: true,
      head,
      opaqueMask: this.#opaques - 1,
    });
    return this.#secrets === undefined ? decoder : new CredentialGuard(decoder, this.#secrets);
  }

  onFrame(req: MetaRequest, frame: MetaFrame, slot: ReplySlot): FrameVerdict<unknown> {
    // The busiest reply: a plain read's hit carrying the opaque it was sent with and nothing that
    // needs a closer look (no key echo, no empty value that may be a lease). Everything else, and
    // anything this test does not recognise, goes through the full check below.
    const sink = req.itemSink;
    if (frame.opaque === slot.reply && frame.keyAt === -1) {
      const status = frame.status;
      if (sink !== undefined && status === 'VA') {
        const value = frame.value;
        if (value !== undefined && value.length > 0) {
          sink.counts.hits++;
          return itemOf(req, frame, value, sink);
        }
      } else if (status === 'HD' && req.mustStore) {
        return undefined;
      }
    }
    const verdict = this.#judge(req, frame, slot);
    if (this.#secrets !== undefined && verdict instanceof FrameFailure) scrub(verdict.error, this.#secrets);
    return verdict;
  }

  #judge(req: MetaRequest, frame: MetaFrame, slot: ReplySlot): FrameVerdict<unknown> {
    const status = frame.status;
    // Anything but STORED fails a login and the connection with it.
    if (req.kind === RequestKind.Auth) return status === 'STORED' ? true : authFailure(frame);
    if (frame.skipped !== -1 && req.kind !== RequestKind.Batch) {
      // A value over maxValueSize answering one request: refused at its header, as any size claim
      // past the cap (docs/reliability.md). Only a batch reads past it, to name the key (see onBatchFrame).
      return new FrameFailure(
        new ResponseTooLargeError(
          `reply to ${label(req)} declares a value of ${frame.skipped} bytes, over maxValueSize ${this.#limits.maxValueSize}`,
          { mayHaveExecuted: true },
        ),
        true,
      );
    }
    if (status === 'SERVER_ERROR') {
      // The server could not do it but stays in sync: the connection is kept.
      const error = serverError(frame);
      if (req.kind !== RequestKind.Batch) return new FrameFailure(error, false);
      // Inside a quiet batch it carries no opaque, so it is kept until MN.
      const state = batchState(slot, req.itemCount);
      state.error ??= error;
      return MORE;
    }
    if (status === 'CLIENT_ERROR') return clientError(req, frame);
    if (status === 'ERROR') {
      // An unknown command: whatever was sent is not what the client meant to send.
      return new FrameFailure(new ClientErrorReply(frame.line, { mayHaveExecuted: true }), true);
    }
    switch (req.kind) {
      case RequestKind.Meta: {
        const failure = checkMeta(req, frame, sentOpaque(slot), false);
        if (failure !== undefined) return failure;
        if (req.itemSink !== undefined) return toItem(req, frame);
        if (!req.mustStore) return frame;
        return status === 'HD' ? undefined : new FrameFailure(notStored(status), false);
      }
      case RequestKind.Batch:
        return onBatchFrame(req, frame, slot, this.#opaques - 1);
      case RequestKind.Version:
        if (status === 'VERSION' && frame.line.length > 8) return frame.line.slice(8);
        break;
      case RequestKind.Stats:
        return onStatsFrame(req, frame, slot);
      case RequestKind.FlushAll:
      case RequestKind.Verbosity:
        if (status === 'OK') return true;
        break;
    }
    return outOfSync(req, frame);
  }

  noReply(_req: MetaRequest): unknown {
    return undefined;
  }

  unsolicited(frame: MetaFrame): MemlineError {
    const message = `unsolicited ${frame.status} reply with no request pending: ${quote(frame.line)}`;
    const error = new ProtocolError(message, { mayHaveExecuted: true });
    return this.#secrets === undefined ? error : scrub(error, this.#secrets);
  }

  /** Approximate wire size, for the queued-bytes bound: the values dominate. */
  byteLength(req: MetaRequest): number {
    if (req.kind !== RequestKind.Batch) return lineBytes(req.key, req.flags) + (req.value?.length ?? 0);
    let n = 4;
    const keys = req.readKeys;
    if (keys !== undefined) for (const key of keys) n += lineBytes(key, req.flags) + 8;
    else for (const item of req.items!) n += this.byteLength(item) + 8;
    return n;
  }

  isIdempotent(req: MetaRequest): boolean {
    return req.idempotent;
  }

  /** The key as it goes on the wire (prefix included); the client may route by another. */
  routingKey(req: MetaRequest): string | undefined {
    return req.kind === RequestKind.Meta ? req.key?.token : undefined;
  }

  describe(req: MetaRequest): string {
    return label(req);
  }

  /** The keys as sent (prefix included): a batch's items' keys, or the request's own. */
  keys(req: MetaRequest): readonly string[] {
    const items = req.kind === RequestKind.Batch ? (req.items ?? []) : [req];
    const keys: string[] = [];
    for (const item of items) if (item.key !== undefined) keys.push(item.key.token);
    return keys;
  }

  handshake(): MetaRequest[] {
    return this.#credentials === undefined ? [] : [MetaRequest.auth(this.#credentials)];
  }

  /** `mn`: memcached answers it in order with `MN` and does nothing else (docs/meta-protocol.md). */
  nudge(): MetaRequest {
    return meta.noop();
  }
}

/** A `CLIENT_ERROR`: fails its own request only when {@link CLIENT_ERRORS} says the stream is in step. */
function clientError(req: MetaRequest, frame: MetaFrame): FrameFailure {
  const known = CLIENT_ERRORS.get(frame.line.slice(13));
  let inStep = false;
  // In a quiet batch the line carries no opaque and cannot be pinned to an item.
  if (known !== undefined && req.kind === RequestKind.Meta) {
    inStep = known.inStep === 'always' || (known.inStep === 'not-ms' && req.command !== 'ms');
  }
  const options = { mayHaveExecuted: true };
  const error =
    inStep && known?.code === 'ERR_NOT_NUMERIC'
      ? new NotNumericError(frame.line, options)
      : new ClientErrorReply(frame.line, options);
  return new FrameFailure(error, !inStep);
}

/**
 * A `SERVER_ERROR`. `object too large for cache` is a value over the server's item size (`-I`,
 * which counts the item's header and key too): ERR_VALUE_TOO_LARGE, as if the client had refused it.
 */
function serverError(frame: MetaFrame): MemlineError {
  const options = { mayHaveExecuted: true };
  if (frame.line === 'SERVER_ERROR object too large for cache') {
    return new ValueTooLargeError(
      `${frame.line}: the value is over the server's item size (-I, which counts the item's header and key); the key's old item was deleted`,
      options,
    );
  }
  return new ServerErrorReply(frame.line, options);
}

/** The password never appears: the message is fixed, with the server's reason only if it is a known one. */
function authFailure(frame: MetaFrame): FrameFailure {
  const reason = AUTH_REASONS.has(frame.line) ? ` (${frame.line})` : ` (${frame.status})`;
  return new FrameFailure(new AuthError('authentication refused by the server' + reason), true);
}

/** The estimated bytes of a request line for `key` with `flags` (command, opaque and CRLF: 32). */
function lineBytes(key: WireKey | undefined, flags: string): number {
  return 32 + (key?.token.length ?? 0) + flags.length;
}
