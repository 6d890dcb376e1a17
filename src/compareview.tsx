/**
 * The compare view: what differs between two runs of a workflow (GET runs/A/diff/B), the
 * older as A: parameters, each task's state and duration, glued values, and the output
 * cells that changed (text as lines removed and added, images as changed).
 */
import { InputDialog, ReactWidget } from '@jupyterlab/apputils';
import React, { useCallback, useEffect, useState } from 'react';

import { FINISHED, IRun, api } from './api';
import {
  IChange,
  IOutputChange,
  IRunDiff,
  ITaskDiff,
  cellLabel,
  counts,
  durationDelta,
  isImage,
  outputLabel,
  outputLines,
  sideText,
  statesText,
  taskSummary
} from './compare';
import { secondsText, short, stateClass, stateLabel, when } from './format';
import { changed, feed, useReload } from './live';

export interface ICompareViewProps {
  a: number;
  b: number;
  openRun: (id: number) => void;
}

function Changes(props: { changes: IChange[]; className: string; what: string }): JSX.Element | null {
  if (!props.changes.length) {
    return null;
  }
  return (
    <table className={`nbflow-compare-changes ${props.className}`}>
      <thead>
        <tr>
          <th>{props.what}</th>
          <th>A</th>
          <th>B</th>
        </tr>
      </thead>
      <tbody>
        {props.changes.map(c => (
          <tr key={c.name} data-name={c.name}>
            <th>{c.name}</th>
            <td className="nbflow-side-a" title={'a' in c ? JSON.stringify(c.a) : ''}>
              {sideText(c, 'a')}
            </td>
            <td className="nbflow-side-b" title={'b' in c ? JSON.stringify(c.b) : ''}>
              {sideText(c, 'b')}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Output(props: { output: IOutputChange }): JSX.Element {
  const { output } = props;
  if (isImage(output.type)) {
    return (
      <div className="nbflow-compare-output" data-type={output.type} data-change={output.change}>
        <span className="nbflow-badge nbflow-image-change">{outputLabel(output)}</span>
      </div>
    );
  }
  const lines = outputLines(output);
  return (
    <div className="nbflow-compare-output" data-type={output.type} data-change={output.change}>
      <div className="nbflow-muted">{outputLabel(output)}</div>
      <pre className="nbflow-line-diff">
        {lines.map((l, i) => (
          <div key={i} className={l.op === '-' ? 'nbflow-line-removed' : l.op === '+' ? 'nbflow-line-added' : ''}>
            {l.op} {l.text}
          </div>
        ))}
      </pre>
    </div>
  );
}

function TaskChanges(props: { task: ITaskDiff }): JSX.Element {
  const { task } = props;
  return (
    <section className="nbflow-compare-task" data-task={task.key}>
      <h4>
        {task.key} <span className="nbflow-muted">{statesText(task)}</span>
      </h4>
      {task.note && <p className="nbflow-message">{task.note}</p>}
      <Changes changes={task.parameters} className="nbflow-compare-task-params" what="Parameter" />
      <Changes changes={task.values} className="nbflow-compare-values" what="Value" />
      {task.output && (
        <Changes
          changes={[{ name: 'output', a: task.output.a, b: task.output.b }]}
          className="nbflow-compare-task-output"
          what="Output"
        />
      )}
      {(task.cells ?? []).map(cell => (
        <div key={`${cell.a}-${cell.b}`} className="nbflow-compare-cell" data-a={cell.a ?? ''} data-b={cell.b ?? ''}>
          <div className="nbflow-compare-cell-label">
            {cellLabel(cell)}
            {cell.source_changed && <span className="nbflow-badge">code changed</span>}
          </div>
          {cell.outputs.map((o, i) => (
            <Output key={i} output={o} />
          ))}
        </div>
      ))}
    </section>
  );
}

function ComparePage(props: ICompareViewProps): JSX.Element {
  const [diff, setDiff] = useState<IRunDiff | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setDiff(await api.diff(props.a, props.b));
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, [props.a, props.b]);
  useReload(load, changed, feed.opened);
  useEffect(() => {
    // A run still going when compared: compare again once it has ended.
    const pushed = (_: unknown, run: IRun) => {
      if ((run.id === props.a || run.id === props.b) && FINISHED.has(run.state)) {
        void load();
      }
    };
    feed.runChanged.connect(pushed);
    return () => void feed.runChanged.disconnect(pushed);
  }, [load]);

  if (!diff) {
    return <div className="nbflow-compare-view">{error ? <div className="nbflow-error">{error}</div> : 'Comparing…'}</div>;
  }
  const { changed: changedTasks, same } = counts(diff);
  const run = (side: 'a' | 'b') => {
    const r = diff[side];
    return (
      <td className={`nbflow-side-${side}`}>
        <button className="nbflow-link nbflow-compare-open" data-run={r.id} onClick={() => props.openRun(r.id)}>
          #{r.id}
        </button>{' '}
        <span className={stateClass(r.state)}>{stateLabel(r.state)}</span>
        <div className="nbflow-muted">
          {when(r.start_time)}
          {r.duration !== null && ` · ${secondsText(r.duration)}`}
        </div>
      </td>
    );
  };
  return (
    <div className="nbflow-compare-view" data-a={diff.a.id} data-b={diff.b.id}>
      <h2>
        Run #{diff.a.id} → run #{diff.b.id} <span className="nbflow-muted">· {diff.a.workflow}</span>
      </h2>
      {error && <div className="nbflow-error">{error}</div>}
      <table className="nbflow-compare-runs">
        <thead>
          <tr>
            <th />
            <th>A</th>
            <th>B</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <th>Run</th>
            {run('a')}
            {run('b')}
          </tr>
        </tbody>
      </table>
      <h3>Parameters</h3>
      {diff.parameters.length ? (
        <Changes changes={diff.parameters} className="nbflow-compare-params" what="Parameter" />
      ) : (
        <p className="nbflow-muted nbflow-compare-same-params">The same parameters.</p>
      )}
      <h3>
        Tasks{' '}
        <span className="nbflow-muted">
          · {changedTasks} changed, {same} the same (durations always differ, so they never count)
        </span>
      </h3>
      <table className="nbflow-compare-tasks">
        <thead>
          <tr>
            <th>Task</th>
            <th>State</th>
            <th>Duration A</th>
            <th>Duration B</th>
            <th>B − A</th>
            <th>What changed</th>
          </tr>
        </thead>
        <tbody>
          {diff.tasks.map(t => (
            <tr key={t.key} data-task={t.key} data-changed={String(t.changed)} className={t.changed ? 'nbflow-changed' : ''}>
              <th>{t.key}</th>
              <td>{statesText(t)}</td>
              <td>{secondsText(t.a?.duration ?? null)}</td>
              <td>{secondsText(t.b?.duration ?? null)}</td>
              <td className="nbflow-muted">{durationDelta(t.a?.duration, t.b?.duration)}</td>
              <td className="nbflow-compare-summary">{taskSummary(t) || <span className="nbflow-muted">nothing</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {diff.tasks
        .filter(t => t.changed)
        .map(t => (
          <TaskChanges key={t.key} task={t} />
        ))}
    </div>
  );
}

export class CompareView extends ReactWidget {
  constructor(private props: ICompareViewProps) {
    super();
    this.addClass('nbflow-compare-widget');
  }

  render(): JSX.Element {
    return <ComparePage {...this.props} />;
  }
}

/**
 * Ask which run of the same workflow to compare `run` with (the one before it first);
 * resolves with its id, or null when cancelled or there is none.
 */
export async function chooseRunToCompare(run: IRun, notify: (text: string) => void): Promise<number | null> {
  const others = (await api.runs(200, run.workflow)).filter(r => r.id !== run.id);
  if (!others.length) {
    notify(`Run #${run.id} is the only run of ${run.workflow}: there is nothing to compare it with.`);
    return null;
  }
  // Newest first: the run just before this one is the first older one.
  const before = others.find(r => r.id < run.id) ?? others[0];
  const label = (r: IRun) =>
    `#${r.id} · ${stateLabel(r.state)} · ${when(r.start_time ?? r.trigger.time)} · ${r.trigger.type}` +
    (Object.keys(r.parameters).length ? ` · ${short(r.parameters, 60)}` : '');
  const items = others.map(label);
  const answer = await InputDialog.getItem({
    title: `Compare run #${run.id} with…`,
    label: `A run of ${run.workflow} (the older of the two is A)`,
    items,
    current: items[others.indexOf(before)],
    okLabel: 'Compare'
  });
  if (!answer.button.accept || answer.value === null) {
    return null;
  }
  return others[items.indexOf(answer.value)]?.id ?? null;
}
