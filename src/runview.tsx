/**
 * The run view: a run's DAG with each task's state, a Gantt timeline of its attempts, the
 * selected task's attempts, values and errors, charts of the workflow's glued numbers
 * across runs, and buttons to cancel, repair, compare with another run or read the report.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import React, { useCallback, useEffect, useState } from 'react';

import { FINISHED, IAttempt, IRun, ITask, IUnit, api } from './api';
import { chooseRunToCompare } from './compareview';
import { NODE_H, NODE_W, edgePath, layout } from './dag';
import { attemptTitle } from './drive';
import { duration, ranOn, secondsText, short, stateClass, stateColour, stateLabel, when } from './format';
import { Notify, act as perform, changed, feed, useClock, useReload } from './live';
import { repairWithParameters } from './paramsdialog';
import { settings } from './settings';
import { IReportTarget } from './reports';
import { tickLabel, timeline } from './timeline';
import { ValuesOverTime } from './valueschart';

export interface IRunViewProps {
  id: number;
  /** Open an attempt's executed notebook or log, titled `title`. */
  openArtifact: (path: string, title: string) => void;
  openRun: (id: number) => void;
  /** Open the comparison of two runs (the older is A). */
  openCompare: (a: number, b: number) => void;
  /** Open a run's or an attempt's HTML report. */
  openReport: (target: IReportTarget) => void;
  notify: Notify;
}

/** States drawn as a filled box in the DAG (the others only outline theirs). */
const SOLID = new Set([
  'success',
  'success_with_failures',
  'failed',
  'timed_out',
  'running',
  'waiting_for_retry',
  'upstream_failed',
  'canceled'
]);

/** Task states after which repair has something to rerun. */
const REPAIRABLE = new Set(['failed', 'timed_out', 'canceled', 'upstream_failed', 'upstream_canceled']);

function iterationsDone(task: ITask): string {
  const its = task.iterations ?? [];
  if (!its.length) {
    return '';
  }
  const done = its.filter(i => FINISHED.has(i.state) || i.state === 'excluded').length;
  return ` · ${done}/${its.length}`;
}

/** The second line of a DAG node, short enough to fit its box. */
function nodeLine(task: ITask): string {
  const ran = task.attempts.length > 0 || (task.iterations ?? []).length > 0;
  const parts = [task.kind, stateLabel(task.state) + iterationsDone(task)];
  if (ran && task.start_time) {
    parts.push(duration(task.start_time, task.end_time));
  }
  const line = parts.join(' · ');
  return line.length > 30 ? `${line.slice(0, 29)}…` : line;
}

/** Run views drawn so far: each SVG names its arrowhead marker after its own number. */
let drawn = 0;

