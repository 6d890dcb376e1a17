/**
 * A run's Gantt timeline: one row per task (and per for_each iteration), one bar per
 * attempt, on the run's own time axis; no I/O.
 */

/** What the timeline reads of a run (a run document, as GET runs/ID gives it). */
export interface ITimelineUnit {
  state: string;
  start_time: string | null;
  end_time: string | null;
  attempts: { number: number; state: string; start_time: string | null; end_time: string | null }[];
}

export interface ITimelineRun {
  start_time: string | null;
  end_time: string | null;
  tasks: (ITimelineUnit & { key: string; iterations?: (ITimelineUnit & { index: number })[] })[];
}

export interface IBar {
  attempt: number;
  state: string;
  /** Where the bar starts and ends, as fractions of the axis (0 to 1). */
  from: number;
  to: number;
  /** Its start and end in milliseconds since the epoch (the end is `now` while it runs). */
  start: number;
  end: number;
}

export interface ITimeline {
  /** The axis: the first attempt's start to the last end (or now). */
  start: number;
  end: number;
  rows: { label: string; state: string; bars: IBar[] }[];
  /** Round times along the axis (milliseconds since the start), about `count` of them. */
  ticks: number[];
}

/** Steps a tick may take: 10 ms to 1 day. */
const STEPS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map(
  s => s * 1000
);

/** A tick's label: its time from the start, to the precision its `step` needs. */
export function tickLabel(ms: number, step: number): string {
  if (ms === 0) {
    return '0';
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(step < 100 ? 2 : step < 1000 ? 1 : 0)} s`;
  }
  if (ms < 3_600_000) {
    const m = Math.floor(ms / 60_000);
    const s = Math.round((ms % 60_000) / 1000);
    return s ? `${m} min ${s} s` : `${m} min`;
  }
  const h = Math.floor(ms / 3_600_000);
  const m = Math.round((ms % 3_600_000) / 60_000);
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** About `count` round tick times from 0 to `span` milliseconds. */
export function ticks(span: number, count = 6): number[] {
  const step = STEPS.find(s => span / s <= count) ?? Math.ceil(span / count / 86400000) * 86400000;
  const out: number[] = [];
  for (let i = 0; i * step <= span; i++) {
    out.push(i * step); // a multiple, not a sum: 0.1 s steps add up to 0.30000000000000004
  }
  return out;
}

export function timeline(run: ITimelineRun, now = Date.now(), count = 6): ITimeline {
  const units: { label: string; unit: ITimelineUnit }[] = [];
  for (const t of run.tasks) {
    if (t.iterations && t.iterations.length) {
      t.iterations.forEach(it => units.push({ label: `${t.key}[${it.index}]`, unit: it }));
    } else {
      units.push({ label: t.key, unit: t });
    }
  }
  const spans = units.flatMap(({ unit }) =>
    unit.attempts
      .filter(a => a.start_time)
      .map(a => [Date.parse(a.start_time!), a.end_time ? Date.parse(a.end_time) : now])
  );
  const runStart = run.start_time ? Date.parse(run.start_time) : null;
  const start = Math.min(...spans.map(s => s[0]), runStart ?? Infinity);
  const end = Math.max(...spans.map(s => s[1]), run.end_time ? Date.parse(run.end_time) : -Infinity);
  if (!Number.isFinite(start) || !Number.isFinite(end)) {
    return { start: now, end: now, rows: [], ticks: [] };
  }
  const span = Math.max(end - start, 1);
  const rows = units
    .filter(({ unit }) => unit.attempts.some(a => a.start_time))
    .map(({ label, unit }) => ({
      label,
      state: unit.state,
      bars: unit.attempts
        .filter(a => a.start_time)
        .map(a => {
          const s = Date.parse(a.start_time!);
          const e = a.end_time ? Date.parse(a.end_time) : now;
          return { attempt: a.number, state: a.state, start: s, end: e, from: (s - start) / span, to: (e - start) / span };
        })
    }));
  return { start, end: start + span, rows, ticks: ticks(span, count) };
}
