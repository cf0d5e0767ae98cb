/**
 * Command-line helpers the programs share (bench, soak): parseArgs with its errors as
 * {@link UsageError}, checked numbers, comma-separated subsets, and the parse-or-exit step of a main.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command line a program cannot run with; `message` says which option. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;
type Strict<T extends Options> = { args: string[]; strict: true; allowPositionals: false; options: T };
/** What `parseArgs` returns as `values` for `options`. */
export type Flags<T extends Options> = ReturnType<typeof parseArgs<Strict<T>>>['values'];

/** `parseArgs` in strict mode with no positionals; its errors become {@link UsageError}s. */
export function parseFlags<T extends Options>(argv: string[], options: T): Flags<T> {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values;
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
}

/** A finite number from `min` to `max`. */
export function number(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${name} must be a number from ${min} to ${max}, not ${JSON.stringify(text)}`);
  }
  return n;
}

/** An integer from `min` to `max`. */
export function integer(name: string, text: string, min: number, max: number): number {
  const n = number(name, text, min, max);
  if (!Number.isInteger(n)) throw new UsageError(`${name} must be an integer, not ${JSON.stringify(text)}`);
  return n;
}

/** The members of `all` named in the comma-separated `text`, in `all`'s order. */
export function subset<T>(name: string, text: string, all: readonly T[], id: (t: T) => string): T[] {
  const wanted = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const known = new Set(all.map(id));
  const unknown = wanted.filter((w) => !known.has(w));
  if (unknown.length > 0 || wanted.length === 0) {
    throw new UsageError(
      `${name}: unknown ${JSON.stringify(unknown.join(','))}; choose from ${[...known].join(', ')}`,
    );
  }
  return all.filter((t) => wanted.includes(id(t)));
}

/**
 * Runs `parse` on the process's arguments: prints the usage and exits 0 for `'help'`, 2 with the
 * message for a {@link UsageError}; otherwise returns the options.
 */
export function optionsOrExit<O>(program: string, usage: string, parse: (argv: string[]) => O | 'help'): O {
  let options: O | 'help';
  try {
    options = parse(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${program}: ${err.message}\n\n${usage}`);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(usage);
    process.exit(0);
  }
  return options;
}
