/**
 * Runs a suite written for vitest's `test` object (`it`, `beforeEach`, `afterEach`, `t.expect`) under
 * mocha, with chai behind the few matchers such suites use (`@keyv/test-suite`).
 */
import { expect as chaiExpect } from 'chai';

interface Matchers {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toBeTruthy(): void;
  toBeFalsy(): void;
  toBeUndefined(): void;
  toBeDefined(): void;
  toBeNull(): void;
}

interface ShimExpect {
  (actual: unknown): Matchers & { not: Matchers };
  assertions(count: number): void;
}

function matchers(actual: unknown, negate: boolean, count: () => void): Matchers {
  const check = (name: string, assert: () => void) => {
    count();
    if (!negate) return assert();
    let passed = true;
    try {
      assert();
    } catch {
      passed = false;
    }
    if (passed) throw new Error(`expected ${String(actual)} not ${name}`);
  };
  return {
    toBe: (expected) => check('toBe', () => chaiExpect(actual).to.equal(expected)),
    toEqual: (expected) => check('toEqual', () => chaiExpect(actual).to.deep.equal(expected)),
    toBeTruthy: () => check('toBeTruthy', () => chaiExpect(actual).to.be.ok),
    toBeFalsy: () => check('toBeFalsy', () => chaiExpect(actual).to.not.be.ok),
    toBeUndefined: () => check('toBeUndefined', () => chaiExpect(actual).to.equal(undefined)),
    toBeDefined: () => check('toBeDefined', () => chaiExpect(actual).to.not.equal(undefined)),
    toBeNull: () => check('toBeNull', () => chaiExpect(actual).to.equal(null)),
  };
}

/** A per-test `expect` that also checks `expect.assertions(n)` at the end of the test. */
function makeExpect(): { expect: ShimExpect; verify(): void } {
  let made = 0;
  let wanted: number | undefined;
  const count = () => void made++;
  const expect = ((actual: unknown) =>
    Object.assign(matchers(actual, false, count), { not: matchers(actual, true, count) })) as ShimExpect;
  expect.assertions = (n) => void (wanted = n);
  return {
    expect,
    verify: () => {
      if (wanted !== undefined) chaiExpect(made, 'assertions made').to.equal(wanted);
    },
  };
}

type TestFn = (t: { expect: ShimExpect }) => unknown;

/** The vitest-like object; `skip` maps test names to the reason they are skipped. */
export function vitestShim(skip: ReadonlyMap<string, string> = new Map()) {
  return {
    it(name: string, fn: TestFn) {
      const reason = skip.get(name);
      if (reason !== undefined) {
        it.skip(`${name} (skipped: ${reason})`);
        return;
      }
      it(name, async () => {
        const e = makeExpect();
        await fn({ expect: e.expect });
        e.verify();
      });
    },
    beforeEach: (fn: () => unknown) => beforeEach(async () => void (await fn())),
    afterEach: (fn: () => unknown) => afterEach(async () => void (await fn())),
  };
}