function Dag(props: { run: IRun; selected: string | null; select: (key: string) => void }) {
  const { run } = props;
  // Marker ids are global to the page: with one id for all, every view's edges would use the
  // first view's marker, which is not drawn while that view's tab is hidden.
  const [marker] = useState(() => `nbflow-arrow-${++drawn}`);
  const placed = layout(run.tasks);
  const byKey = new Map(run.tasks.map(t => [t.key, t]));
  return (
    <svg
      className="nbflow-dag"
      style={{ maxWidth: `${placed.width}px` }}
      viewBox={`0 0 ${placed.width} ${placed.height}`}
      role="img"
      aria-label={`DAG of run ${run.id}`}
    >
      <defs>
        <marker id={marker} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M 0 0 L 10 5 L 0 10 z" className="nbflow-dag-arrow" />
        </marker>
      </defs>
      {placed.edges.map(e => {
        const [x2, y2] = e.points[e.points.length - 1];
        return (
          <g key={`${e.from}->${e.to}`} className="nbflow-dag-edge" data-from={e.from} data-to={e.to}>
            <path d={edgePath(e.points)} markerEnd={`url(#${marker})`} />
            {e.outcome !== null && e.outcome !== undefined && (
              <text x={x2 - 8} y={y2 - 6} textAnchor="end" className="nbflow-dag-outcome">
                {String(e.outcome)}
              </text>
            )}
          </g>
        );
      })}
      {[...placed.nodes.values()].map(n => {
        const task = byKey.get(n.key)!;
        return (
          <g
            key={n.key}
            className={[
              'nbflow-dag-node',
              stateClass(task.state),
              SOLID.has(task.state) ? 'nbflow-solid' : '',
              props.selected === n.key ? 'nbflow-selected' : ''
            ].join(' ')}
            data-task={n.key}
            data-state={task.state}
            transform={`translate(${n.x}, ${n.y})`}
            onClick={() => props.select(n.key)}
          >
            <title>{`${n.key} (${task.kind}): ${stateLabel(task.state)}`}</title>
            <rect width={NODE_W} height={NODE_H} rx={6} />
            <text x={10} y={21} className="nbflow-dag-key">
              {n.key.length > 22 ? `${n.key.slice(0, 21)}…` : n.key}
            </text>
            <text x={10} y={40} className="nbflow-dag-sub">
              {nodeLine(task)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

const GANTT_LABEL = 160;
const GANTT_W = 560;
const GANTT_ROW = 22;
const GANTT_TOP = 18;

/** The run's attempts on its time axis: a row per task (or iteration), a bar per attempt. */
function Gantt(props: { run: IRun; selected: string | null; select: (key: string) => void }) {
  const t = timeline(props.run);
  if (!t.rows.length) {
    return null;
  }
  const span = t.end - t.start;
  const width = GANTT_LABEL + GANTT_W + 16;
  const height = GANTT_TOP + t.rows.length * GANTT_ROW + 4;
  return (
    <svg
      className="nbflow-gantt"
      style={{ maxWidth: `${width}px` }}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`Timeline of run ${props.run.id}`}
    >
      {t.ticks.map(tick => {
        const x = GANTT_LABEL + (tick / span) * GANTT_W;
        return (
          <g key={tick} className="nbflow-gantt-tick">
            <line x1={x} x2={x} y1={GANTT_TOP - 4} y2={height} />
            <text x={x} y={GANTT_TOP - 7} textAnchor="middle">
              {tickLabel(tick, t.ticks[1] ?? span)}
            </text>
          </g>
        );
      })}
      {t.rows.map((row, i) => {
        const y = GANTT_TOP + i * GANTT_ROW;
        const key = row.label.replace(/\[\d+\]$/, '');
        return (
          <g
            key={row.label}
            className={`nbflow-gantt-row ${props.selected === key ? 'nbflow-selected' : ''}`}
            data-unit={row.label}
            onClick={() => props.select(key)}
          >
            <rect className="nbflow-gantt-hit" x={0} y={y} width={width} height={GANTT_ROW} />
            <text x={4} y={y + GANTT_ROW / 2 + 4} className="nbflow-gantt-label">
              {row.label.length > 24 ? `${row.label.slice(0, 23)}…` : row.label}
            </text>
            {row.bars.map(b => (
              <rect
                key={b.attempt}
                className={`nbflow-gantt-bar ${stateColour(b.state)}`}
                data-attempt={b.attempt}
                data-state={b.state}
                x={GANTT_LABEL + b.from * GANTT_W}
                y={y + 3}
                width={Math.max(2, (b.to - b.from) * GANTT_W)}
                height={GANTT_ROW - 6}
                rx={3}
              >
                <title>{`${row.label} · attempt ${b.attempt}: ${stateLabel(b.state)}, ${secondsText((b.end - b.start) / 1000)}`}</title>
              </rect>
            ))}
          </g>
        );
      })}
    </svg>
  );
}

function Values(props: { values: Record<string, unknown> }) {
  const entries = Object.entries(props.values ?? {});
  if (!entries.length) {
    return null;
  }
  return (
    <table className="nbflow-values">
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th>{k}</th>
            <td title={JSON.stringify(v)}>{short(v, 80)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** `openArtifact` gets the attempt's path and its unit's label (the task key, `KEY[i]`). */
function Attempts(props: {
  unit: IUnit;
  label: string;
  openArtifact: (path: string, unit: string) => void;
  openReport: (unit: string, attempt: number) => void;
}) {
  const { unit } = props;
  if (!unit.attempts.length) {
    return <p className="nbflow-muted">No attempt{unit.message ? `: ${unit.message}` : ''}.</p>;
  }
  return (
    <table className="nbflow-attempts">
      <thead>
        <tr>
          <th>Attempt</th>
          <th>State</th>
          <th>Started</th>
          <th>Duration</th>
          <th>Ran on</th>
          <th>Executed copy</th>
        </tr>
      </thead>
      <tbody>
        {unit.attempts.map((a: IAttempt) => (
          <React.Fragment key={a.number}>
            <tr data-attempt={a.number}>
              <td>{a.number}</td>
              <td>
                <span className={stateClass(a.state)}>{stateLabel(a.state)}</span>
              </td>
              <td>{when(a.start_time)}</td>
              <td>{duration(a.start_time, a.end_time)}</td>
              <td className="nbflow-ran-on">{ranOn(a.executor)}</td>
              <td>
                {a.artifact ? (
                  <button
                    className="nbflow-link nbflow-open-attempt"
                    data-label={props.label}
                    data-attempt={a.number}
                    onClick={() => props.openArtifact(a.artifact!, props.label)}
                    title={a.artifact}
                  >
                    {a.artifact.endsWith('.ipynb') ? 'Open notebook' : 'Open log'}
                  </button>
                ) : (
                  <span className="nbflow-muted">none</span>
                )}
                {a.artifact?.endsWith('.ipynb') && (
                  <button
                    className="nbflow-link nbflow-open-report"
                    data-label={props.label}
                    data-attempt={a.number}
                    onClick={() => props.openReport(props.label, a.number)}
                    title="This attempt's executed notebook as an HTML report"
                  >
                    Report
                  </button>
                )}
              </td>
            </tr>
            {a.error && (
              <tr className="nbflow-attempt-error">
                <td />
                <td colSpan={5}>
                  <code>
                    {a.error.ename}: {a.error.evalue}
                  </code>
                  {a.error.cell_index !== null && <span className="nbflow-muted"> (cell {a.error.cell_index})</span>}
                </td>
              </tr>
            )}
          </React.Fragment>
        ))}
      </tbody>
    </table>
  );
}

/** The child run a `workflow` task started, from its output. */
function childRun(task: ITask): number | null {
  const output = task.output as { run_id?: unknown } | null;
  return task.kind === 'workflow' && typeof output?.run_id === 'number' ? output.run_id : null;
}

function TaskDetails(props: {
  run: IRun;
  task: ITask;
  openArtifact: (path: string, unit: string) => void;
  openReport: (unit: string, attempt: number) => void;
  openRun: (id: number) => void;
  rerun: (key: string) => void;
}) {
  const { task, run } = props;
  const child = childRun(task);
  return (
    <div className="nbflow-task-details" data-task={task.key}>
      <h3>
        {task.key} <span className="nbflow-muted">({task.kind})</span>{' '}
        <span className={stateClass(task.state)}>{stateLabel(task.state)}</span>
        {FINISHED.has(run.state) && task.kind !== 'condition' && (
          <button className="jp-mod-styled nbflow-small nbflow-rerun" onClick={() => props.rerun(task.key)}>
            Rerun from here
          </button>
        )}
      </h3>
      <p className="nbflow-muted">
        {task.start_time && `${when(task.start_time)} · ${duration(task.start_time, task.end_time)}`}
        {task.depends_on.length > 0 && ` · after ${task.depends_on.map(e => e.task).join(', ')}`}
      </p>
      {task.message && <p className="nbflow-message">{task.message}</p>}
      {child !== null && (
        <p>
          <button className="nbflow-link nbflow-open-child" onClick={() => props.openRun(child)}>
            Open child run #{child}
          </button>
        </p>
      )}
      {task.kind === 'condition' && task.outcome !== null && (
        <p>
          Outcome: <code>{String(task.outcome)}</code>
        </p>
      )}
      <Values values={task.values} />
      {task.output !== null && task.output !== undefined && (
        <pre className="nbflow-output">{JSON.stringify(task.output, null, 2).slice(0, 4000)}</pre>
      )}
      {task.iterations && task.iterations.length > 0 ? (
        task.iterations.map(it => (
          <div key={it.index} className="nbflow-iteration">
            <h4>
              {task.key}[{it.index}] <span className="nbflow-muted">{short(it.input, 40)}</span>{' '}
              <span className={stateClass(it.state)}>{stateLabel(it.state)}</span>
            </h4>
            <Values values={it.values} />
            <Attempts
              unit={it}
              label={`${task.key}[${it.index}]`}
              openArtifact={props.openArtifact}
              openReport={props.openReport}
            />
          </div>
        ))
      ) : (
        task.kind !== 'condition' && (
          <Attempts unit={task} label={task.key} openArtifact={props.openArtifact} openReport={props.openReport} />
        )
      )}
    </div>
  );
}

function RunPage(props: IRunViewProps): JSX.Element {
  const [run, setRun] = useState<IRun | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const active = run !== null && !FINISHED.has(run.state);
  // Fetched once, and again after a reconnect (what changed meanwhile was not pushed) or an
  // action here; between those the feed pushes each change of this run.
  const load = useCallback(async () => {
    try {
      setRun(await api.run(props.id));
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, [props.id]);
  useReload(load, changed, feed.opened);
  useEffect(() => {
    const pushed = (_: unknown, fresh: IRun) => {
      if (fresh.id === props.id) {
        setRun(fresh);
        setError(null);
      }
    };
    feed.runChanged.connect(pushed);
    return () => void feed.runChanged.disconnect(pushed);
  }, [props.id]);
  useClock(active, settings.clockTick);

  if (!run) {
    return <div className="nbflow-run-view">{error ? <div className="nbflow-error">{error}</div> : 'Loading…'}</div>;
  }
  const focus =
    run.tasks.find(t => t.key === selected) ??
    run.tasks.find(t => REPAIRABLE.has(t.state)) ??
    run.tasks.find(t => t.state === 'running') ??
    run.tasks[0];
  const repairable = FINISHED.has(run.state) && run.tasks.some(t => REPAIRABLE.has(t.state));

  const act = (what: () => Promise<unknown>, done: string) => perform(what, done, props.notify);
  const repair = async (tasks: string[]) => {
    // The dialog answers a refused repair itself; it closes once the repair has started.
    if (await repairWithParameters(run, tasks)) {
      props.notify(`Repair of run #${run.id} started`, 'success');
      changed.emit();
    }
  };

  const compare = async () => {
    try {
      const other = await chooseRunToCompare(run, text => props.notify(text, 'info'));
      if (other !== null) {
        props.openCompare(Math.min(other, run.id), Math.max(other, run.id));
      }
    } catch (e) {
      props.notify((e as Error).message, 'error');
    }
  };

  return (
    <div className="nbflow-run-view" data-run={run.id} data-state={run.state}>
      <header className="nbflow-run-header">
        <h2>
          Run #{run.id} · {run.workflow}{' '}
          <span className={`${stateClass(run.state)} nbflow-run-state`}>{stateLabel(run.state)}</span>
        </h2>
        <span className="nbflow-spacer" />
        <button
          className="jp-mod-styled nbflow-cancel"
          disabled={!active}
          onClick={() => void act(() => api.cancel(run.id), `Cancel of run #${run.id} requested`)}
        >
          Cancel run
        </button>
        <button className="jp-mod-styled jp-mod-accept nbflow-repair" disabled={!repairable} onClick={() => void repair([])}>
          Repair run
        </button>
        <button
          className="jp-mod-styled nbflow-compare"
          title={`Compare this run with another run of ${run.workflow}`}
          onClick={() => void compare()}
        >
          Compare with…
        </button>
        <button
          className="jp-mod-styled nbflow-report"
          title="The whole run as one HTML page: its graph, timeline, values and each notebook"
          onClick={() => props.openReport({ run: run.id })}
        >
          Report
        </button>
      </header>
      <p className="nbflow-muted">
        {run.trigger.type} run of <code>{run.workflow_path}</code>
        {run.start_time && ` · started ${when(run.start_time)} · ${duration(run.start_time, run.end_time)}`}
        {run.repair_count > 0 && ` · repaired ${run.repair_count}×`}
        {run.parent_run_id && (
          <>
            {' · child of '}
            <button className="nbflow-link nbflow-open-parent" onClick={() => props.openRun(run.parent_run_id!)}>
              run #{run.parent_run_id}
            </button>
          </>
        )}
      </p>
      {run.message && <p className="nbflow-message">{run.message}</p>}
      {error && <div className="nbflow-error">{error}</div>}
      {Object.keys(run.parameters).length > 0 && (
        <details className="nbflow-run-params">
          <summary>Parameters</summary>
          <Values values={run.parameters} />
        </details>
      )}
      <div className="nbflow-dag-scroll">
        <Dag run={run} selected={focus?.key ?? null} select={setSelected} />
      </div>
      <details className="nbflow-timeline" open>
        <summary>Timeline</summary>
        <div className="nbflow-timeline-scroll">
          <Gantt run={run} selected={focus?.key ?? null} select={setSelected} />
        </div>
      </details>
      {focus && (
        <TaskDetails
          run={run}
          task={focus}
          openArtifact={(path, unit) => props.openArtifact(path, attemptTitle(run.id, unit))}
          openReport={(unit, attempt) => props.openReport({ run: run.id, task: unit, attempt })}
          openRun={props.openRun}
          rerun={key => void repair([key])}
        />
      )}
      <ValuesOverTime workflow={run.workflow} current={run.id} openRun={props.openRun} />
    </div>
  );
}

export class RunView extends ReactWidget {
  constructor(private props: IRunViewProps) {
    super();
    this.addClass('nbflow-run-widget');
  }

  render(): JSX.Element {
    return <RunPage {...this.props} />;
  }
}
