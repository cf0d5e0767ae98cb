/**
 * The memcached meta protocol as a {@link ProtocolCodec}: encoding, decoding and, above all,
 * correlation. A reply is accepted for the request at the head of the FIFO only if it is one that
 * request can receive (its status, its opaque, its key); anything else means the stream is out of
 * sync and the connection must go (DESIGN.md, "Fatal frames").
 */
import { FrameFailure, MORE } from '../../lib/codec.js';
import type { FrameDecoder, FrameVerdict, ProtocolCodec } from '../../lib/codec.js';
import {
  AuthError,
  ClientErrorReply,
  InvalidArgumentError,
  MemlineError,
  ProtocolError,
  ServerErrorReply,
} from '../../lib/errors.js';
import type { OutBuffer } from '../../lib/out-buffer.js';
import { COMMANDS } from './commands.js';
import { MetaDecoder, quote } from './decoder.js';
import type { DecoderLimits } from './decoder.js';
import { encodeRequest } from './encoder.js';
import { flagIndex, flagToken, itemFlags, nextSpace } from './frame.js';
import type { MetaFrame } from './frame.js';
import { keyMatches } from './keys.js';
import { MetaRequest, RequestKind } from './request.js';
import type { Item } from './results.js';

/** Options of {@link MetaCodec}. */
export interface MetaCodecOptions extends DecoderLimits {
  /** Credentials for memcached `-Y`, sent first on every connection. */
  auth?: { username: string; password: string };
}

/** A `stats` reply is bounded like everything else a server can make the client hold. */
const MAX_STATS = 100_000;
/** Entries in each `stats` record being filled (the record itself stays a plain null-prototype object). */
const statsCount = new WeakMap<object, number>();
/** The server's reasons for refusing a login (§11); any other text is not repeated in the error. */
const AUTH_REASONS = new Set([
  'CLIENT_ERROR authentication failure',
  'CLIENT_ERROR bad authentication token format',
  'CLIENT_ERROR unauthenticated',
]);

/** The memcached meta codec. */
export class MetaCodec implements ProtocolCodec<MetaRequest, unknown, MetaFrame> {
  readonly name = 'memcached-meta';
  readonly #limits: DecoderLimits;
  readonly #credentials: Buffer | undefined;
  /** The password in the forms a reply line could show it in; cut out of errors (see {@link scrub}). */
  readonly #secrets: string[] | undefined;

