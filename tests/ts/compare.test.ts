import { describe, expect, it } from 'vitest';

import {
  ITaskDiff,
  cellLabel,
  counts,
  durationDelta,
  lineDiff,
  outputLines,
  sideText,
  statesText,
  taskSummary
} from '../../src/compare';

const side = (state: string, duration: number | null = 1) => ({
  state,
  duration,
  attempts: 1,
  message: null,
  outcome: null
});

const task = (over: Partial<ITaskDiff>): ITaskDiff => ({
  key: 't',
  changed: false,
  a: side('success'),
  b: side('success'),
  parameters: [],
  values: [],
  output: null,
  cells: null,
  note: null,
  ...over
});

describe('compare: changes and tasks in words', () => {
  it('shows each side of a change as JSON, or not set', () => {
    const c = { name: 'x', a: 'bob', b: 7 };
    expect([sideText(c, 'a'), sideText(c, 'b')]).toEqual(['"bob"', '7']);
    expect(sideText({ name: 'x', b: 1 }, 'a')).toBe('not set');
  });

  it('gives the duration of B against A, or nothing without both', () => {
    expect(durationDelta(1.25, 2.5)).toBe('+1.3 s');
    expect(durationDelta(90, 3)).toBe('−1 min 27 s');
    expect(durationDelta(2, 2.01)).toBe('±0 s');
    expect(durationDelta(null, 2)).toBe('');
    expect(durationDelta(2, undefined)).toBe('');
  });

  it('names the states of a task in both runs', () => {
    expect(statesText(task({}))).toBe('success');
    expect(statesText(task({ a: side('failed'), b: side('success') }))).toBe('failed → success');
    expect(statesText(task({ a: null, b: side('upstream_failed') }))).toBe('— → upstream failed');
  });

  it('sums up what changed in a task', () => {
    expect(taskSummary(task({}))).toBe('');
    expect(
      taskSummary(
        task({
          changed: true,
          a: side('failed'),
          values: [{ name: 'n', a: 1, b: 2 }, { name: 'm', a: 1 }],
          parameters: [{ name: 'p', a: 1, b: 2 }],
          cells: [{ a: 1, b: 1, change: 'changed', source_changed: false, outputs: [] }]
        })
      )
    ).toBe('state, 1 parameter, 2 values, 1 cell');
    expect(taskSummary(task({ a: null, changed: true }))).toBe('only in B');
    expect(taskSummary(task({ b: null, changed: true }))).toBe('only in A');
    expect(taskSummary(task({ changed: true, note: 'no executed notebook in run A to compare' }))).toBe('see note');
  });

  it('names a cell by its index on each side', () => {
    const cell = (a: number | null, b: number | null) => ({ a, b, change: 'changed' as const, source_changed: false, outputs: [] });
    expect(cellLabel(cell(3, 3))).toBe('cell 3');
    expect(cellLabel(cell(3, 4))).toBe('cell 3 → 4');
    expect(cellLabel(cell(null, 5))).toBe('cell 5 (only in B)');
    expect(cellLabel(cell(2, null))).toBe('cell 2 (only in A)');
  });

  it('counts the tasks that changed', () => {
    const diff = {
      a: {} as any,
      b: {} as any,
      parameters: [],
      tasks: [task({ changed: true }), task({}), task({})]
    };
    expect(counts(diff)).toEqual({ changed: 1, same: 2 });
  });
});

describe('lineDiff', () => {
  it('keeps the common lines and marks the others removed or added', () => {
    expect(lineDiff('a\nb\nc', 'a\nx\nc\nd').map(l => `${l.op}${l.text}`)).toEqual([' a', '-b', '+x', ' c', '+d']);
  });

  it('finds nothing between equal texts', () => {
    expect(lineDiff('same\ntext', 'same\ntext').every(l => l.op === ' ')).toBe(true);
  });

  it('does not align very long texts', () => {
    const long = Array.from({ length: 500 }, (_, i) => `line ${i}`).join('\n');
    const ops = lineDiff(long, 'x');
    expect(ops.filter(l => l.op === '-').length).toBe(500);
    expect(ops[ops.length - 1]).toEqual({ op: '+', text: 'x' });
  });

  it("gives an output's own lines when only one run has it, without a stream's last newline", () => {
    expect(outputLines({ type: 'stdout', change: 'added', b: 'hi\nthere\n' })).toEqual([
      { op: '+', text: 'hi' },
      { op: '+', text: 'there' }
    ]);
    expect(outputLines({ type: 'error', change: 'removed', a: 'ValueError: x' })).toEqual([
      { op: '-', text: 'ValueError: x' }
    ]);
    expect(outputLines({ type: 'stdout', change: 'changed', a: 'n = 1\n', b: 'n = 2\n' }).map(l => l.op + l.text)).toEqual([
      '-n = 1',
      '+n = 2'
    ]);
  });
});
