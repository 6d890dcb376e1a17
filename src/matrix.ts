/**
 * The matrix of a workflow's last runs × its tasks (as Databricks' matrix view), laid out
 * for drawing; no I/O.
 */
import { seconds } from './format';

/** What the matrix reads of a run (a run document, as GET runs/ID gives it). */
export interface IMatrixRun {
  id: number;
  state: string;
  start_time: string | null;
  end_time: string | null;
  tasks: {
    key: string;
    state: string;
    start_time: string | null;
    end_time: string | null;
    attempts: unknown[];
    iterations?: unknown[];
  }[];
}

export interface IMatrixCell {
  state: string;
  /** Seconds the task took (so far, while it runs); null if it never ran. */
  seconds: number | null;
  attempts: number;
  iterations: number;
}

export interface IMatrix {
  /** The runs, oldest first (left to right), with their durations. */
  runs: { id: number; state: string; seconds: number | null }[];
  /** One row per task, in the order the newest run lists them (older runs' extra ones last). */
  rows: { key: string; cells: (IMatrixCell | null)[] }[];
  /** The longest run's seconds (above 0): the scale of the duration bars. */
  longest: number;
}

export function matrix(runs: readonly IMatrixRun[], now = Date.now()): IMatrix {
  const ordered = [...runs].sort((a, b) => a.id - b.id);
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const run of [...ordered].reverse()) {
    for (const t of run.tasks) {
      if (!seen.has(t.key)) {
        seen.add(t.key);
        keys.push(t.key);
      }
    }
  }
  const rows = keys.map(key => ({
    key,
    cells: ordered.map(run => {
      const t = run.tasks.find(task => task.key === key);
      // A task that never ran (upstream failed, excluded) has times, but no duration.
      const ran = t && (t.attempts.length > 0 || (t.iterations ?? []).length > 0);
      return t
        ? {
            state: t.state,
            seconds: ran ? seconds(t.start_time, t.end_time, now) : null,
            attempts: t.attempts.length,
            iterations: (t.iterations ?? []).length
          }
        : null;
    })
  }));
  const summary = ordered.map(run => ({
    id: run.id,
    state: run.state,
    seconds: seconds(run.start_time, run.end_time, now)
  }));
  const longest = Math.max(0.001, ...summary.map(r => r.seconds ?? 0));
  return { runs: summary, rows, longest };
}
