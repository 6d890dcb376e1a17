import { describe, expect, it } from 'vitest';

import { IValuesRow, change, chart, isNumber, numberText, numericColumns } from '../../src/chart';

const row = (run: number, values: Record<string, unknown>): IValuesRow => ({
  run,
  state: 'success',
  start_time: `2024-01-0${run}T00:00:00Z`,
  ...values
});

const BOX = { width: 100, height: 50, pad: 5 };

describe('numericColumns', () => {
  const rows = [
    row(1, { 'a.n': 1, 'a.s': 'x', 'a.mixed': 1, 'a.flag': true, 'a.once': 3, 'a.gap': null }),
    row(2, { 'a.n': 2.5, 'a.s': 'y', 'a.mixed': 'two', 'a.flag': false, 'a.once': null, 'a.gap': 4 }),
    row(3, { 'a.n': -1, 'a.s': null, 'a.mixed': 3, 'a.flag': true, 'a.once': null, 'a.gap': 5 })
  ];
  const columns = ['a.n', 'a.s', 'a.mixed', 'a.flag', 'a.once', 'a.gap'];

  it('keeps columns whose values are all numbers, in two runs at least', () => {
    expect(numericColumns(rows, columns)).toEqual(['a.n', 'a.gap']);
    expect(numericColumns(rows, columns, 1)).toEqual(['a.n', 'a.once', 'a.gap']);
  });

  it('takes booleans, NaN and infinities (as JSON gives them: text) for no numbers', () => {
    expect([true, NaN, Infinity, 'NaN', 0, -2.5].map(isNumber)).toEqual([false, false, false, false, true, true]);
  });
});

describe('chart', () => {
  it('spaces runs evenly, puts the highest value at the top and the lowest at the bottom', () => {
    const c = chart([row(1, { v: 10 }), row(2, { v: 30 }), row(3, { v: 20 })], 'v', BOX);
    expect(c.low).toBe(10);
    expect(c.high).toBe(30);
    expect(c.points.map(p => [p.run, p.value, p.x, p.y])).toEqual([
      [1, 10, 5, 45],
      [2, 30, 50, 5],
      [3, 20, 95, 25]
    ]);
    expect(c.path).toBe('M 5 45 L 50 5 L 95 25');
  });

  it('breaks the line where a run has no number, and draws a flat series across the middle', () => {
    const c = chart([row(1, { v: 1 }), row(2, { v: null }), row(3, { v: 1 }), row(4, { v: 1 })], 'v', BOX);
    expect(c.points.map(p => p.y)).toEqual([25, 25, 25]);
    expect(c.path).toBe('M 5 25 M 65 25 L 95 25');
  });

  it('puts one run in the middle and draws nothing without numbers', () => {
    expect(chart([row(1, { v: 7 })], 'v', BOX).points.map(p => [p.x, p.y])).toEqual([[50, 25]]);
    expect(chart([row(1, { v: 'x' })], 'v', BOX)).toEqual({ points: [], low: 0, high: 0, path: '' });
  });

  it("says how the last value moved from the one before", () => {
    const points = (vs: number[]) => chart(vs.map((v, i) => row(i + 1, { v })), 'v', BOX).points;
    expect(change(points([0.1, 0.3]))).toBe('+0.2');
    expect(change(points([5, 2]))).toBe('−3');
    expect(change(points([5, 5]))).toBe('±0');
    expect(change(points([5]))).toBe('');
  });
});

describe('numberText', () => {
  it('keeps four significant digits without trailing zeros', () => {
    expect(numberText(0.123456)).toBe('0.1235');
    expect(numberText(2.5)).toBe('2.5');
    expect(numberText(100)).toBe('100');
    expect(numberText(-42.00001)).toBe('-42');
    expect(numberText(0)).toBe('0');
  });

  it('groups large whole numbers and writes the extremes with an exponent', () => {
    expect(numberText(123456.7)).toBe('123 457');
    expect(numberText(3e12)).toBe('3e+12');
    expect(numberText(1.26e-7)).toBe('1.3e-7');
    expect(numberText(0.000123456, 8)).toBe('0.000123456');
  });
});
