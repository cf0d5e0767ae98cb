/**
 * What a RESP reply decodes to. Bytes stay bytes: a bulk string is a `Buffer` (never decoded into a
 * JS string by the codec), integers are `bigint` (Redis integers are signed 64-bit, past what a
 * `number` holds exactly).
 *
 * | RESP                          | JS                                            |
 * |-------------------------------|-----------------------------------------------|
 * | `+` simple string             | `string` (UTF-8)                              |
 * | `-` error, `!` bulk error     | {@link RespError} (inside an aggregate; at the top the request fails) |
 * | `:` integer, `(` big number   | `bigint`                                      |
 * | `$` bulk string               | `Buffer`                                      |
 * | `$-1`, `*-1`, `_` null        | `null`                                        |
 * | `*` array                     | `RespValue[]`                                 |
 * | `#` boolean                   | `boolean`                                     |
 * | `,` double                    | `number` (`Infinity`, `-Infinity`, `NaN` too) |
 * | `=` verbatim string           | {@link VerbatimString}                        |
 * | `%` map                       | `Map<RespValue, RespValue>`                   |
 * | `~` set                       | `Set<RespValue>`                              |
 * | `>` push, `\|` attribute      | not values: read and dropped by the decoder   |
 *
 * A `Map` or `Set` keyed by Buffers compares them by identity: iterate it, or use the typed client
 * methods (`hgetall` gives a `Map<string, Buffer>`).
 */

/** An error reply (`-WRONGTYPE …`, `!…`) as data: where it appears inside an aggregate (EXEC). */
export class RespError {
  constructor(
    /** The whole error line, e.g. `"WRONGTYPE Operation against a key holding the wrong kind of value"`. */
    readonly message: string,
  ) {}

  /** The first word: `"ERR"`, `"WRONGTYPE"`, `"NOAUTH"`, `"MOVED"`… */
  get prefix(): string {
    const sp = this.message.indexOf(' ');
    return sp === -1 ? this.message : this.message.slice(0, sp);
  }
}

/** A RESP3 verbatim string: its three-letter format (`"txt"`, `"mkd"`) and its bytes. */
export class VerbatimString {
  constructor(
    readonly format: string,
    readonly value: Buffer,
  ) {}
}

/** One decoded RESP value. */
export type RespValue =
  | string
  | bigint
  | Buffer
  | null
  | boolean
  | number
  | RespError
  | VerbatimString
  | RespValue[]
  | Map<RespValue, RespValue>
  | Set<RespValue>;

/** The kind of a reply, as the command table lists what a command may answer. */
export type ReplyKind =
  | 'simple'
  | 'error'
  | 'integer'
  | 'bulk'
  | 'null'
  | 'array'
  | 'boolean'
  | 'double'
  | 'verbatim'
  | 'map'
  | 'set';

/** The kind of a decoded value (a big number is an `integer`: both are bigints). */
export function kindOf(value: RespValue): ReplyKind {
  switch (typeof value) {
    case 'string':
      return 'simple';
    case 'bigint':
      return 'integer';
    case 'boolean':
      return 'boolean';
    case 'number':
      return 'double';
  }
  if (value === null) return 'null';
  if (Buffer.isBuffer(value)) return 'bulk';
  if (Array.isArray(value)) return 'array';
  if (value instanceof RespError) return 'error';
  if (value instanceof VerbatimString) return 'verbatim';
  if (value instanceof Map) return 'map';
  return 'set';
}
