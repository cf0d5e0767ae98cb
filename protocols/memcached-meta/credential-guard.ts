/**
 * Keeping a login's password out of errors: a server that echoes what it was sent would otherwise
 * put it into an error message, and from there into logs.
 */
import type { FrameDecoder } from '../../lib/codec.js';
import { ProtocolError } from '../../lib/errors.js';
import type { MetaDecoder } from './decoder.js';
import type { MetaFrame } from './frame.js';

/**
 * The decoder of a connection that logs in. A reply the decoder cannot parse is quoted in its error;
 * a server that echoes what it was sent (an HTTP or line-echo server, a hostile one) would put the
 * login's password there, and from there into logs. So an unparseable reply to the login is not
 * quoted at all, and the password is cut out of any later decoding error.
 */
export class CredentialGuard implements FrameDecoder<MetaFrame> {
  readonly #inner: MetaDecoder;
  readonly #secrets: string[];
  /** The first frame (the login's reply) has been decoded. */
  #answered = false;

  constructor(inner: MetaDecoder, secrets: string[]) {
    this.#inner = inner;
    this.#secrets = secrets;
  }

  get buffered(): number {
    return this.#inner.buffered;
  }

  feed(chunk: Buffer, onFrame: (frame: MetaFrame) => void): void {
    try {
      if (this.#answered) {
        this.#inner.feed(chunk, onFrame);
      } else {
        this.#inner.feed(chunk, (frame) => {
          this.#answered = true;
          onFrame(frame);
        });
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      if (this.#answered) throw scrub(err, this.#secrets);
      throw new ProtocolError(
        'the reply to the login could not be parsed (not shown: it may echo the password)',
      );
    }
  }
}

/** Cuts every occurrence of a secret out of an error's message and stack; returns the error. */
export function scrub<E extends Error>(error: E, secrets: readonly string[]): E {
  for (const secret of secrets) {
    if (error.message.includes(secret)) error.message = error.message.split(secret).join('***');
    if (error.stack?.includes(secret)) error.stack = error.stack.split(secret).join('***');
  }
  return error;
}

/** A latin1 string as {@link quote} shows it, without the quotes and the cut. */
export function quotedForm(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += c < 0x20 || c >= 0x7f ? `\\x${c.toString(16).padStart(2, '0')}` : text[i];
  }
  return out;
}
