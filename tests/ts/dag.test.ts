import { describe, expect, it } from 'vitest';

import { INodeIn, NODE_H, NODE_W, edgePath, layout } from '../../src/dag';

const task = (key: string, ...ups: string[]): INodeIn => ({
  key,
  depends_on: ups.map(u => ({ task: u, outcome: null }))
});

/** Every point of an edge's polyline strictly inside a box other than its ends. */
function throughBoxes(tasks: INodeIn[]): string[] {
  const placed = layout(tasks);
  const hits: string[] = [];
  for (const e of placed.edges) {
    for (const [x, y] of e.points) {
      for (const n of placed.nodes.values()) {
        if (n.key !== e.from && n.key !== e.to && x > n.x && x < n.x + NODE_W && y > n.y && y < n.y + NODE_H) {
          hits.push(`${e.from}->${e.to} through ${n.key}`);
        }
      }
    }
  }
  return hits;
}

describe('layout', () => {
  it('puts each task in the column of its longest path from a root', () => {
    const placed = layout([task('a'), task('b', 'a'), task('c', 'b'), task('d', 'a', 'c')]);
    const column = (k: string) => placed.nodes.get(k)!.column;
    expect(['a', 'b', 'c', 'd'].map(column)).toEqual([0, 1, 2, 3]);
    // Columns go left to right without overlapping.
    expect(placed.nodes.get('b')!.x).toBeGreaterThanOrEqual(placed.nodes.get('a')!.x + NODE_W);
    expect(placed.width).toBeGreaterThanOrEqual(placed.nodes.get('d')!.x + NODE_W);
  });

  it('routes an edge that skips columns through a slot of its own in each', () => {
    const tasks = [
      task('ingest'),
      task('clean', 'ingest'),
      task('by_region', 'clean'),
      task('load', 'clean'),
      task('rank', 'load'),
      task('report', 'by_region', 'rank', 'ingest')
    ];
    const placed = layout(tasks);
    const skip = placed.edges.find(e => e.from === 'ingest' && e.to === 'report')!;
    // Out of ingest, in and out of columns 1, 2 and 3, into report.
    expect(skip.points).toHaveLength(2 + 2 * 3);
    // Inside a column it runs straight.
    for (let i = 1; i < skip.points.length - 1; i += 2) {
      expect(skip.points[i][1]).toBe(skip.points[i + 1][1]);
    }
    expect(throughBoxes(tasks)).toEqual([]);
  });

  it('draws nothing for an edge from an unknown task and survives a cycle', () => {
    const placed = layout([task('a', 'ghost'), task('b', 'c'), task('c', 'b')]);
    expect(placed.edges.map(e => `${e.from}->${e.to}`).sort()).toEqual(['b->c', 'c->b']);
    expect(placed.nodes.size).toBe(3);
  });

  it('lays out no task as an empty drawing', () => {
    const placed = layout([]);
    expect(placed.nodes.size).toBe(0);
    expect(placed.edges).toEqual([]);
  });
});

describe('edgePath', () => {
  it('curves across gaps and runs straight inside columns', () => {
    expect(edgePath([[0, 0], [10, 20]])).toBe('M 0 0 C 5 0, 5 20, 10 20');
    expect(edgePath([[0, 0], [10, 5], [20, 5], [30, 0]])).toBe(
      'M 0 0 C 5 0, 5 5, 10 5 L 20 5 C 25 5, 25 0, 30 0'
    );
  });
});
