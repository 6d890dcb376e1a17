import { describe, expect, it } from 'vitest';

import { mergeRun, parseEvents } from '../../src/sse';

describe('parseEvents', () => {
  it('reads whole events and keeps the start of the next one', () => {
    const { events, rest } = parseEvents('event: run\ndata: {"id": 1}\n\n: keep-alive\n\nevent: workf');
    expect(events).toEqual([{ event: 'run', data: '{"id": 1}' }]);
    expect(rest).toBe('event: workf');
    const next = parseEvents(rest + 'lows\ndata: {}\n\n');
    expect(next).toEqual({ events: [{ event: 'workflows', data: '{}' }], rest: '' });
  });

  it('joins data lines, takes CRLF, and names an unnamed event `message`', () => {
    const { events } = parseEvents('data: a\r\ndata: b\r\n\r\ndata:c\n\n');
    expect(events).toEqual([
      { event: 'message', data: 'a\nb' },
      { event: 'message', data: 'c' }
    ]);
  });

  it('drops comments and events without data', () => {
    expect(parseEvents(': hello\n\nevent: x\n\nid: 3\n\n').events).toEqual([]);
  });
});

describe('mergeRun', () => {
  const list = [{ id: 5, s: 'a' }, { id: 3, s: 'a' }, { id: 2, s: 'a' }];

  it('replaces a run in place', () => {
    expect(mergeRun(list, { id: 3, s: 'b' }, 10)).toEqual([
      { id: 5, s: 'a' },
      { id: 3, s: 'b' },
      { id: 2, s: 'a' }
    ]);
  });

  it('puts a new run by its id, newest first, and keeps the limit', () => {
    expect(mergeRun(list, { id: 6, s: 'n' }, 3).map(r => r.id)).toEqual([6, 5, 3]);
    expect(mergeRun(list, { id: 4, s: 'n' }, 10).map(r => r.id)).toEqual([5, 4, 3, 2]);
    expect(mergeRun([], { id: 1, s: 'n' }, 2).map(r => r.id)).toEqual([1]);
  });

  it('returns a new array and leaves the old one alone', () => {
    const merged = mergeRun(list, { id: 5, s: 'z' }, 10);
    expect(merged).not.toBe(list);
    expect(list[0].s).toBe('a');
  });
});
