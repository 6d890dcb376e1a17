/**
 * A glued value across runs as a small line chart: which values are numbers, where each
 * run's point goes, the line through them and the axis labels; no I/O.
 */

/** One row of GET workflows/NAME/values: a run, and its value of each column. */
export interface IValuesRow {
  run: number;
  start_time: string | null;
  state: string;
  [column: string]: unknown;
}

export interface IPoint {
  run: number;
  state: string;
  start_time: string | null;
  value: number;
  /** Where it is drawn, in the chart's pixels (y grows downwards). */
  x: number;
  y: number;
}

export interface IChart {
  points: IPoint[];
  /** The value at the bottom and at the top of the plot. */
  low: number;
  high: number;
  /** An SVG path through the points in run order; a run without the value breaks it. */
  path: string;
}

export interface IChartBox {
  width: number;
  height: number;
  /** Room left empty on every side (the points' dots stay inside the box). */
  pad: number;
}

/** A value the chart can draw: a finite number (true and false are no numbers here). */
export function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * The columns worth a chart: every run that has the value has a number there, and at
 * least `least` runs have one.
 */
export function numericColumns(rows: IValuesRow[], columns: string[], least = 2): string[] {
  return columns.filter(column => {
    const present = rows.map(r => r[column]).filter(v => v !== null && v !== undefined);
    return present.length >= least && present.every(isNumber);
  });
}

/**
 * Place each run's value of `column` in `box`: runs evenly spaced left to right in their
 * order (oldest first), values from the lowest (bottom) to the highest (top). All values
 * equal: a flat line across the middle.
 */
export function chart(rows: IValuesRow[], column: string, box: IChartBox): IChart {
  const { width, height, pad } = box;
  const values = rows.map(r => r[column]);
  const numbers = values.filter(isNumber);
  if (!numbers.length) {
    return { points: [], low: 0, high: 0, path: '' };
  }
  const low = Math.min(...numbers);
  const high = Math.max(...numbers);
  const span = high - low;
  const across = width - 2 * pad;
  const down = height - 2 * pad;
  const xOf = (i: number) => (rows.length === 1 ? width / 2 : pad + (i / (rows.length - 1)) * across);
  const yOf = (v: number) => (span === 0 ? height / 2 : pad + ((high - v) / span) * down);
  const points: IPoint[] = [];
  let path = '';
  let joined = false;
  rows.forEach((row, i) => {
    const v = values[i];
    if (!isNumber(v)) {
      joined = false; // a gap: the next point starts a new stretch of line
      return;
    }
    const x = round(xOf(i));
    const y = round(yOf(v));
    points.push({ run: row.run, state: row.state, start_time: row.start_time, value: v, x, y });
    path += `${path ? ' ' : ''}${joined ? 'L' : 'M'} ${x} ${y}`;
    joined = true;
  });
  return { points, low, high, path };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * A number as an axis or tooltip reads it: at most `digits` significant digits, no
 * trailing zeros, exponent notation only for the very large or small (`0.1235`, `12 346`,
 * `1.2e-7`).
 */
export function numberText(value: number, digits = 4): string {
  if (value === 0 || !Number.isFinite(value)) {
    return String(value);
  }
  const size = Math.abs(value);
  if (size >= 1e9 || size < 1e-4) {
    return value.toExponential(Math.max(0, digits - 3)).replace(/\.?0+e/, 'e');
  }
  if (size >= 10 ** digits) {
    return Math.round(value).toLocaleString('en-US').replace(/,/g, ' ');
  }
  return String(Number(value.toPrecision(digits)));
}

/** How the last value moved from the one before it: `+0.2`, `−3`, or '' (fewer than two). */
export function change(points: IPoint[]): string {
  if (points.length < 2) {
    return '';
  }
  const delta = points[points.length - 1].value - points[points.length - 2].value;
  if (delta === 0) {
    return '±0';
  }
  return `${delta > 0 ? '+' : '−'}${numberText(Math.abs(delta))}`;
}
