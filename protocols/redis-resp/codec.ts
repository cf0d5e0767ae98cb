/**
 * RESP2/RESP3 as a {@link ProtocolCodec}. Pure: bytes out, values in, no sockets or timers.
 *
 * Correlation is the simplest there is: Redis answers every command with exactly one reply, in
 * order. So the reply at the head of the stream belongs to the request at the head of the FIFO; a
 * pipeline or transaction takes one reply per command and answers {@link MORE} until it has them
 * all. Nothing is ever {@link SKIP}ped: Redis has no quiet mode (commands that would make it skip
 * replies, `CLIENT REPLY OFF`, are refused before they are sent).
 *
 * What is fatal: bytes that are not RESP (the decoder throws), a reply when nothing is pending, and a
 * reply of a kind its command cannot answer with (an integer for a GET, an array of 2 for an MGET of
 * 3): each means the stream is out of step, and the connection goes. An error reply (`-ERR`,
 * `-WRONGTYPE`) is not fatal: it is the command's result, and the stream is in step.
 */
import { FrameFailure, MORE } from '../../lib/codec.js';
import type {
  ConnectionInfo,
  FrameDecoder,
  FrameVerdict,
  ProtocolCodec,
  ReplySlot,
} from '../../lib/codec.js';
import {
  AuthError,
  InvalidArgumentError,
  ProtocolError,
  ServerErrorReply,
  type MemlineError,
} from '../../lib/errors.js';
import type { OutBuffer } from '../../lib/out-buffer.js';
import type { CommandSpec } from './commands.js';
import { RespDecoder, type RespLimits } from './decoder.js';
import { commandLength, encodeCommand } from './encoder.js';
import { replyError } from './errors.js';
import { RedisRequest } from './request.js';
import { kindOf, RespError, type RespValue } from './values.js';

/** Options of {@link RespCodec}. */
export interface RespCodecOptions extends RespLimits {
  /** 2: RESP2, no handshake needed; 3: `HELLO 3` on every connection (Redis ≥ 6). */
  protocol: 2 | 3;
  /** Credentials sent on every new connection (in `HELLO`, or `AUTH`). The username defaults to `default`. */
  auth?: { username?: string; password: string };
  /** The database `SELECT`ed on every new connection; 0 sends nothing. */
  database?: number;
}

/** The RESP codec. `Res` is `unknown`: a {@link RespValue}, or an array of them for a pipeline. */
export class RespCodec implements ProtocolCodec<RedisRequest, unknown, RespValue> {
  readonly name = 'redis-resp';
  readonly system = 'redis';
  readonly #options: RespCodecOptions;

  constructor(options: RespCodecOptions) {
    if (options.protocol !== 2 && options.protocol !== 3)
      throw new InvalidArgumentError('protocol must be 2 or 3');
    const auth = options.auth;
    if (auth !== undefined) {
      if (typeof auth !== 'object' || auth === null || typeof auth.password !== 'string') {
        throw new InvalidArgumentError('auth must be { username?, password } with string values');
      }
      if (auth.username !== undefined && typeof auth.username !== 'string') {
        throw new InvalidArgumentError('auth.username must be a string');
      }
    }
    const db = options.database ?? 0;
    if (!Number.isInteger(db) || db < 0 || db > 2 ** 31 - 1) {
      throw new InvalidArgumentError('database must be an integer ≥ 0');
    }
    this.#options = { ...options };
  }

  /**
   * A pipeline's or transaction's replies so far are kept in `slot`, not on the request: one sent
   * again on a new connection (the engine moves idempotent ones after a failure) starts over.
   */
  encode(req: RedisRequest, out: OutBuffer, slot: ReplySlot): void {
    slot.reply = req.kind === 'pipeline' || req.kind === 'transaction' ? [] : undefined;
    for (const args of req.commands) encodeCommand(args, out);
  }

