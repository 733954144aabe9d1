import { describe, expect, it } from 'vitest';
import { LineFramer, type LineFramerOptions } from '../../../../src/inputs/serial/line-framer.js';

function framer(options: Partial<LineFramerOptions> = {}) {
  const lines: string[] = [];
  const rejects: Array<[string, string]> = [];
  const f = new LineFramer(
    { delimiter: '\n', maxLineBytes: 16, ...options },
    { line: (b) => void lines.push(b.toString('latin1')), reject: (b, r) => void rejects.push([b.toString('latin1'), r]) },
  );
  const push = (...chunks: Array<string | Buffer>): void => {
    for (const c of chunks) f.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
  };
  return { f, push, lines, rejects };
}

describe('LineFramer, delimited', () => {
  it('splits on LF, CR or CRLF with the default delimiter, and skips empty lines', () => {
    const { push, lines, rejects } = framer();
    push('a=1\nb=2\r\nc=3\rd=4\n\n\r\n', 'e=5');
    expect(lines).toEqual(['a=1', 'b=2', 'c=3', 'd=4']);
    push('\n');
    expect(lines).toEqual(['a=1', 'b=2', 'c=3', 'd=4', 'e=5']);
    expect(rejects).toEqual([]);
  });

  it('joins lines split across chunks, byte by byte, including a CRLF split between chunks', () => {
    const { push, lines } = framer();
    for (const ch of 't=21.5\r\nh=40\r\n') push(ch);
    expect(lines).toEqual(['t=21.5', 'h=40']);
  });

  it('uses a custom multi-byte delimiter, also when it is split across chunks', () => {
    const { push, lines } = framer({ delimiter: '||' });
    push('one|', '|two||', '|', '|three|x||');
    expect(lines).toEqual(['one', 'two', 'three|x']);
  });

  it('dead-letters a line over max_line_bytes with its first bytes, without buffering the rest', () => {
    const { f, push, lines, rejects } = framer({ maxLineBytes: 8 });
    push('ok=1\n0123456789', 'ABCDEFGHIJ'.repeat(100));
    expect(f.buffered).toBe(0);
    push('XYZ\nok=2\n');
    expect(lines).toEqual(['ok=1', 'ok=2']);
    expect(rejects).toEqual([['01234567', 'too_large: line of 1013 bytes is over max_line_bytes (8); its first 8 bytes are kept']]);
  });

  it('dead-letters an over-long line that arrives whole in one chunk', () => {
    const { push, lines, rejects } = framer({ maxLineBytes: 4 });
    push('abcdefgh\nabc\n');
    expect(lines).toEqual(['abc']);
    expect(rejects).toEqual([['abcd', 'too_large: line of 8 bytes is over max_line_bytes (4); its first 4 bytes are kept']]);
  });

  it('hands invalid UTF-8 on as bytes (the mapping rejects it), and keeps the bytes exact', () => {
    const got: Buffer[] = [];
    const g = new LineFramer({ delimiter: '\n', maxLineBytes: 16 }, { line: (b) => void got.push(Buffer.from(b)), reject: () => undefined });
    g.push(Buffer.from([0x41, 0xff, 0xfe, 0x0a, 0xc3]));
    g.push(Buffer.from([0xa9, 0x0a]));
    expect(got).toEqual([Buffer.from([0x41, 0xff, 0xfe]), Buffer.from('é')]);
  });

  it('dead-letters a partial line when the stream ends, and starts fresh after', () => {
    const { f, push, lines, rejects } = framer();
    push('a=1\nb=');
    f.end('incomplete line: the port closed before its delimiter');
    push('c=3\n');
    expect(lines).toEqual(['a=1', 'c=3']);
    expect(rejects).toEqual([['b=', 'parse_error: incomplete line: the port closed before its delimiter']]);
  });
});

describe('LineFramer, frame_regex', () => {
  const NMEA = '\\$[^$\\r\\n]*\\*[0-9A-F]{2}';

  it('takes each match as a frame, across chunks, and dead-letters non-blank bytes between frames', () => {
    const { push, lines, rejects } = framer({ frameRegex: NMEA, maxLineBytes: 64 });
    push('$GPGGA,1*47\r\n$GP', 'RMC,2*6A garbage $GPGSV,3*', '00\r\n');
    expect(lines).toEqual(['$GPGGA,1*47', '$GPRMC,2*6A', '$GPGSV,3*00']);
    expect(rejects).toEqual([[' garbage ', 'parse_error: 9 bytes outside any frame (frame_regex)']]);
  });

  it('drops more than max_line_bytes of text holding no frame, keeping memory bounded', () => {
    const { f, push, lines, rejects } = framer({ frameRegex: '<[^<>]*>', maxLineBytes: 10 });
    push('<a=1>', 'x'.repeat(30));
    expect(f.buffered).toBe(0);
    push('<b=2>');
    expect(lines).toEqual(['<a=1>', '<b=2>']);
    expect(rejects).toEqual([['x'.repeat(10), 'parse_error: 30 bytes outside any frame (frame_regex)']]);
  });
});
