import { expect } from 'chai';
import { COMMANDS } from '../../../protocols/memcached-meta/commands.js';
import type { MetaFlags } from '../../../protocols/memcached-meta/commands.js';
import { renderFlags } from '../../../protocols/memcached-meta/flags.js';
import type { MetaCommand } from '../../../protocols/memcached-meta/request.js';
import { thrown } from './helpers.js';

function refused(command: string, flags: unknown, reserved?: number): string {
  const err = thrown(() => renderFlags(command as MetaCommand, flags as MetaFlags, reserved));
  expect(err.code).to.equal('ERR_INVALID_ARGUMENT');
  return err.message;
}

describe('renderFlags', () => {
  it('renders in canonical order: N/T before t', () => {
    expect(renderFlags('mg', { v: true, t: true, T: 30, c: true })).to.equal(' T30 v t c');
    expect(renderFlags('mg', { t: true, N: 30, v: true })).to.equal(' N30 v t');
    expect(renderFlags('ma', { v: true, t: true, T: 100 })).to.equal(' T100 v t');
    expect(renderFlags('mg', { O: 'abc', k: true, v: true, f: true })).to.equal(' v f k Oabc');
  });

  it('renders every kind of token', () => {
    expect(renderFlags('ms', { T: 60, F: 42, C: 7n, M: 'E', I: true, c: true })).to.equal(
      ' T60 I ME C7 F42 c',
    );
    expect(renderFlags('ma', { N: 0, J: 10n, D: 2 ** 53 - 1, M: '-', C: 1 })).to.equal(
      ' N0 M- D9007199254740991 J10 C1',
    );
    expect(renderFlags('ma', { D: 2n ** 64n - 1n })).to.equal(' D18446744073709551615');
    expect(renderFlags('md', { I: true, T: 30, C: 5 })).to.equal(' T30 I C5');
    expect(renderFlags('mg', { P: 'proxy', L: true, O: 7 })).to.equal(' Pproxy L O7');
    expect(renderFlags('mg', { R: 30, u: true, h: true, l: true, s: true })).to.equal(' R30 u s h l');
  });

  it('treats false and undefined as absent', () => {
    expect(renderFlags('mg', { v: false, t: undefined, c: true })).to.equal(' c');
    expect(renderFlags('mg', {})).to.equal('');
    expect(renderFlags('mn', {})).to.equal('');
    expect(renderFlags('me', {})).to.equal('');
  });

  it('refuses flags the command does not have on 1.6.18', () => {
    refused('mg', { E: 5 }); // 1.6.27
    refused('mg', { C: 5 }); // mg C is 1.6.40, ignored by 1.6.18
    refused('ms', { s: true }); // 1.6.20
    refused('ms', { N: 30 }); // 1.6.20
    refused('md', { x: true }); // 1.6.27
    refused('ms', { v: true });
    refused('mn', { v: true });
    refused('me', { k: true });
    refused('mg', { noreply: true });
    refused('mg', { '': true });
    refused('mg', { __proto__: true, constructor: true });
  });

  it('refuses q and b: the client adds them', () => {
    expect(refused('mg', { q: true })).to.include('q');
    expect(refused('mg', { b: true })).to.include('b');
  });

  it('refuses tokens of the wrong kind', () => {
    refused('mg', { v: 1 });
    refused('mg', { v: 'x' });
    refused('mg', { k: 'victim' });
    refused('mg', { T: true });
    refused('mg', { T: '30' });
    refused('ms', { F: 1n });
    refused('mg', { O: true });
  });

  it('refuses out-of-range numbers', () => {
    refused('mg', { T: -1 });
    refused('mg', { T: 1.5 });
    refused('mg', { T: NaN });
    refused('mg', { T: 2 ** 31 });
    refused('ms', { F: 2 ** 32 });
    refused('ms', { F: -1 });
    refused('ma', { D: -1 });
    refused('ma', { D: 2n ** 64n });
    refused('ma', { D: 2 ** 53 });
    refused('ms', { C: 0 });
  });

  it('refuses tokens that would add bytes to the line', () => {
    refused('mg', { T: '1 q' as unknown as number });
    refused('mg', { O: 'a b' });
    refused('mg', { O: 'a\r\nmn' });
    refused('mg', { O: 'x'.repeat(32) });
    refused('mg', { O: '' });
    refused('mg', { P: 'a b' });
    refused('mg', { P: 'é' });
    refused('mg', { P: 'x'.repeat(65) });
    refused('ms', { M: 'e' }); // upper-case only
    refused('ms', { M: 'SS' }); // one character on 1.6.18
    refused('ma', { M: 'E' });
    expect(renderFlags('mg', { O: 'x'.repeat(31) })).to.equal(' O' + 'x'.repeat(31));
  });

  it('counts flags against the limit, with the tokens the client adds', () => {
    const all: MetaFlags = {};
    for (const ch of COMMANDS.mg.order) all[ch] = COMMANDS.mg.flags.get(ch) === 'none' ? true : 1;
    all.O = 'o';
    all.P = 'p';
    all.L = 'l';
    expect(renderFlags('mg', all).trim().split(' ')).to.have.length(15);
    expect(renderFlags('mg', all, 2)).to.be.a('string');
    expect(refused('mg', all, 3)).to.include('17');
  });

  it('refuses unknown commands and non-object flags', () => {
    refused('mx', {});
    refused('toString', {});
    refused('mg', null);
    refused('mg', 'v');
  });
});

describe('COMMANDS', () => {
  it('lists the statuses each command can receive', () => {
    expect([...COMMANDS.mg.statuses]).to.have.members(['VA', 'HD', 'EN']);
    expect([...COMMANDS.ms.statuses]).to.have.members(['HD', 'NS', 'EX', 'NF']);
    expect([...COMMANDS.md.statuses]).to.have.members(['HD', 'NF', 'EX']);
    expect([...COMMANDS.ma.statuses]).to.have.members(['HD', 'VA', 'NF', 'NS', 'EX']);
    expect([...COMMANDS.mn.statuses]).to.have.members(['MN']);
    expect([...COMMANDS.me.statuses]).to.have.members(['ME', 'EN']);
  });

  it('knows the flag limits, values and quiet support', () => {
    expect(COMMANDS.ms.maxFlags).to.equal(16);
    expect(COMMANDS.mg.maxFlags).to.equal(17);
    expect(COMMANDS.ms.hasValue).to.equal(true);
    expect(COMMANDS.mg.hasValue).to.equal(false);
    expect(COMMANDS.ma.idempotent).to.equal(false);
    expect(COMMANDS.me.quiet).to.equal(false);
    for (const spec of Object.values(COMMANDS)) {
      expect(spec.flags.has('q'), spec.command).to.equal(false);
      expect(spec.flags.has('b'), spec.command).to.equal(false);
      expect(spec.flags.has('E'), spec.command).to.equal(false);
      for (const ch of spec.returned) expect(spec.flags.has(ch), `${spec.command} ${ch}`).to.equal(true);
    }
  });

  it('orders modifiers before the flags that return something', () => {
    for (const spec of Object.values(COMMANDS)) {
      const t = spec.order.indexOf('t');
      if (t === -1) continue;
      for (const ch of ['N', 'T', 'R', 'M', 'D', 'J', 'C']) {
        const i = spec.order.indexOf(ch);
        if (i !== -1) expect(i, `${spec.command} ${ch}`).to.be.below(t);
      }
    }
  });
});
