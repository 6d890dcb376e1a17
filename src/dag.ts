/**
 * DAG layout: tasks in columns by their longest path from a root, left to right, and
 * edges routed around the boxes; no I/O.
 *
 * An edge that skips columns gets a waypoint in every column it crosses (a "dummy node"
 * of the layered layout of Sugiyama et al.): a thin slot of its own between the boxes of
 * that column, ordered with them. So no edge is ever drawn through a task's box: between
 * two columns there are no boxes, and inside a column an edge keeps to its own slot.
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
  /**
   * Where the edge goes: from the right side of `from`, through the slot it has in each
   * column it crosses (entering and leaving it at the same height), to the left side of
   * `to`. Between two columns it may bend; inside a column it runs straight.
   */
  points: [number, number][];
}

export interface ILayout {
  nodes: Map<string, IPlaced>;
  edges: IEdgeOut[];
  width: number;
  height: number;
}

export const NODE_W = 180;
export const NODE_H = 54;
/** The height of an edge's slot in a column it crosses. */
const SLOT_H = 8;
const GAP_X = 64;
const GAP_Y = 18;
const MARGIN = 12;

/** A box or an edge's slot in a column. */
interface IItem {
  id: string;
  task: string | null; // null for an edge's slot
  ups: string[];
  downs: string[];
}

function columnsOf(tasks: INodeIn[]): Map<string, number> {
  const keys = new Set(tasks.map(t => t.key));
  const byKey = new Map(tasks.map(t => [t.key, t]));
  const column = new Map<string, number>();
  const visiting = new Set<string>();
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
  return column;
}

/** Reorder each column by the mean position of its neighbours in the column before it. */
function sweep(columns: IItem[][], down: boolean): void {
  const position = new Map<string, number>();
  columns.forEach(col => col.forEach((item, i) => position.set(item.id, i)));
  const order = down ? columns.map((_, c) => c) : columns.map((_, c) => columns.length - 1 - c);
  for (const c of order.slice(1)) {
    const mean = (item: IItem, fallback: number) => {
      const near = (down ? item.ups : item.downs).filter(id => position.has(id));
      return near.length ? near.reduce((s, id) => s + position.get(id)!, 0) / near.length : fallback;
    };
    const keyed = columns[c].map((item, i) => ({ item, at: mean(item, i) }));
    keyed.sort((a, b) => a.at - b.at); // stable: ties keep their order
    columns[c] = keyed.map(k => k.item);
    columns[c].forEach((item, i) => position.set(item.id, i));
  }
}

export function layout(tasks: INodeIn[]): ILayout {
  const column = columnsOf(tasks);
  const items = new Map<string, IItem>();
  const columns: IItem[][] = [];
  const add = (item: IItem, c: number) => {
    items.set(item.id, item);
    (columns[c] = columns[c] ?? []).push(item);
  };
  for (const t of tasks) {
    add({ id: `task:${t.key}`, task: t.key, ups: [], downs: [] }, column.get(t.key)!);
  }
  // Each edge as a chain of items, one per column from its start to its end.
  const chains: { from: string; to: string; outcome: unknown; ids: string[] }[] = [];
  for (const t of tasks) {
    for (const e of t.depends_on) {
      const start = column.get(e.task);
      if (start === undefined) {
        continue;
      }
      const end = column.get(t.key)!;
      const ids = [`task:${e.task}`];
      for (let c = start + 1; c < end; c++) {
        const id = `edge:${e.task}->${t.key}@${c}`;
        add({ id, task: null, ups: [], downs: [] }, c);
        ids.push(id);
      }
      ids.push(`task:${t.key}`);
      for (let i = 1; i < ids.length; i++) {
        items.get(ids[i])!.ups.push(ids[i - 1]);
        items.get(ids[i - 1])!.downs.push(ids[i]);
      }
      chains.push({ from: e.task, to: t.key, outcome: e.outcome, ids });
    }
  }
  // Fewer crossings: order by neighbours downwards, upwards, and downwards again.
  sweep(columns, true);
  sweep(columns, false);
  sweep(columns, true);

  const extent = (col: IItem[]) =>
    col.reduce((s, item) => s + (item.task === null ? SLOT_H : NODE_H), 0) +
    Math.max(0, col.length - 1) * GAP_Y;
  const tallest = Math.max(NODE_H, ...columns.map(extent));
  const height = MARGIN * 2 + tallest;
  const nodes = new Map<string, IPlaced>();
  const left = new Map<string, number>(); // item id → the x of its column
  const middle = new Map<string, number>(); // item id → the height its edges meet it at
  columns.forEach((col, c) => {
    const x = MARGIN + c * (NODE_W + GAP_X);
    col.forEach(item => left.set(item.id, x));
    let y = MARGIN + (tallest - extent(col)) / 2;
    for (const item of col) {
      const h = item.task === null ? SLOT_H : NODE_H;
      if (item.task !== null) {
        nodes.set(item.task, { key: item.task, column: c, x, y });
      }
      middle.set(item.id, y + h / 2);
      y += h + GAP_Y;
    }
  });
  const columnX = (id: string) => left.get(id)!;
  const edges: IEdgeOut[] = chains.map(chain => {
    const { ids } = chain;
    const points: [number, number][] = [[columnX(ids[0]) + NODE_W, middle.get(ids[0])!]];
    for (const id of ids.slice(1, -1)) {
      points.push([columnX(id), middle.get(id)!], [columnX(id) + NODE_W, middle.get(id)!]);
    }
    const last = ids[ids.length - 1];
    points.push([columnX(last), middle.get(last)!]);
    return { from: chain.from, to: chain.to, outcome: chain.outcome, points };
  });
  const width = MARGIN * 2 + columns.length * NODE_W + Math.max(0, columns.length - 1) * GAP_X;
  return { nodes, edges, width, height };
}

/**
 * An SVG path through an edge's points: an S-curve across each gap between columns
 * (it stays inside the gap), a straight line through each column the edge crosses.
 */
export function edgePath(points: [number, number][]): string {
  const [x0, y0] = points[0];
  let d = `M ${x0} ${y0}`;
  for (let i = 1; i < points.length; i++) {
    const [xa, ya] = points[i - 1];
    const [xb, yb] = points[i];
    if (i % 2 === 1) {
      const mid = (xa + xb) / 2;
      d += ` C ${mid} ${ya}, ${mid} ${yb}, ${xb} ${yb}`;
    } else {
      d += ` L ${xb} ${yb}`;
    }
  }
  return d;
}
