/**
 * The example's keys, picked from the ring so that every server holds some of them, whatever the
 * random prefix and the ports: the server the example kills then always has keys to fail.
 */

/**
 * `count` keys named `${base}:0`, `${base}:1`, … (skipping some), such that no server holds more than
 * ⌈count / servers⌉ of them; so each of the `servers` holds at least count − (servers − 1)·⌈count /
 * servers⌉ (8 keys on 3 servers: 3, 3 and 2). `serverFor` is the client's routing (prefix included).
 * Throws if the ring sends (almost) nothing to some server.
 */
export function spreadKeys(
  serverFor: (key: string) => string,
  servers: number,
  count: number,
  base = 'user',
): string[] {
  const cap = Math.ceil(count / servers);
  const held = new Map<string, number>();
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    if (i >= count * 1000) throw new Error(`no spread of ${count} keys over ${servers} servers found`);
    const key = `${base}:${i}`;
    const server = serverFor(key);
    const n = held.get(server) ?? 0;
    if (n >= cap) continue;
    held.set(server, n + 1);
    keys.push(key);
  }
  return keys;
}
