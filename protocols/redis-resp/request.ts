/**
 * What the Redis codec sends: one command, several (a pipeline), a transaction, or a step of the
 * handshake. Requests are built by the client, which validated every argument first.
 */
import { COMMANDS, isIdempotent, keyOf, specOf, commandName, type CommandSpec } from './commands.js';
import type { RedisArg } from './encoder.js';

/**
 * - `command`: one command, one reply.
 * - `pipeline`: several commands written together, one reply each; settles with all of them.
 * - `transaction`: `MULTI`, the commands, `EXEC`, written together: `+OK`, one `+QUEUED` each, then
 *   `EXEC`'s array of results.
 * - `hello`, `auth`, `select`: the handshake, sent alone on every new connection.
 */
export type RequestKind = 'command' | 'pipeline' | 'transaction' | 'hello' | 'auth' | 'select';

/**
 * A request of the Redis codec, built through the static factories after the client has validated
 * its arguments; carries what the codec needs to encode it, route it and check its replies.
 */
export class RedisRequest {
  private constructor(
    readonly kind: RequestKind,
    /** The commands, each as its arguments (name first). */
    readonly commands: readonly (readonly RedisArg[])[],
    /** The table row of each command. */
    readonly specs: readonly CommandSpec[],
    /** The routing key: the first key of the first command that has one. */
    readonly key: string | undefined,
    readonly idempotent: boolean,
  ) {}

  /** One command; `spec` and `key` default to what the table says. */
  static command(
    args: readonly RedisArg[],
    spec: CommandSpec = specOf(commandName(args)),
    key: string | undefined = keyOf(spec, args),
  ): RedisRequest {
    return new RedisRequest('command', [args], [spec], key, isIdempotent(spec, args));
  }

  /** Several commands, one reply each, settled together. */
  static pipeline(commands: readonly (readonly RedisArg[])[]): RedisRequest {
    const specs = commands.map((args) => specOf(commandName(args)));
    return new RedisRequest(
      'pipeline',
      commands,
      specs,
      firstKey(specs, commands),
      allIdempotent(specs, commands),
    );
  }

  /** `MULTI`, the commands, `EXEC`: applied together or not at all. */
  static transaction(commands: readonly (readonly RedisArg[])[]): RedisRequest {
    const specs = commands.map((args) => specOf(commandName(args)));
    return new RedisRequest(
      'transaction',
      [['MULTI'], ...commands, ['EXEC']],
      [COMMANDS.MULTI, ...specs, COMMANDS.EXEC],
      firstKey(specs, commands),
      allIdempotent(specs, commands),
    );
  }

  /** `HELLO 3 [AUTH user pass]`: RESP3, and the login if there is one. */
  static hello(auth: { username?: string; password: string } | undefined): RedisRequest {
    const args: RedisArg[] = ['HELLO', '3'];
    if (auth !== undefined) args.push('AUTH', auth.username ?? 'default', auth.password);
    return new RedisRequest('hello', [args], [COMMANDS.HELLO], undefined, true);
  }

  /** `AUTH [user] pass` (RESP2). */
  static auth(auth: { username?: string; password: string }): RedisRequest {
    const args: RedisArg[] =
      auth.username === undefined ? ['AUTH', auth.password] : ['AUTH', auth.username, auth.password];
    return new RedisRequest('auth', [args], [COMMANDS.AUTH], undefined, true);
  }

  /** `SELECT db`. */
  static select(database: number): RedisRequest {
    return new RedisRequest('select', [['SELECT', database]], [COMMANDS.SELECT], undefined, true);
  }
}

function firstKey(
  specs: readonly CommandSpec[],
  commands: readonly (readonly RedisArg[])[],
): string | undefined {
  for (let i = 0; i < specs.length; i++) {
    const key = keyOf(specs[i], commands[i]);
    if (key !== undefined) return key;
  }
  return undefined;
}

function allIdempotent(specs: readonly CommandSpec[], commands: readonly (readonly RedisArg[])[]): boolean {
  return specs.every((spec, i) => isIdempotent(spec, commands[i]));
}
