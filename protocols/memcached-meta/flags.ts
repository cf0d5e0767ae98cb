/**
 * Renders the flags of the low-level API from the command table: every flag is checked (known to the
 * command, right kind of token, in range, printable) and written in the table's canonical order.
 * Nothing a caller passes can add a token, a flag or a line of its own (docs/architecture.md).
 */
import { InvalidArgumentError } from '../../lib/errors.js';
import { COMMANDS } from './commands.js';
import type { CommandSpec, MetaFlags, TokenKind } from './commands.js';
import type { MetaCommand } from './request.js';
import * as validate from './validate.js';

/**
 * Proxy hints (`P`, `L`) are ignored by the server; their tokens are capped so that no line gets near
 * the 2048 bytes the server closes the connection at (docs/meta-protocol.md).
 */
const MAX_ANY_TOKEN = 64;

/**
 * Validates `flags` against `command`'s row of {@link COMMANDS} and renders them in canonical order,
 * each preceded by a space: `{ v: true, t: true, T: 30, c: true }` on `mg` → `" T30 v t c"`.
 *
 * `reserved` is the number of flag tokens the encoder will add (`b` for a base64 key, `q` and `O`
 * in a batch) so the total stays within the server's limit.
 *
 * @throws InvalidArgumentError for an unknown flag, `q` or `b`, a wrong or out-of-range token, or
 * too many flags.
 */
export function renderFlags(command: MetaCommand, flags: MetaFlags, reserved = 0): string {
  const spec: CommandSpec | undefined = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (spec === undefined) throw new InvalidArgumentError(`unknown meta command ${validate.show(command)}`);
  if (typeof flags !== 'object' || flags === null) {
    throw new InvalidArgumentError(`flags must be an object (got ${validate.show(flags)})`);
  }
  // Keys outside the table are refused rather than ignored: a typo must not go unnoticed.
  for (const ch of Object.keys(flags)) {
    if (spec.flags.has(ch)) continue;
    if (flags[ch] === undefined || flags[ch] === false) continue;
    if (ch === 'q' || ch === 'b') {
      throw new InvalidArgumentError(
        `flag ${ch} cannot be set: ${ch === 'q' ? 'batches add q' : 'a binary key adds b'} by themselves`,
      );
    }
    throw new InvalidArgumentError(`${validate.show(ch)} is not a flag of ${command} on memcached 1.6.18`);
  }
  let out = '';
  let count = 0;
  for (const ch of spec.order) {
    const value = flags[ch];
    if (value === undefined || value === false) continue;
    out += ' ' + render(ch, spec.flags.get(ch) ?? 'none', value);
    count++;
  }
  if (count + reserved > spec.maxFlags) {
    throw new InvalidArgumentError(
      `${command} takes at most ${spec.maxFlags} flags, got ${count}` +
        (reserved > 0 ? ` plus ${reserved} added by the client` : ''),
    );
  }
  return out;
}

function render(ch: string, kind: TokenKind, value: true | number | bigint | string): string {
  const name = `flag ${ch}`;
  switch (kind) {
    case 'none':
      if (value !== true)
        throw new InvalidArgumentError(`${name} takes no token (got ${validate.show(value)})`);
      return ch;
    case 'ttl':
      return ch + validate.ttl(value, name);
    case 'u32':
      return ch + validate.clientFlags(value, name);
    case 'u64':
      return ch + validate.u64(value, name);
    case 'cas':
      return ch + validate.cas(value, name);
    case 'opaque':
      return ch + validate.opaque(typeof value === 'number' ? opaqueNumber(value, name) : value, name);
    case 'msMode':
      return ch + mode(value, 'SERAP', name);
    case 'maMode':
      return ch + mode(value, 'I+D-', name);
    case 'any':
      return value === true ? ch : ch + anyToken(value, name);
  }
}

/** Opaques may be given as numbers; they are written in decimal. */
function opaqueNumber(value: number, name: string): string {
  return String(validate.nonNegativeInt(value, name, Number.MAX_SAFE_INTEGER));
}

/** Mode letters are upper-case, exactly one character on 1.6.18 (docs/meta-protocol.md). */
function mode(value: unknown, letters: string, name: string): string {
  if (typeof value !== 'string' || value.length !== 1 || !letters.includes(value)) {
    throw new InvalidArgumentError(
      `${name} must be one of ${[...letters].join(' ')} (got ${validate.show(value)})`,
    );
  }
  return value;
}

function anyToken(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length > MAX_ANY_TOKEN) {
    throw new InvalidArgumentError(
      `${name} must be true or a string of up to ${MAX_ANY_TOKEN} printable ASCII characters (got ${validate.show(value)})`,
    );
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) {
      throw new InvalidArgumentError(
        `${name} must be printable ASCII without spaces (got ${validate.show(value)})`,
      );
    }
  }
  return value;
}
