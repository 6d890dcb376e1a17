/**
 * DAG layout: tasks in columns by their longest path from a root, left to right; no I/O.
 */

export interface INodeIn {
  key: string;
  depends_on: { task: string; outcome: unknown }[];
}

export interface IPlaced {
  key: string;
  x: number;
  y: number;
  column: number;
}

export interface IEdgeOut {
  from: string;
  to: string;
  outcome: unknown;
  points: [number, number, number, number];
}

export interface ILayout {
  nodes: Map<string, IPlaced>;
  edges: IEdgeOut[];
  width: number;
  height: number;
}

export const NODE_W = 180;
export const NODE_H = 54;
const GAP_X = 64;
const GAP_Y = 18;
const MARGIN = 12;

export function layout(tasks: INodeIn[]): ILayout {
  const keys = new Set(tasks.map(t => t.key));
  const column = new Map<string, number>();
  const visiting = new Set<string>();
  const byKey = new Map(tasks.map(t => [t.key, t]));

  // Longest path from a root; a cycle (refused by `validate`, so never expected) is cut.
  const depth = (key: string): number => {
    const known = column.get(key);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(key)) {
      return 0;
    }
    visiting.add(key);
    const ups = (byKey.get(key)?.depends_on ?? []).filter(e => keys.has(e.task));
    const d = ups.length ? Math.max(...ups.map(e => depth(e.task) + 1)) : 0;
    visiting.delete(key);
    column.set(key, d);
    return d;
  };
  tasks.forEach(t => depth(t.key));

  const columns: string[][] = [];
  for (const t of tasks) {
    const c = column.get(t.key)!;
    (columns[c] = columns[c] ?? []).push(t.key);
  }
  // One pass of ordering by the mean row of upstream tasks, to untangle edges.
  const row = new Map<string, number>();
  columns.forEach((keysIn, c) => {
    if (c > 0) {
      const mean = (key: string) => {
        const ups = byKey.get(key)!.depends_on.filter(e => row.has(e.task));
        return ups.length ? ups.reduce((s, e) => s + row.get(e.task)!, 0) / ups.length : 0;
      };
      keysIn.sort((a, b) => mean(a) - mean(b));
    }
    keysIn.forEach((key, i) => row.set(key, i));
  });

  const tallest = Math.max(1, ...columns.map(c => c.length));
  const height = MARGIN * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y;
  const nodes = new Map<string, IPlaced>();
  columns.forEach((keysIn, c) => {
    const own = keysIn.length * NODE_H + (keysIn.length - 1) * GAP_Y;
    const top = (height - own) / 2;
    keysIn.forEach((key, i) => {
      nodes.set(key, {
        key,
        column: c,
        x: MARGIN + c * (NODE_W + GAP_X),
        y: top + i * (NODE_H + GAP_Y)
      });
    });
  });
  const edges: IEdgeOut[] = [];
  for (const t of tasks) {
    for (const e of t.depends_on) {
      const a = nodes.get(e.task);
      const b = nodes.get(t.key);
      if (a && b) {
        edges.push({
          from: e.task,
          to: t.key,
          outcome: e.outcome,
          points: [a.x + NODE_W, a.y + NODE_H / 2, b.x, b.y + NODE_H / 2]
        });
      }
    }
  }
  const width = MARGIN * 2 + columns.length * NODE_W + Math.max(0, columns.length - 1) * GAP_X;
  return { nodes, edges, width, height };
}
