import { describe, expect, it } from 'vitest';

import { matrix } from '../../src/matrix';
import { tickLabel, ticks, timeline } from '../../src/timeline';

const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();

const attempt = (number: number, state: string, start: number, end: number | null) => ({
  number,
  state,
  start_time: at(start),
  end_time: end === null ? null : at(end)
});

describe('matrix', () => {
  const runs = [
    {
      id: 7,
      state: 'running',
      start_time: at(100),
      end_time: null,
      tasks: [
        { key: 'a', state: 'success', start_time: at(100), end_time: at(104), attempts: [{}] },
        { key: 'new', state: 'running', start_time: at(104), end_time: null, attempts: [{}] }
      ]
    },
    {
      id: 3,
      state: 'failed',
      start_time: at(0),
      end_time: at(20),
      tasks: [
        { key: 'a', state: 'failed', start_time: at(0), end_time: at(20), attempts: [{}, {}] },
        { key: 'old', state: 'upstream_failed', start_time: at(20), end_time: at(20), attempts: [] }
      ]
    }
  ];

  it('puts runs oldest first and tasks in the newest run\'s order', () => {
    const m = matrix(runs, Date.parse(at(110)));
    expect(m.runs.map(r => [r.id, r.state, r.seconds])).toEqual([
      [3, 'failed', 20],
      [7, 'running', 10]
    ]);
    expect(m.rows.map(r => r.key)).toEqual(['a', 'new', 'old']);
    expect(m.longest).toBe(20);
  });

  it('gives each cell its state, duration and attempts; a task a run lacks is empty', () => {
    const m = matrix(runs, Date.parse(at(110)));
    const row = (k: string) => m.rows.find(r => r.key === k)!.cells;
    expect(row('a')).toEqual([
      { state: 'failed', seconds: 20, attempts: 2, iterations: 0 },
      { state: 'success', seconds: 4, attempts: 1, iterations: 0 }
    ]);
    expect(row('new')[0]).toBeNull();
    expect(row('new')[1]!.seconds).toBe(6); // running: up to now
    // Never ran: no duration, though the history gave it times.
    expect(row('old')[0]).toEqual({ state: 'upstream_failed', seconds: null, attempts: 0, iterations: 0 });
  });

  it('has a scale above zero when nothing took time', () => {
    expect(matrix([]).longest).toBeGreaterThan(0);
  });
});

describe('timeline', () => {
  const run = {
    start_time: at(0),
    end_time: null,
    tasks: [
      { key: 'a', state: 'success', start_time: at(0), end_time: at(10), attempts: [attempt(1, 'success', 0, 10)] },
      {
        key: 'b',
        state: 'running',
        start_time: at(10),
        end_time: null,
        attempts: [attempt(1, 'failed', 10, 20), attempt(2, 'running', 30, null)]
      },
      { key: 'c', state: 'pending', start_time: null, end_time: null, attempts: [] },
      {
        key: 'f',
        state: 'success',
        start_time: at(10),
        end_time: at(15),
        attempts: [],
        iterations: [
          { index: 0, state: 'success', start_time: at(10), end_time: at(15), attempts: [attempt(1, 'success', 10, 15)] }
        ]
      }
    ]
  };

  it('puts each attempt on the run\'s axis, a running one up to now', () => {
    const t = timeline(run, Date.parse(at(40)));
    expect(t.end - t.start).toBe(40_000);
    expect(t.rows.map(r => r.label)).toEqual(['a', 'b', 'f[0]']); // c never started
    const b = t.rows[1].bars;
    expect(b.map(x => [x.attempt, x.state, x.from, x.to])).toEqual([
      [1, 'failed', 0.25, 0.5],
      [2, 'running', 0.75, 1]
    ]);
  });

  it('is empty for a run nothing of which started', () => {
    const t = timeline({ start_time: null, end_time: null, tasks: [] }, 5);
    expect(t.rows).toEqual([]);
  });

  it('ticks at round times and labels them to the precision they need', () => {
    expect(ticks(40_000, 6)).toEqual([0, 10_000, 20_000, 30_000, 40_000]);
    expect(ticks(150, 6)).toEqual([0, 50, 100, 150]);
    expect(ticks(300, 6)).toEqual([0, 50, 100, 150, 200, 250, 300]);
    expect(ticks(700, 6)).toEqual([0, 200, 400, 600]);
    expect(tickLabel(0, 100)).toBe('0');
    expect(tickLabel(300, 100)).toBe('0.3 s');
    expect(tickLabel(50, 50)).toBe('0.05 s');
    expect(tickLabel(90_000, 30_000)).toBe('1 min 30 s');
    expect(tickLabel(7_200_000, 3_600_000)).toBe('2 h');
  });
});
