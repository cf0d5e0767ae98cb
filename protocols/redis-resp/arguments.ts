/**
 * The checks every argument of a {@link RedisClient} call goes through before any I/O: keys, hash
 * fields and values (bounded by `maxValueSize`), numbers, and whole commands (refused when they
 * would break "one reply per command" or a shared connection's state).
 */
import { InvalidArgumentError, InvalidKeyError, ValueTooLargeError } from '../../lib/errors.js';
import { iterable } from '../../lib/kit/index.js';
import { commandName, refusal, specOf } from './commands.js';
import type { RedisArg } from './encoder.js';

/** A value to store: bytes, or a string (stored as UTF-8). */
export type Value = string | Buffer | Uint8Array;

/** Fields of a hash to set. */
export type HashFields = Map<string, Value> | Record<string, Value> | Iterable<readonly [string, Value]>;

/** Argument checks bound to a client's `maxValueSize`; each throws ERR_INVALID_* naming the problem. */
export class RedisArgs {
  constructor(readonly maxValueSize: number) {}

  key(key: unknown): string {
    if (typeof key !== 'string') throw new InvalidKeyError('a key must be a string');
    if (key.length > this.maxValueSize) throw new InvalidKeyError('the key is over maxValueSize');
    return key;
  }

  /** One key, or every key of an iterable. */
  keys(keys: string | Iterable<string>): string[] {
    if (typeof keys === 'string') return [keys];
    return [...iterable(keys, 'keys')].map((k) => this.key(k));
  }

  field(field: unknown): string {
    if (typeof field !== 'string') throw new InvalidArgumentError('a hash field must be a string');
    return field;
  }

  /** A value as it goes on the wire, checked against maxValueSize. */
  value(value: unknown): Value {
    const max = this.maxValueSize;
    if (typeof value === 'string') {
      if (value.length > max || (value.length * 3 > max && Buffer.byteLength(value) > max)) {
        throw new ValueTooLargeError(`a value is over maxValueSize ${max}`);
      }
      return value;
    }
    if (value instanceof Uint8Array) {
      if (value.length > max)
        throw new ValueTooLargeError(`a value of ${value.length} bytes is over maxValueSize ${max}`);
      return value;
    }
    throw new InvalidArgumentError('a value must be a string, a Buffer or a Uint8Array');
  }

  /** Validated commands: arrays of arguments, known to be safe to send on a shared connection. */
  commands(commands: readonly (readonly RedisArg[])[]): RedisArg[][] {
    if (!Array.isArray(commands))
      throw new InvalidArgumentError('commands must be an array of argument arrays');
    return commands.map((args: unknown) => {
      if (!Array.isArray(args) || args.length === 0) {
        throw new InvalidArgumentError('a command is a non-empty array of arguments, its name first');
      }
      const out = (args as unknown[]).map((arg) => {
        if (typeof arg === 'number') {
          if (!Number.isFinite(arg)) throw new InvalidArgumentError('a number argument must be finite');
          return arg;
        }
        if (typeof arg === 'bigint') return arg;
        return this.value(arg);
      });
      const name = commandName(out);
      if (name === '') throw new InvalidArgumentError('a command name must be a word');
      const why = refusal(specOf(name), out);
      if (why !== undefined) throw new InvalidArgumentError(`${name} is refused: it ${why}`);
      return out;
    });
  }
}

/** A positive safe integer (a TTL in seconds or ms). */
export function positive(n: unknown, name: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer`);
  }
  return n;
}

/** An optional flag: `true` when set. */
export function flag(value: unknown, name: string): boolean {
  if (value !== undefined && typeof value !== 'boolean')
    throw new InvalidArgumentError(`${name} must be true or false`);
  return value === true;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A signed 64-bit integer, as a safe number or a bigint. */
export function int64(n: unknown, name: string): bigint | number {
  if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
  if (typeof n === 'bigint' && n >= INT64_MIN && n <= INT64_MAX) return n;
  throw new InvalidArgumentError(`${name} must be a safe integer or a bigint within signed 64 bits`);
}

/** The entries of `hset`'s fields, whichever form they were given in. */
export function entries(fields: HashFields): Iterable<readonly [string, Value]> {
  if (typeof fields !== 'object' || fields === null) {
    throw new InvalidArgumentError('fields must be a Map, an object or an iterable of [field, value]');
  }
  if (Symbol.iterator in fields) return fields as Iterable<readonly [string, Value]>;
  return Object.entries(fields);
}
