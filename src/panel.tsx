/**
 * The nbflow side panel: workflows (next fire, pause/resume, run now, backfill) and recent runs,
 * kept up to date by the server's event stream (see live.ts).
 */
import { ReactWidget } from '@jupyterlab/apputils';
import React, { useCallback, useState } from 'react';

import { FINISHED, ISchedulerStatus, IWorkflow, api } from './api';
import { duration, stateClass, stateLabel, when, whenIn } from './format';
import { Notify, act as perform, changed, feed, useReload, useSignals } from './live';
import { runWithParameters } from './paramsdialog';

interface IPanelProps {
  openRun: (id: number) => void;
  openMatrix: (workflow: string) => void;
  openFile: (path: string) => void;
  /** Ask for a backfill of `workflow`'s range, start it and follow it. */
  backfill: (workflow: IWorkflow) => void;
  notify: Notify;
}

function Workflows(props: IPanelProps): JSX.Element {
  const [workflows, setWorkflows] = useState<IWorkflow[] | null>(null);
  const [scheduler, setScheduler] = useState<ISchedulerStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      const [found, status] = await Promise.all([api.workflows(), api.scheduler()]);
      setWorkflows(found);
      setScheduler(status);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, []);
  // Fetched again when something may have changed it, never on a timer.
  useReload(load, changed, feed.workflowsChanged, feed.opened);

  const act = (what: () => Promise<unknown>, done: string) => perform(what, done, props.notify);

  const triggered = (workflows ?? []).some(w => w.schedule);
  return (
    <section className="nbflow-section nbflow-workflows">
      <h3>Workflows</h3>
      {error && <div className="nbflow-error">{error}</div>}
      {scheduler?.running && (
        <p className="nbflow-muted nbflow-scheduler" data-running="true">
          Scheduler running:{' '}
          {scheduler.schedulers.map(s => `${s.host} (pid ${s.pid})`).join(', ')}
        </p>
      )}
      {scheduler && !scheduler.running && triggered && (
        <div className="nbflow-warning nbflow-scheduler" data-running="false">
          No scheduler is running for this project, so schedules and file arrivals do not fire.
          Start <code>nbflow schedule</code> in a terminal here, or run one inside this
          JupyterLab server until it stops:
          <button
            className="jp-mod-styled nbflow-small nbflow-start-scheduler"
            onClick={() => void act(() => api.startScheduler(), 'Scheduler started in this server')}
          >
            Start scheduler here
          </button>
        </div>
      )}
      {workflows?.length === 0 && (
        <p className="nbflow-muted">
          No workflow files in <code>workflows/</code> yet. Open a notebook and use “Run with
          nbflow” to schedule one.
        </p>
      )}
      <ul>
        {workflows?.map(w => {
          const s = w.schedule;
          return (
            <li key={w.file} className="nbflow-workflow" data-workflow={w.name}>
              <div className="nbflow-row">
                <button className="nbflow-link nbflow-workflow-name" onClick={() => props.openFile(w.file)} title={w.file}>
                  {w.name}
                </button>
                {s?.paused && <span className="nbflow-badge">paused</span>}
                <span className="nbflow-spacer" />
                <button
                  className="jp-mod-styled nbflow-small nbflow-run-now"
                  disabled={!w.ok}
                  onClick={() =>
                    void act(async () => {
                      const started = await api.startRun(w.name);
                      props.openRun(started.id);
                    }, `Run of ${w.name} started`)
                  }
                >
                  Run now
                </button>
                {w.ok && Object.keys(w.parameters ?? {}).length > 0 && (
                  <button
                    className="jp-mod-styled nbflow-small nbflow-run-with"
                    title="Run now with other parameter values"
                    aria-label={`Run ${w.name} now with other parameters`}
                    onClick={async () => {
                      const started = await runWithParameters(w);
                      if (started) {
                        props.notify(`Run of ${w.name} started`, 'success');
                        props.openRun(started.id);
                        changed.emit();
                      }
                    }}
                  >
                    Run with…
                  </button>
                )}
                <button
                  className="jp-mod-styled nbflow-small nbflow-open-matrix"
                  title={`The last runs of ${w.name} × its tasks`}
                  onClick={() => props.openMatrix(w.name)}
                >
                  Matrix
                </button>
                {w.ok && (
                  <button
                    className="jp-mod-styled nbflow-small nbflow-backfill"
                    title={`One run of ${w.name} per fire time over a range of days`}
                    aria-label={`Backfill ${w.name}`}
                    onClick={() => props.backfill(w)}
                  >
                    Backfill…
                  </button>
                )}
                {s && (
                  <button
                    className="jp-mod-styled nbflow-small nbflow-pause"
                    onClick={() =>
                      void act(
                        () => api.setPaused(w.name, !s.paused),
                        `${w.name}: ${s.paused ? 'resumed' : 'paused'}`
                      )
                    }
                  >
                    {s.paused ? 'Resume' : 'Pause'}
                  </button>
                )}
              </div>
              {!w.ok && (
                <div className="nbflow-error">
                  {w.problems.map((p, i) => (
                    <div key={i}>{`${p.line ? `line ${p.line}: ` : ''}${p.message}`}</div>
                  ))}
                </div>
              )}
              {s && (
                <div className="nbflow-muted nbflow-next-fire">
                  {s.schedule ? `${s.schedule.cron} (${s.schedule.timezone})` : s.triggers.join(', ')}
                  {s.next_fire && !s.paused && (
                    <>
                      {' · next '}
                      <span className="nbflow-next-time" title={`${when(s.next_fire)} in your browser's time`}>
                        {s.schedule ? whenIn(s.next_fire, s.schedule.timezone) : when(s.next_fire)}
                      </span>
                    </>
                  )}
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function Runs(props: IPanelProps): JSX.Element {
  useSignals(feed.listChanged, feed.statusChanged);
  const runs = feed.runs;
  // Never connected: the server's message. Connected before: the list stays, marked stale.
  const error = feed.status === 'open' || runs !== null ? null : feed.error;
  return (
    <section className="nbflow-section nbflow-runs">
      <h3>Recent runs</h3>
      {error && <div className="nbflow-error">{error}</div>}
      {runs !== null && feed.status !== 'open' && (
        <p className="nbflow-muted nbflow-reconnecting" title={feed.error ?? ''}>
          Reconnecting to the server; the list may be out of date.
        </p>
      )}
      {runs?.length === 0 && <p className="nbflow-muted">No runs yet.</p>}
      <ul>
        {runs?.map(r => (
          <li key={r.id}>
            <button
              className="nbflow-run-item"
              data-run={r.id}
              data-state={r.state}
              onClick={() => props.openRun(r.id)}
              title={`Open run ${r.id}`}
            >
              <span className={stateClass(r.state)}>{stateLabel(r.state)}</span>
              <span className="nbflow-run-title">
                #{r.id} {r.workflow}
              </span>
              <span className="nbflow-muted nbflow-run-when">
                {when(r.start_time ?? r.trigger.time)}
                {r.start_time && (FINISHED.has(r.state) ? ` · ${duration(r.start_time, r.end_time)}` : ' · running')}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Whether the panel hears of changes as they happen (`data-live` is the feed's status). */
function LiveStatus(): JSX.Element {
  useSignals(feed.statusChanged);
  const open = feed.status === 'open';
  return (
    <span
      className={`nbflow-live ${open ? 'nbflow-live-open' : ''}`}
      data-live={feed.status}
      title={open ? 'Live: the server pushes run changes' : 'Not connected to the server; reconnecting'}
    />
  );
}

export class NbflowPanel extends ReactWidget {
  constructor(private props: IPanelProps) {
    super();
    this.id = 'nbflow-panel';
    this.addClass('nbflow-panel');
  }

  render(): JSX.Element {
    return (
      <div className="nbflow-panel-content">
        <header className="nbflow-panel-header">
          <h2>nbflow</h2>
          <LiveStatus />
          <button
            className="jp-mod-styled nbflow-small nbflow-refresh"
            onClick={() => {
              feed.reconnect();
              changed.emit();
            }}
          >
            Refresh
          </button>
        </header>
        <Workflows {...this.props} />
        <Runs {...this.props} />
      </div>
    );
  }
}
