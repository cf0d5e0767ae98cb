/**
 * Request bytes. Everything in a {@link MetaRequest} was validated when it was built (keys by
 * `keys.ts`, flags by `flags.ts`), so encoding never fails and never inspects a value.
 */
import type { OutBuffer } from '../../lib/out-buffer.js';
import { RequestKind } from './request.js';
import type { MetaRequest } from './request.js';

/** Appends the exact bytes of `req` to `out`. */
export function encodeRequest(req: MetaRequest, out: OutBuffer): void {
  switch (req.kind) {
    case RequestKind.Meta:
      encodeMeta(req, '', out);
      return;
    case RequestKind.Batch:
      encodeBatch(req, out);
      return;
    case RequestKind.Version:
      out.latin1('version\r\n');
      return;
    case RequestKind.Stats:
      out.latin1('stats' + req.flags + '\r\n');
      return;
    case RequestKind.FlushAll:
      out.latin1('flush_all' + req.flags + '\r\n');
      return;
    case RequestKind.Verbosity:
      out.latin1('verbosity' + req.flags + '\r\n');
      return;
    case RequestKind.Auth:
      encodeAuth(req, out);
      return;
  }
}

/**
 * `<cmd> <key> [<datalen>] [b]<flags><extra>\r\n[<data>\r\n]`. The `b` comes right after the key
 * (or datalen): `me` reads it only there (meta-protocol.md §3, §4.5).
 */
function encodeMeta(req: MetaRequest, extra: string, out: OutBuffer): void {
  const command = req.command ?? 'mn';
  const key = req.key;
  const value = req.value;
  const isSet = command === 'ms' && value !== undefined;
  let tail = isSet ? ' ' + value.length : '';
  if (key?.base64 === true) tail += ' b';
  tail += req.flags + extra + '\r\n';
  if (key === undefined) {
    out.latin1(command + tail);
  } else if (key.ascii) {
    out.latin1(command + ' ' + key.token + tail);
  } else {
    out.latin1(command + ' ');
    out.utf8(key.token);
    out.latin1(tail);
  }
  if (isSet) {
    // The length came from the Buffer itself, never from a string (reliability.md I4).
    out.bytes(value);
    out.latin1('\r\n');
  }
}

/**
 * Every item quiet and tagged with its index as opaque, then `mn`: only the replies that are not
 * suppressed come back, each naming its item, and `MN` proves the rest had none (§6).
 */
function encodeBatch(req: MetaRequest, out: OutBuffer): void {
  // A batch resent on a fresh connection (after its first one failed) starts its replies over.
  req.lastIndex = -1;
  req.replies = undefined;
  req.batchError = undefined;
  const items = req.items ?? [];
  for (let i = 0; i < items.length; i++) encodeMeta(items[i], ' q O' + i, out);
  out.latin1('mn\r\n');
}

/** memcached `-Y` login: a `set` whose data is `<user> <pass>` (§11). */
function encodeAuth(req: MetaRequest, out: OutBuffer): void {
  const credentials = req.value ?? Buffer.alloc(0);
  out.latin1('set _ 0 0 ' + credentials.length + '\r\n');
  out.bytes(credentials);
  out.latin1('\r\n');
}
