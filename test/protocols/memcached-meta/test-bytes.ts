/**
 * Expected request bytes built by hand, never by the encoder under test: a meta command line from
 * its parts, and its data block.
 */
export function metaLine(command: string, key: string, ...tokens: (string | number)[]): Buffer {
  return Buffer.from([command, key, ...tokens.map(String)].join(' ') + '\r\n', 'latin1');
}

/** A data block and its CRLF. */
export function dataBlock(value: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from(value), Buffer.from('\r\n')]);
}
