/**
 * Comparing two runs on screen: the answer of GET runs/A/diff/B in words (states, durations,
 * changed names, output cells) and changed text outputs as lines removed and added; no I/O.
 */
import { secondsText, short, stateLabel } from './format';

/** A name whose value differs; the side where it is not set has no key. */
export interface IChange {
  name: string;
  a?: unknown;
  b?: unknown;
}

export interface IRunSide {
  id: number;
  workflow: string;
  state: string;
  start_time: string | null;
  end_time: string | null;
  duration: number | null;
}

export interface IUnitSide {
  state: string;
  duration: number | null;
  attempts: number;
  message: string | null;
  outcome: unknown;
}

export interface IOutputChange {
  /** `stdout`, `stderr`, `error` or a MIME type (`text/html`, `image/png`). */
  type: string;
  change: 'added' | 'removed' | 'changed';
  /** The text on each side (never for images: they are only changed or not). */
  a?: string;
  b?: string;
}

export interface ICellChange {
  /** The cell's index in each executed notebook (null on the side without it). */
  a: number | null;
  b: number | null;
  change: 'added' | 'removed' | 'changed';
  source_changed: boolean;
  outputs: IOutputChange[];
}

export interface ITaskDiff {
  key: string;
  changed: boolean;
  a: IUnitSide | null;
  b: IUnitSide | null;
  parameters: IChange[];
  values: IChange[];
  output: { a: unknown; b: unknown } | null;
  cells: ICellChange[] | null;
  note: string | null;
}

export interface IRunDiff {
  a: IRunSide;
  b: IRunSide;
  parameters: IChange[];
  tasks: ITaskDiff[];
}

/** A side of a change as a cell reads it: the value as JSON, or `not set`. */
export function sideText(change: IChange, side: 'a' | 'b', max = 80): string {
  return side in change ? short(change[side], max) : 'not set';
}

/** B's duration against A's (`+1.5 s`, `−200 ms`… as secondsText reads), '' without both. */
export function durationDelta(a: number | null | undefined, b: number | null | undefined): string {
  if (a === null || a === undefined || b === null || b === undefined) {
    return '';
  }
  const delta = Math.round((b - a) * 10) / 10;
  if (delta === 0) {
    return '±0 s';
  }
  return `${delta > 0 ? '+' : '−'}${secondsText(Math.abs(delta))}`;
}

/** A task's state in both runs: `failed → success`, `success` when the same, `—` for none. */
export function statesText(task: ITaskDiff): string {
  const a = task.a ? stateLabel(task.a.state) : '—';
  const b = task.b ? stateLabel(task.b.state) : '—';
  return a === b ? a : `${a} → ${b}`;
}

/** What changed in a task, in a few words (`state, 2 values, 1 cell`); '' for nothing. */
export function taskSummary(task: ITaskDiff): string {
  if (!task.a) {
    return 'only in B';
  }
  if (!task.b) {
    return 'only in A';
  }
  const parts: string[] = [];
  if (task.a.state !== task.b.state) {
    parts.push('state');
  }
  const count = (n: number, word: string) => (n ? [`${n} ${word}${n > 1 ? 's' : ''}`] : []);
  parts.push(...count(task.parameters.length, 'parameter'));
  parts.push(...count(task.values.length, 'value'));
  if (task.output) {
    parts.push('output');
  }
  parts.push(...count(task.cells?.length ?? 0, 'cell'));
  if (!parts.length && task.changed && task.note) {
    parts.push('see note');
  }
  return parts.join(', ');
}

/** Which cell: `cell 3`, `cell 3 → 4` when it moved, `cell 5 (only in B)`. */
export function cellLabel(cell: ICellChange): string {
  if (cell.a === null) {
    return `cell ${cell.b} (only in B)`;
  }
  if (cell.b === null) {
    return `cell ${cell.a} (only in A)`;
  }
  return cell.a === cell.b ? `cell ${cell.a}` : `cell ${cell.a} → ${cell.b}`;
}

export function isImage(type: string): boolean {
  return type.startsWith('image/');
}

/** An output change in words: `image/png changed`, `stdout added`, `error removed`. */
export function outputLabel(output: IOutputChange): string {
  return `${output.type} ${output.change}`;
}

/** The two runs' counts: tasks that changed and those that did not. */
export function counts(diff: IRunDiff): { changed: number; same: number } {
  const changed = diff.tasks.filter(t => t.changed).length;
  return { changed, same: diff.tasks.length - changed };
}

export type LineOp = { op: ' ' | '-' | '+'; text: string };

/** Lines compared beyond this many on a side are shown as all removed, then all added. */
const MAX_LINES = 400;

/**
 * Two texts as their lines kept (` `), removed from A (`-`) and added in B (`+`), the
 * longest common run of lines kept (a plain LCS). Long texts are not aligned.
 */
export function lineDiff(a: string, b: string): LineOp[] {
  const x = a.split('\n');
  const y = b.split('\n');
  if (x.length > MAX_LINES || y.length > MAX_LINES) {
    return [...x.map(text => ({ op: '-' as const, text })), ...y.map(text => ({ op: '+' as const, text }))];
  }
  // common[i][j]: the length of the longest common subsequence of x[i:] and y[j:].
  const common = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) {
      common[i][j] = x[i] === y[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const out: LineOp[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i] });
      i++;
      j++;
    } else if (common[i + 1][j] >= common[i][j + 1]) {
      out.push({ op: '-', text: x[i++] });
    } else {
      out.push({ op: '+', text: y[j++] });
    }
  }
  while (i < x.length) {
    out.push({ op: '-', text: x[i++] });
  }
  while (j < y.length) {
    out.push({ op: '+', text: y[j++] });
  }
  return out;
}

/** A text output's lines: all added or all removed, or, changed, the lines that differ. */
export function outputLines(output: IOutputChange): LineOp[] {
  // A stream's last newline ends its last line; it is no empty line of its own.
  const trim = (text: string | undefined) => (text ?? '').replace(/\n$/, '');
  if (output.change === 'added') {
    return trim(output.b).split('\n').map(text => ({ op: '+', text }));
  }
  if (output.change === 'removed') {
    return trim(output.a).split('\n').map(text => ({ op: '-', text }));
  }
  return lineDiff(trim(output.a), trim(output.b));
}
