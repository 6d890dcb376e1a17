/**
 * The matrix view: a workflow's last runs (columns, oldest to newest) × its tasks (rows),
 * each cell coloured by the task's state with its duration, a bar of each run's duration on
 * top (as Databricks' matrix view). Kept current by the server's event stream.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import React, { useCallback, useEffect, useState } from 'react';

import { FINISHED, IRun, api } from './api';
import { secondsText, stateColour, stateLabel } from './format';
import { changed, feed, useClock, useReload, useSignals } from './live';
import { matrix } from './matrix';
import { settings, settingsChanged } from './settings';
import { mergeRun } from './sse';

export interface IMatrixViewProps {
  workflow: string;
  openRun: (id: number) => void;
}

/** The height of the longest run's bar, in pixels. */
const BAR_H = 56;

function MatrixPage(props: IMatrixViewProps): JSX.Element {
  useSignals(settingsChanged);
  const { workflow } = props;
  const limit = settings.matrixRuns;
  const [runs, setRuns] = useState<IRun[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The runs' documents (with their tasks) once, and after a reconnect; pushed changes between.
  const load = useCallback(async () => {
    try {
      const listed = await api.runs(limit, workflow);
      setRuns(await Promise.all(listed.map(r => api.run(r.id))));
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, [workflow, limit]);
  useReload(load, changed, feed.opened);
  useEffect(() => {
    const pushed = (_: unknown, run: IRun) => {
      if (run.workflow === workflow) {
        setRuns(prev => mergeRun(prev ?? [], run, limit));
      }
    };
    feed.runChanged.connect(pushed);
    return () => void feed.runChanged.disconnect(pushed);
  }, [workflow, limit]);
  useClock((runs ?? []).some(r => !FINISHED.has(r.state)), settings.clockTick);

  if (runs === null) {
    return <div className="nbflow-matrix-view">{error ? <div className="nbflow-error">{error}</div> : 'Loading…'}</div>;
  }
  const m = matrix(runs);
  return (
    <div className="nbflow-matrix-view" data-workflow={workflow}>
      <h2>
        {workflow} <span className="nbflow-muted">· the last {m.runs.length} runs × tasks</span>
      </h2>
      {error && <div className="nbflow-error">{error}</div>}
      {m.runs.length === 0 ? (
        <p className="nbflow-muted">No runs of {workflow} yet.</p>
      ) : (
        <table className="nbflow-matrix">
          <thead>
            <tr className="nbflow-matrix-bars">
              <th className="nbflow-muted">run duration</th>
              {m.runs.map(r => (
                <th key={r.id}>
                  <button
                    className="nbflow-matrix-run"
                    data-run={r.id}
                    data-state={r.state}
                    title={`Run #${r.id}: ${stateLabel(r.state)}${r.seconds !== null ? `, ${secondsText(r.seconds)}` : ''}`}
                    onClick={() => props.openRun(r.id)}
                  >
                    <span
                      className={`nbflow-matrix-bar ${stateColour(r.state)}`}
                      style={{ height: `${Math.max(3, Math.round(((r.seconds ?? 0) / m.longest) * BAR_H))}px` }}
                    />
                  </button>
                  <div className="nbflow-matrix-run-label">#{r.id}</div>
                  <div className="nbflow-muted nbflow-matrix-run-label">{secondsText(r.seconds)}</div>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {m.rows.map(row => (
              <tr key={row.key} data-task={row.key}>
                <th className="nbflow-matrix-task">{row.key}</th>
                {row.cells.map((c, i) => (
                  <td key={m.runs[i].id}>
                    {c && (
                      <button
                        className={`nbflow-matrix-cell ${stateColour(c.state)}`}
                        data-run={m.runs[i].id}
                        data-task={row.key}
                        data-state={c.state}
                        title={[
                          `${row.key} in run #${m.runs[i].id}: ${stateLabel(c.state)}`,
                          c.attempts > 1 ? `${c.attempts} attempts` : '',
                          c.iterations ? `${c.iterations} iterations` : ''
                        ]
                          .filter(Boolean)
                          .join(', ')}
                        onClick={() => props.openRun(m.runs[i].id)}
                      >
                        {secondsText(c.seconds) || stateLabel(c.state)}
                      </button>
                    )}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export class MatrixView extends ReactWidget {
  constructor(private props: IMatrixViewProps) {
    super();
    this.addClass('nbflow-matrix-widget');
  }

  render(): JSX.Element {
    return <MatrixPage {...this.props} />;
  }
}
