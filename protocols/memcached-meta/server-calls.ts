/**
 * Calls to every server (or to the one a call's `server` option names): `version`, `features`,
 * `stats`, `flush_all`. Replies are keyed by the server's address as configured.
 */
import type { RoutedCallOptions } from '../../lib/kit/index.js';
import type { Dispatch } from './dispatch.js';
import { featuresOf, type ServerFeatures } from './features.js';
import { MetaRequest } from './request.js';
import * as validate from './validate.js';

/** Each server's version; what it says is remembered as the server's features. */
export async function version(
  d: Dispatch,
  options: RoutedCallOptions | undefined,
): Promise<Map<string, string>> {
  const versions = (await d.core.eachServer(options, () => MetaRequest.version())) as Map<string, string>;
  for (const [server, v] of versions) d.features.record(server, v);
  return versions;
}

/** What each server can do beyond memcached 1.6.18, from its `version`, asked now. */
export async function features(
  d: Dispatch,
  options: RoutedCallOptions | undefined,
): Promise<Map<string, ServerFeatures>> {
  const versions = await version(d, options);
  return new Map([...versions].map(([server, v]) => [server, featuresOf(v)]));
}

/** Each server's `stats [group]`. */
export function stats(
  d: Dispatch,
  group: string | undefined,
  options: RoutedCallOptions | undefined,
): Promise<Map<string, Record<string, string>>> {
  return d.core.eachServer(options, () =>
    MetaRequest.stats(group === undefined ? undefined : validate.statsGroup(group)),
  ) as Promise<Map<string, Record<string, string>>>;
}

/** Invalidates every item, now or after `delay` seconds. */
export async function flushAll(
  d: Dispatch,
  delay: number | undefined,
  options: RoutedCallOptions | undefined,
): Promise<void> {
  d.hot.clear();
  await d.core.eachServer(options, () =>
    MetaRequest.flushAll(
      delay === undefined ? undefined : validate.nonNegativeInt(delay, 'delay', 2 ** 31 - 1),
    ),
  );
}
