/**
 * Validators for client options: each returns the value when it is acceptable and otherwise throws
 * ERR_INVALID_ARGUMENT whose message names the option, so a caller can tell which setting is wrong
 * without reading the code.
 */
import { InvalidArgumentError } from '../errors.js';

/**
 * The longest delay Node's timers take: a longer one fires after 1 ms instead (with a warning), so a
 * deadline past it would spin a timer every millisecond.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * An integer from `min` to `max`; throws ERR_INVALID_ARGUMENT naming `name`.
 *
 * @param min @default 1
 * @param max @default Number.MAX_SAFE_INTEGER
 */
export function integer(value: unknown, name: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      max === Number.MAX_SAFE_INTEGER
        ? `${name} must be an integer ≥ ${min}`
        : `${name} must be an integer from ${min} to ${max}`,
    );
  }
  return value;
}

/**
 * A whole number of milliseconds a timer can wait: from `min` to {@link MAX_TIMER_MS}; throws
 * ERR_INVALID_ARGUMENT naming `name`.
 *
 * @param min @default 1 (0 where the option means "off")
 */
export function duration(value: unknown, name: string, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${MAX_TIMER_MS} (ms)`);
  }
  return value;
}

/** `true` or `false`; throws ERR_INVALID_ARGUMENT naming `name`. */
export function bool(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`${name} must be true or false`);
  return value;
}

/** An iterable (a string is not taken as one); throws ERR_INVALID_ARGUMENT naming `name`. */
export function iterable<T>(value: Iterable<T>, name: string): Iterable<T> {
  const given: unknown = value;
  if (
    typeof given !== 'object' ||
    given === null ||
    typeof (given as Iterable<T>)[Symbol.iterator] !== 'function'
  ) {
    throw new InvalidArgumentError(`${name} must be an iterable`);
  }
  return value;
}

/** A non-null object (the options bag itself, a nested group); throws ERR_INVALID_ARGUMENT naming `name`. */
export function objectOption<T extends object>(value: T | undefined, name: string, shape = 'an object'): T {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(`${name} must be ${shape}`);
  return value;
}

/**
 * Throws ERR_INVALID_ARGUMENT naming the first own property of `given` not in `known`: a typo
 * (`tiemout`) must not be silently ignored.
 */
export function checkNames(given: object, known: ReadonlySet<string>, what: string): void {
  for (const name of Object.keys(given)) {
    if (!known.has(name)) {
      throw new InvalidArgumentError(`unknown ${what} "${name}"; known: ${[...known].join(', ')}`);
    }
  }
}
