/**
 * A toy line protocol, so the engine is tested with nothing memcached-specific:
 *
 *   request  `GET <id>\r\n`          → one reply line
 *            `MULTI <id> <n>\r\n`    → n reply lines
 *            `QUIET <id>\r\n`        → a reply only when the server has something to say; the
 *                                      next reply that is not its own means "no reply" (SKIP)
 *   replies  `OK <id> <text>`        → resolves the request with <text>
 *            `SOFT <text>`           → a non-fatal error for the head request
 *            `FATAL <text>`          → a fatal error: the connection is destroyed
 *   handshake (optional) `HELLO\r\n` answered by `OK hello welcome`, or `FATAL …`
 */
import {
  ClientErrorReply,
  FrameFailure,
  MORE,
  ProtocolError,
  ServerErrorReply,
  SKIP,
  type FrameDecoder,
  type FrameVerdict,
  type MemlineError,
  type OutBuffer,
  type ProtocolCodec,
} from '../../lib/index.js';

export interface LineRequest {
  kind: 'GET' | 'MULTI' | 'QUIET' | 'HELLO';
  id: string;
  /** Lines expected (MULTI). */
  count?: number;
  /** Lines received so far (MULTI). */
  got?: string[];
  idempotent?: boolean;
}

export function get(id: string): LineRequest {
  return { kind: 'GET', id };
}

class LineDecoder implements FrameDecoder<string> {
  #rest = '';
  constructor(readonly maxLine: number) {}
  get buffered(): number {
    return this.#rest.length;
  }
  feed(chunk: Buffer, onFrame: (frame: string) => void): void {
    let text = this.#rest + chunk.toString('latin1');
    let nl: number;
    while ((nl = text.indexOf('\r\n')) !== -1) {
      onFrame(text.slice(0, nl));
      text = text.slice(nl + 2);
    }
    if (text.length > this.maxLine) throw new ProtocolError(`line over ${this.maxLine} bytes`);
    this.#rest = text;
  }
}

export class LineCodec implements ProtocolCodec<LineRequest, unknown, string> {
  readonly name = 'line';
  constructor(readonly options: { handshake?: boolean; maxLine?: number } = {}) {}

  encode(req: LineRequest, out: OutBuffer): void {
    if (req.kind === 'HELLO') out.latin1('HELLO\r\n');
    else if (req.kind === 'MULTI') out.latin1(`MULTI ${req.id} ${req.count}\r\n`);
    else out.latin1(`${req.kind} ${req.id}\r\n`);
  }

  createDecoder(): FrameDecoder<string> {
    return new LineDecoder(this.options.maxLine ?? 4096);
  }

  onFrame(req: LineRequest, frame: string): FrameVerdict<unknown> {
    if (frame.startsWith('FATAL '))
      return new FrameFailure(new ClientErrorReply(frame, { mayHaveExecuted: true }), true);
    if (frame.startsWith('SOFT ')) return new FrameFailure(new ServerErrorReply(frame), false);
    const m = /^OK (\S+) (.*)$/.exec(frame);
    if (m === null) return new FrameFailure(new ProtocolError(`garbage: ${frame.slice(0, 40)}`), true);
    const [, id, text] = m;
    const want = req.kind === 'HELLO' ? 'hello' : req.id;
    if (id !== want) {
      if (req.kind === 'QUIET') return SKIP;
      return new FrameFailure(new ProtocolError(`reply for ${id} while ${want} is at the head`), true);
    }
    if (req.kind === 'MULTI') {
      (req.got ??= []).push(text);
      return req.got.length < req.count! ? MORE : req.got;
    }
    return text;
  }

  noReply(): unknown {
    return null;
  }

  unsolicited(frame: string): MemlineError {
    return new ProtocolError(`unsolicited: ${frame.slice(0, 40)}`);
  }

  isIdempotent(req: LineRequest): boolean {
    return req.idempotent ?? true;
  }

  routingKey(req: LineRequest): string | undefined {
    return req.id;
  }

  describe(req: LineRequest): string {
    return req.kind;
  }

  handshake(): LineRequest[] {
    return this.options.handshake === true ? [{ kind: 'HELLO', id: 'hello' }] : [];
  }
}
