/**
 * `meta()`: any meta request, checked against the command table, with the client's opaque, keys
 * and CAS tokens handled as in the typed methods.
 */
import { InvalidArgumentError } from '../../lib/errors.js';
import { CasConflictError } from './errors.js';
import type { RoutedCallOptions } from '../../lib/kit/index.js';
import type { MetaRequestSpec } from './call-options.js';
import { RAW_CAS_MASK } from './cas-token.js';
import type { Dispatch } from './dispatch.js';
import { renderFlags } from './flags.js';
import { meOnBinaryKey } from './reads.js';
import { MetaRequest } from './request.js';
import { toMetaResult, valueBytes, type Key, type MetaResult } from './results.js';
import * as validate from './validate.js';

export function meta(
  d: Dispatch,
  request: MetaRequestSpec,
  options: RoutedCallOptions | undefined,
): Promise<MetaResult> {
  return d.core.run(options, (so) => {
    if (typeof request !== 'object' || request === null)
      throw new InvalidArgumentError('request must be an object');
    const { command, key, value } = request;
    let flags = request.flags ?? {};
    // The client adds an opaque of its own unless the caller gave one (`mn`, `me` take none).
    const given = typeof flags === 'object' && flags !== null && flags.O !== undefined && flags.O !== false;
    const wk = command === 'mn' ? undefined : d.key(key as Key);
    const token: unknown = (flags as { C?: unknown } | null)?.C;
    if (typeof token === 'bigint' && token > RAW_CAS_MASK && wk !== undefined) {
      // A token from an Item: send the server's value, and only to the server it came from.
      const server = d.backendFor(wk, options).server;
      const raw = d.casTags.untag(validate.casToken(token, 'C'), server);
      if (raw === undefined) {
        throw new CasConflictError(
          `the CAS token was read from another server than ${server}, where the key maps now; nothing was sent`,
          { server },
        );
      }
      flags = { ...flags, C: raw };
    }
    const rendered = renderFlags(command, flags, command === 'mn' || command === 'me' || given ? 0 : 1);
    if (command === 'me' && wk?.base64 === true) throw meOnBinaryKey();
    let bytes: Buffer | undefined;
    if (command === 'ms') bytes = valueBytes(value, d.options.maxStoreSize);
    else if (value !== undefined) throw new InvalidArgumentError(`value is only for ms, not ${command}`);
    const idempotent = command === 'mg' || command === 'mn' || command === 'me' || command === 'md';
    return d.send(MetaRequest.meta(command, wk, rendered, bytes, idempotent), so, options).then(toMetaResult);
  });
}
