/**
 * Reply lines as text: the statuses a meta client meets, and how an error message shows a line
 * (short, and with anything unprintable escaped).
 */
import { ProtocolError } from '../../lib/errors.js';

/** The two-letter statuses, as constants so frames share one string each. */
export function shortStatus(c0: number, c1: number): string | undefined {
  switch ((c0 << 8) | c1) {
    case 0x5641:
      return 'VA';
    case 0x4844:
      return 'HD';
    case 0x454e:
      return 'EN';
    case 0x4e46:
      return 'NF';
    case 0x4e53:
      return 'NS';
    case 0x4558:
      return 'EX';
    case 0x4d4e:
      return 'MN';
    case 0x4d45:
      return 'ME';
    case 0x4f4b:
      return 'OK';
    default:
      return undefined;
  }
}

/** The legacy statuses a meta client meets. Any line starting with `ERROR` is an error. */
export function wordStatus(line: string): string | undefined {
  if (line.startsWith('ERROR')) return 'ERROR';
  const sp = line.indexOf(' ');
  switch (sp === -1 ? line : line.slice(0, sp)) {
    case 'CLIENT_ERROR':
      return 'CLIENT_ERROR';
    case 'SERVER_ERROR':
      return 'SERVER_ERROR';
    case 'STAT':
      return 'STAT';
    case 'END':
      return 'END';
    case 'VERSION':
      return 'VERSION';
    case 'STORED':
      return 'STORED';
    case 'RESET':
      return 'RESET';
    case 'PREFIX':
      return 'PREFIX';
    default:
      return undefined;
  }
}

/** The error for a reply line that breaks the meta grammar. */
export function malformed(line: string): ProtocolError {
  return new ProtocolError(`malformed reply line ${quote(line)}`);
}

/** At most 64 characters of a reply line, with anything unprintable escaped, for an error message. */
export function quote(line: string): string {
  const cut = line.length > 64 ? line.slice(0, 64) : line;
  let out = '';
  for (let i = 0; i < cut.length; i++) {
    const c = cut.charCodeAt(i);
    out += c < 0x20 || c >= 0x7f ? `\\x${c.toString(16).padStart(2, '0')}` : cut[i];
  }
  return `"${out}"${cut === line ? '' : '…'}`;
}
