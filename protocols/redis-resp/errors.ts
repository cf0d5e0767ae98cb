/**
 * A Redis error reply (`-ERR …`, `-WRONGTYPE …`) as a memline error.
 *
 * A Redis error is the result of its command: the server read the command, refused it, and the
 * stream stays in step. So it fails that request alone and the connection is kept, exactly like
 * memcached's `SERVER_ERROR`; that is why it is an `ERR_SERVER_ERROR` (a {@link ServerErrorReply}),
 * not a code of its own. The Redis error kind is in {@link RedisServerError.prefix}: match on `code`,
 * then on `prefix`, never on the message.
 *
 * Two prefixes map to other codes: `NOAUTH` and `WRONGPASS` are `ERR_AUTH` (the credentials are
 * missing or wrong, which every later command will meet too).
 */
import {
  AuthError,
  ServerErrorReply,
  type MemlineError,
  type MemlineErrorOptions,
} from '../../lib/errors.js';
import type { RespError } from './values.js';

const kRedisBrand = Symbol.for('memline.redis-server-error');
/** Longer messages are cut: some echo the command's arguments, which may be large. */
const MAX_MESSAGE = 512;

/** A Redis error reply; `code` is `ERR_SERVER_ERROR`, the connection was kept. */
export class RedisServerError extends ServerErrorReply {
  /** The Redis error kind, the first word of the reply: `"ERR"`, `"WRONGTYPE"`, `"MOVED"`, `"BUSY"`… */
  readonly prefix: string;

  constructor(message: string, prefix: string, options?: MemlineErrorOptions) {
    super(message, options);
    this.prefix = prefix;
  }

  get [kRedisBrand](): true {
    return true;
  }

  /** Like every memline error, `instanceof` works across duplicate installs (a `Symbol.for` brand). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kRedisBrand] === true
    );
  }
}

/** The memline error for a Redis error reply. */
export function replyError(reply: RespError): MemlineError {
  const prefix = reply.prefix;
  const text = reply.message;
  const message = text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE) + '…' : text;
  if (prefix === 'NOAUTH' || prefix === 'WRONGPASS') return new AuthError(message, { mayHaveExecuted: true });
  return new RedisServerError(message, prefix, { mayHaveExecuted: true });
}