  constructor(options: MetaCodecOptions) {
    this.#limits = { maxValueSize: options.maxValueSize, maxLineLength: options.maxLineLength };
    const auth = options.auth;
    if (auth === undefined) return;
    // The server splits "<user> <pass>" at the space and reads to the end of the data (§11).
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

  encode(req: MetaRequest, out: OutBuffer): void {
    encodeRequest(req, out);
  }

  createDecoder(): FrameDecoder<MetaFrame> {
    const decoder = new MetaDecoder(this.#limits);
    return this.#secrets === undefined ? decoder : new CredentialGuard(decoder, this.#secrets);
  }

  onFrame(req: MetaRequest, frame: MetaFrame): FrameVerdict<unknown> {
    const verdict = this.#judge(req, frame);
    if (this.#secrets !== undefined && verdict instanceof FrameFailure) scrub(verdict.error, this.#secrets);
    return verdict;
  }

  #judge(req: MetaRequest, frame: MetaFrame): FrameVerdict<unknown> {
    const status = frame.status;
    // Anything but STORED fails a login and the connection with it (§11).
    if (req.kind === RequestKind.Auth) return status === 'STORED' ? true : authFailure(frame);
    if (status === 'SERVER_ERROR') {
      // The server could not do it but stays in sync: the connection is kept (§10).
      const error = new ServerErrorReply(frame.line, { mayHaveExecuted: true });
      if (req.kind !== RequestKind.Batch) return new FrameFailure(error, false);
      // Inside a quiet batch it carries no opaque, so it is kept until MN (§6).
      req.batchError ??= error;
      return MORE;
    }
    if (status === 'CLIENT_ERROR' || status === 'ERROR') {
      // The request was malformed; an `ms` may have a second reply coming (§6): drop the connection.
      return new FrameFailure(new ClientErrorReply(frame.line, { mayHaveExecuted: true }), true);
    }
    switch (req.kind) {
      case RequestKind.Meta:
        return checkMeta(req, frame, false) ?? (req.itemSink === undefined ? frame : toItem(req, frame));
      case RequestKind.Batch:
        return onBatchFrame(req, frame);
      case RequestKind.Version:
        if (status === 'VERSION' && frame.line.length > 8) return frame.line.slice(8);
        break;
      case RequestKind.Stats:
        return onStatsFrame(req, frame);
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
    if (req.items === undefined)
      return 32 + (req.key?.token.length ?? 0) + req.flags.length + (req.value?.length ?? 0);
    let n = 4;
    for (const item of req.items) n += this.byteLength(item) + 8;
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

  handshake(): MetaRequest[] {
    return this.#credentials === undefined ? [] : [MetaRequest.auth(this.#credentials)];
  }
}

/**
 * The decoder of a connection that logs in. A reply the decoder cannot parse is quoted in its error;
 * a server that echoes what it was sent (an HTTP or line-echo server, a hostile one) would put the
 * login's password there, and from there into logs. So an unparseable reply to the login is not
 * quoted at all, and the password is cut out of any later decoding error.
 */
class CredentialGuard implements FrameDecoder<MetaFrame> {
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
function scrub<E extends Error>(error: E, secrets: readonly string[]): E {
  for (const secret of secrets) {
    if (error.message.includes(secret)) error.message = error.message.split(secret).join('***');
    if (error.stack?.includes(secret)) error.stack = error.stack.split(secret).join('***');
  }
  return error;
}

/** A latin1 string as {@link quote} shows it, without the quotes and the cut. */
function quotedForm(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += c < 0x20 || c >= 0x7f ? `\\x${c.toString(16).padStart(2, '0')}` : text[i];
  }
  return out;
}

/**
 * Checks a meta reply against its request: a status the command can receive, the opaque it was
 * sent with (unless the batch already checked it), and the key when both carry one. Returns a fatal
 * failure, or `undefined` if it fits.
 */
function checkMeta(req: MetaRequest, frame: MetaFrame, opaqueChecked: boolean): FrameFailure | undefined {
  if (!COMMANDS[req.command ?? 'mn'].statuses.has(frame.status)) return outOfSync(req, frame);
  if (frame.status === 'ME') {
    // `ME <key> …` must name the key asked for: on 1.6.18 a binary key created by `mg … N` is
    // printed raw, and its bytes could forge reply lines (§4.5).
    const line = frame.line;
    const end = line.indexOf(' ', 3);
    if (line.slice(3, end === -1 ? line.length : end) !== req.key?.token) return outOfSync(req, frame, 'key');
    return undefined;
  }
  const flags = req.flags;
  if (flags.length === 0) return undefined;
  if (!opaqueChecked) {
    const sent = requestToken(flags, 'O');
    if (sent !== undefined && flagToken(frame, 'O') !== sent) return outOfSync(req, frame, 'opaque');
  }
  const key = req.key;
  if (key !== undefined && flags.includes(' k')) {
    const line = frame.line;
    const at = flagIndex(frame, 'k');
    if (at !== -1) {
      const end = nextSpace(line, at);
      // A base64 key comes back as `k<token> b` (§2.2).
      const base64 =
        line.startsWith(' b', end) && (end + 2 === line.length || line.charCodeAt(end + 2) === 0x20);
      if (!keyMatches(key, line.slice(at, end), base64)) return outOfSync(req, frame, 'key');
    }
  }
  return undefined;
}

/** A read's reply as an Item (VA) or `null` (EN), counted in the request's sink. */
function toItem(req: MetaRequest, frame: MetaFrame): Item | null | FrameFailure {
  const sink = req.itemSink!;
  if (frame.status === 'EN') {
    sink.misses++;
    return null;
  }
  if (frame.status !== 'VA' || frame.value === undefined) return outOfSync(req, frame);
  sink.hits++;
  const item: Item = { key: req.key!.original, value: frame.value, flags: 0, cas: 0n };
  itemFlags(frame, item);
  if (item.cas !== 0n) item.cas |= req.casTag;
  return item;
}

/** The token of flag `ch` in a rendered flag string (`" v O12 k"`), or `undefined`. */
function requestToken(flags: string, ch: string): string | undefined {
  const i = flags.indexOf(' ' + ch);
  if (i === -1) return undefined;
  const end = flags.indexOf(' ', i + 2);
  return flags.slice(i + 2, end === -1 ? flags.length : end);
}

/**
 * A batch reply: tagged `O<j>` with j past the last one seen (the server answers in order, §6) and a
 * status item j can receive. `MN` ends the batch; the items without a reply had none.
 */
function onBatchFrame(req: MetaRequest, frame: MetaFrame): FrameVerdict<unknown> {
  const items = req.items ?? [];
  const n = items.length;
  if (frame.status === 'MN') {
    const replies = req.replies ?? new Array<MetaFrame | undefined>(n).fill(undefined);
    req.replies = replies;
    const error = req.batchError;
    if (error !== undefined) {
      return new FrameFailure(
        error instanceof MemlineError ? error : new ServerErrorReply(error.message),
        false,
      );
    }
    return replies;
  }
  const token = flagToken(frame, 'O');
  const j = token === undefined ? -1 : index(token);
  if (j <= req.lastIndex || j >= n) return outOfSync(req, frame, 'opaque');
  const failure = checkMeta(items[j], frame, true);
  if (failure !== undefined) return failure;
  const replies = (req.replies ??= new Array<MetaFrame | undefined>(n).fill(undefined));
  replies[j] = frame;
  req.lastIndex = j;
  return MORE;
}

/** A canonical decimal index (as the encoder writes it), or -1. */
function index(token: string): number {
  if (token.length === 0 || token.length > 9 || (token.length > 1 && token.charCodeAt(0) === 0x30)) return -1;
  let j = 0;
  for (let i = 0; i < token.length; i++) {
    const d = token.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    j = j * 10 + d;
  }
  return j;
}

/** `STAT <name> <value>` lines until `END`, into a null-prototype record (no `__proto__` games, I7). */
function onStatsFrame(req: MetaRequest, frame: MetaFrame): FrameVerdict<unknown> {
  switch (frame.status) {
    case 'STAT':
    case 'PREFIX': {
      // `stats detail dump` answers `PREFIX <prefix> get … hit …` lines: kept under the prefix.
      const line = frame.line;
      const nameStart = frame.status.length + 1;
      const sp = line.indexOf(' ', nameStart);
      const name = line.slice(nameStart, sp === -1 ? line.length : sp);
      if (name.length === 0) break;
      const stats = (req.stats ??= Object.create(null) as Record<string, string>);
      if (!(name in stats)) {
        const count = statsCount.get(stats) ?? 0;
        if (count >= MAX_STATS) break;
        statsCount.set(stats, count + 1);
      }
      stats[name] = sp === -1 ? '' : line.slice(sp + 1);
      return MORE;
    }
    case 'END':
      return req.stats ?? (Object.create(null) as Record<string, string>);
    case 'RESET': // stats reset
    case 'OK': // stats detail on|off
      return Object.create(null) as Record<string, string>;
  }
  return outOfSync(req, frame);
}

/** `"mg"`, `"batch of 3 mg"`, `"batch of 3"` (mixed), `"version"`, `"stats"`…: never a key or value. */
function label(req: MetaRequest): string {
  switch (req.kind) {
    case RequestKind.Meta:
      return req.command ?? 'meta';
    case RequestKind.Batch: {
      const items = req.items ?? [];
      const first = items[0]?.command;
      const same = first !== undefined && items.every((item) => item.command === first);
      return same ? `batch of ${items.length} ${first}` : `batch of ${items.length}`;
    }
    case RequestKind.Version:
      return 'version';
    case RequestKind.Stats:
      return 'stats';
    case RequestKind.FlushAll:
      return 'flush_all';
    case RequestKind.Verbosity:
      return 'verbosity';
    case RequestKind.Auth:
      return 'auth';
  }
}

function outOfSync(req: MetaRequest, frame: MetaFrame, what?: 'opaque' | 'key'): FrameFailure {
  const why = what === undefined ? 'unexpected reply' : `reply with the wrong ${what}`;
  return new FrameFailure(
    new ProtocolError(`${why} to ${label(req)}: ${quote(frame.line)}`, { mayHaveExecuted: true }),
    true,
  );
}

/** The password never appears: the message is fixed, with the server's reason only if it is a known one. */
function authFailure(frame: MetaFrame): FrameFailure {
  const reason = AUTH_REASONS.has(frame.line) ? ` (${frame.line})` : ` (${frame.status})`;
  return new FrameFailure(new AuthError('authentication refused by the server' + reason), true);
}