  createDecoder(): FrameDecoder<RespValue> {
    return new RespDecoder(this.#options);
  }

  onFrame(req: RedisRequest, frame: RespValue, slot: ReplySlot): FrameVerdict<unknown> {
    switch (req.kind) {
      case 'command':
        if (frame instanceof RespError) return new FrameFailure(replyError(frame), false);
        return check(req.specs[0], req.commands[0], frame) ?? frame;
      case 'pipeline':
        return onPipelineFrame(req, frame, repliesOf(slot));
      case 'transaction':
        return onTransactionFrame(req, frame, repliesOf(slot));
      case 'hello':
        if (frame instanceof Map) return frame;
        return handshakeFailure('hello', frame);
      case 'auth':
      case 'select':
        if (frame === 'OK') return true;
        return handshakeFailure(req.kind, frame);
    }
  }

  noReply(_req: RedisRequest): unknown {
    return undefined; // never asked: onFrame never answers SKIP
  }

  unsolicited(frame: RespValue): MemlineError {
    return new ProtocolError(`a ${kindOf(frame)} reply arrived with no command pending`, {
      mayHaveExecuted: true,
    });
  }

  isIdempotent(req: RedisRequest): boolean {
    return req.idempotent;
  }

  routingKey(req: RedisRequest): string | undefined {
    return req.key;
  }

  byteLength(req: RedisRequest): number {
    let n = 0;
    for (const args of req.commands) n += commandLength(args);
    return n;
  }

  /** `"get"`, `"pipeline of 3"`, `"transaction of 2"`, `"hello"`: never a key, a value or a password. */
  describe(req: RedisRequest): string {
    switch (req.kind) {
      case 'command':
        return label(req.commands[0]);
      case 'pipeline':
        return `pipeline of ${req.commands.length}`;
      case 'transaction':
        return `transaction of ${req.commands.length - 2}`;
      default:
        return req.kind;
    }
  }

  handshake(_info: ConnectionInfo): RedisRequest[] {
    const { protocol, auth, database } = this.#options;
    const steps: RedisRequest[] = [];
    if (protocol === 3) steps.push(RedisRequest.hello(auth));
    else if (auth !== undefined) steps.push(RedisRequest.auth(auth));
    if (database !== undefined && database !== 0) steps.push(RedisRequest.select(database));
    return steps;
  }
}

/** One reply per command; errors are kept as data, the pipeline settles with every reply. */
/** The replies so far of the pipeline or transaction sent through `slot`. */
function repliesOf(slot: ReplySlot): RespValue[] {
  if (!Array.isArray(slot.reply)) slot.reply = [];
  return slot.reply as RespValue[];
}

function onPipelineFrame(req: RedisRequest, frame: RespValue, replies: RespValue[]): FrameVerdict<unknown> {
  const i = replies.length;
  if (!(frame instanceof RespError)) {
    const failure = check(req.specs[i], req.commands[i], frame);
    if (failure !== undefined) return failure;
  }
  replies.push(frame);
  return replies.length < req.commands.length ? MORE : replies;
}

/**
 * `+OK` for MULTI, `+QUEUED` (or a queueing error) per command, then EXEC's array, or `-EXECABORT`
 * when a command could not be queued (then nothing ran).
 */
function onTransactionFrame(
  req: RedisRequest,
  frame: RespValue,
  replies: RespValue[],
): FrameVerdict<unknown> {
  const i = replies.length;
  const last = req.commands.length - 1;
  if (i === 0) {
    if (frame !== 'OK') return outOfStep(req, frame);
  } else if (i < last) {
    if (frame !== 'QUEUED' && !(frame instanceof RespError)) return outOfStep(req, frame);
  } else {
    if (Array.isArray(frame) && frame.length === last - 1) return frame;
    if (frame instanceof RespError) {
      // EXECABORT says only that something failed to queue: the first queueing error says what.
      const cause = replies.find((r): r is RespError => r instanceof RespError);
      return new FrameFailure(replyError(cause ?? frame), false);
    }
    if (frame === null) {
      return new FrameFailure(new ServerErrorReply('the transaction was aborted; nothing ran'), false);
    }
    return outOfStep(req, frame);
  }
  replies.push(frame);
  return MORE;
}

/** A reply `spec` cannot answer with is fatal; `undefined` when it fits. */
function check(spec: CommandSpec, args: readonly unknown[], frame: RespValue): FrameFailure | undefined {
  const replies = spec.replies;
  if (replies !== undefined && !replies.includes(kindOf(frame))) {
    return outOfStepCommand(label(args), `a ${kindOf(frame)} reply`);
  }
  const from = spec.onePerArgFrom;
  if (from !== undefined && Array.isArray(frame) && frame.length !== args.length - from) {
    return outOfStepCommand(label(args), `${frame.length} elements for ${args.length - from} arguments`);
  }
  return undefined;
}

function outOfStep(req: RedisRequest, frame: RespValue): FrameFailure {
  return outOfStepCommand(req.kind, `a ${kindOf(frame)} reply`);
}

function outOfStepCommand(what: string, got: string): FrameFailure {
  return new FrameFailure(
    new ProtocolError(`unexpected reply to ${what}: ${got}; the stream is out of step`, {
      mayHaveExecuted: true,
    }),
    true,
  );
}

/**
 * A handshake step failed. The message names the step and the Redis error kind only: a reply to a
 * login is never quoted (a server that echoes would put the password in it).
 */
function handshakeFailure(step: string, frame: RespValue): FrameFailure {
  if (frame instanceof RespError) {
    const prefix = /^[A-Z]{1,20}$/.test(frame.prefix) ? frame.prefix : 'error';
    if (prefix === 'WRONGPASS' || prefix === 'NOAUTH' || prefix === 'NOPERM' || step === 'auth') {
      return new FrameFailure(new AuthError(`authentication refused by the server (${prefix})`), true);
    }
    if (step === 'hello') {
      return new FrameFailure(
        new ServerErrorReply(`HELLO 3 refused (${prefix}): RESP3 needs Redis 6 or later; use protocol: 2`),
        true,
      );
    }
    return new FrameFailure(new ServerErrorReply(`${step} refused by the server (${prefix})`), true);
  }
  return new FrameFailure(new ProtocolError(`unexpected reply to ${step}: a ${kindOf(frame)} reply`), true);
}

/** The command's name in lower case, for messages: never an argument. */
function label(args: readonly unknown[]): string {
  const name = args[0];
  const text = typeof name === 'string' ? name : Buffer.isBuffer(name) ? name.toString('latin1') : '';
  return /^[A-Za-z][A-Za-z0-9_.|-]{0,31}$/.test(text) ? text.toLowerCase() : 'command';
}
