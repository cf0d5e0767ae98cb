/**
 * What the kit's tests share: a {@link ClientCore} over the toy line protocol, talking to scripted
 * servers.
 */
import { ClientCore, resolveEngineOptions, type EngineOptions } from '../../../lib/index.js';
import { LineCodec, type LineRequest } from '../line-codec.js';

/** The kit's core as the toy client uses it: line requests, any reply, string frames. */
export type Core = ClientCore<LineRequest, unknown, string>;

/** A core over `servers` with the breaker off (every failure is the call's), plus `options`. */
export function lineCore(servers: string[], options: Partial<EngineOptions> = {}): Core {
  return new ClientCore(
    new LineCodec(),
    resolveEngineOptions({ servers, breaker: { threshold: 0 }, ...options }),
  );
}
