/**
 * Backfills from the panel: the form that starts one (as `nbflow backfill`: from, to, every,
 * concurrency, rerun, parameters) and the view that follows it, day by day, with its runs.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { Signal } from '@lumino/signaling';
import React, { useCallback, useEffect, useState } from 'react';

import { IBackfill, IRun, ISchedulerStatus, IWorkflow, api } from './api';
import { Answers, answers } from './dialog';
import { useParameterFields, valueParameter } from './fields';
import { IFormHost, openFormDialog } from './formdialog';
import { countsText, inBackfillWords, isoDay } from './backfills';
import { stateClass, stateLabel, when } from './format';
import { Notify, act as perform, changed, feed, useReload } from './live';

function BackfillForm(props: { workflow: IWorkflow; host: IFormHost<IBackfill> }): JSX.Element {
  const { workflow, host } = props;
  const cron = workflow.schedule?.schedule ?? null;
  const [params] = useState(() =>
    Object.entries(workflow.parameters ?? {}).map(([name, value]) => valueParameter(name, value))
  );
  const [from, setFrom] = useState(() => isoDay(new Date(), 7));
  const [to, setTo] = useState(() => isoDay(new Date(), 1));
  const [every, setEvery] = useState(cron ? '' : '1d');
  const [concurrency, setConcurrency] = useState('1');
  const [rerun, setRerun] = useState(false);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<{ field: string | null; text: string }[]>([]);
  const invalid = new Set(errors.map(e => e.field).filter((f): f is string => f !== null));
  const { fields, overrides } = useParameterFields(params, invalid);

  useEffect(() => {
    host.action(busy ? 'Starting…' : 'Start backfill', !busy);
  }, [busy]);

  const submit = async (): Promise<void> => {
    if (busy) {
      return;
    }
    setErrors([]);
    setBusy(true);
    try {
      const n = Number(concurrency);
      if (!Number.isInteger(n) || n < 1) {
        throw new Error(`concurrency: expected a whole number of at least 1, got ${JSON.stringify(concurrency)}`);
      }
      host.done(
        await api.backfill(workflow.name, {
          from,
          to,
          every: every.trim() || undefined,
          concurrency: n,
          rerun,
          parameters: overrides()
        })
      );
    } catch (e) {
      setErrors(answers(e).map(a => (a.field ? a : inBackfillWords(a.text))));
    } finally {
      setBusy(false);
    }
  };
  host.onSubmit(() => void submit());
  const mark = (field: string) => (invalid.has(field) ? true : undefined);

  return (
    <form
      className="nbflow-run-form nbflow-backfill-form"
      onSubmit={e => {
        e.preventDefault();
        void submit();
      }}
    >
      <p>
        One run of {workflow.name} per{' '}
        {cron ? (
          <>
            fire time of its schedule (<code>{cron.cron}</code>, {cron.timezone})
          </>
        ) : (
          'step of Every'
        )}{' '}
        from the first day to the last, each with that time as <code>{'{{run.trigger.time}}'}</code>. Days
        already run are skipped unless Rerun. The project&apos;s scheduler starts the runs.
      </p>
      <fieldset className="nbflow-backfill-range">
        <legend>Range</legend>
        <label>
          From
          <input type="date" name="from" required value={from} aria-invalid={mark('from')} onChange={e => setFrom(e.currentTarget.value)} />
        </label>
        <label>
          To (the whole day)
          <input type="date" name="to" required value={to} aria-invalid={mark('to')} onChange={e => setTo(e.currentTarget.value)} />
        </label>
        <label>
          Every{' '}
          <span className="nbflow-muted">{cron ? '(empty: the schedule’s fire times)' : '(1d, 6h, 30m)'}</span>
          <input
            name="every"
            value={every}
            placeholder={cron ? 'the schedule' : '1d'}
            aria-invalid={mark('every')}
            onChange={e => setEvery(e.currentTarget.value)}
          />
        </label>
        <label>
          Runs at once
          <input
            type="number"
            name="concurrency"
            min={1}
            value={concurrency}
            aria-invalid={mark('concurrency')}
            onChange={e => setConcurrency(e.currentTarget.value)}
          />
        </label>
        <label className="nbflow-backfill-rerun">
          <input type="checkbox" name="rerun" checked={rerun} onChange={e => setRerun(e.currentTarget.checked)} />
          Rerun days that already have a successful run
        </label>
      </fieldset>
      {params.length > 0 && (
        <fieldset className="nbflow-params">
          <legend>Parameters</legend>
          {fields}
        </fieldset>
      )}
      <Answers errors={errors} />
    </form>
  );
}

/** Ask for a backfill's range and start it; the backfill, or null if cancelled. */
export function backfillDialog(workflow: IWorkflow): Promise<IBackfill | null> {
  return openFormDialog<IBackfill>({
    title: `Backfill ${workflow.name}`,
    action: 'Start backfill',
    className: 'nbflow-backfill-dialog',
    render: host => <BackfillForm workflow={workflow} host={host} />
  });
}

export interface IBackfillViewProps {
  id: number;
  openRun: (id: number) => void;
  notify: Notify;
}

function BackfillPage(props: IBackfillViewProps): JSX.Element {
  const [doc, setDoc] = useState<IBackfill | null>(null);
  const [scheduler, setScheduler] = useState<ISchedulerStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [moved] = useState(() => new Signal<object, void>({}));
  const load = useCallback(async () => {
    try {
      const [found, status] = await Promise.all([api.backfillById(props.id), api.scheduler()]);
      setDoc(found);
      setScheduler(status);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, [props.id]);
  // Read again when something may have changed it, as the server pushes: a scheduler
  // started or stopped (the workflows list's event), the backfill's own state, a day's run.
  useReload(load, changed, feed.opened, feed.workflowsChanged, moved);
  const workflow = doc?.workflow;
  useEffect(() => {
    const pushed = (_: unknown, run: IRun) => {
      if (run.workflow === workflow && run.trigger.type === 'backfill') {
        moved.emit();
      }
    };
    const itself = (_: unknown, event: { id: number }) => {
      if (event.id === props.id) {
        moved.emit();
      }
    };
    feed.runChanged.connect(pushed);
    feed.backfillChanged.connect(itself);
    return () => {
      feed.runChanged.disconnect(pushed);
      feed.backfillChanged.disconnect(itself);
    };
  }, [workflow, props.id]);

  if (!doc) {
    return <div className="nbflow-backfill-view">{error ? <div className="nbflow-error">{error}</div> : 'Loading…'}</div>;
  }
  const running = doc.state === 'running';
  const act = (what: () => Promise<unknown>, done: string) => perform(what, done, props.notify);
  return (
    <div className="nbflow-backfill-view" data-backfill={doc.id} data-state={doc.state}>
      <header className="nbflow-run-header">
        <h2>
          Backfill #{doc.id} · {doc.workflow}{' '}
          <span className={`${stateClass(doc.state)} nbflow-backfill-state`}>{stateLabel(doc.state)}</span>
        </h2>
        <span className="nbflow-spacer" />
        <button
          className="jp-mod-styled nbflow-cancel-backfill"
          disabled={!running}
          onClick={() => void act(() => api.cancelBackfill(doc.id), `Backfill #${doc.id} canceled`)}
        >
          Cancel backfill
        </button>
      </header>
      <p className="nbflow-muted nbflow-backfill-span">
        {doc.from} to {doc.to} · {doc.every ? `every ${doc.every}` : 'the schedule’s fire times'} ({doc.timezone}) ·{' '}
        {doc.concurrency} at once{doc.rerun ? ' · rerun' : ''} · started {when(doc.created)}
        {doc.end_time && ` · ended ${when(doc.end_time)}`}
      </p>
      {Object.keys(doc.parameters).length > 0 && (
        <p className="nbflow-muted">
          Parameters: <code>{JSON.stringify(doc.parameters)}</code>
        </p>
      )}
      {error && <div className="nbflow-error">{error}</div>}
      {running && scheduler && !scheduler.running && (
        <div className="nbflow-warning nbflow-backfill-no-scheduler">
          No scheduler serves this project, so no day starts yet. Run <code>nbflow schedule</code> (or{' '}
          <code>nbflow backfill resume {doc.id}</code>) in a terminal, or one inside this JupyterLab server:
          <button
            className="jp-mod-styled nbflow-small nbflow-start-scheduler"
            onClick={() => void act(() => api.startScheduler(), 'Scheduler started in this server')}
          >
            Start scheduler here
          </button>
        </div>
      )}
      <p className="nbflow-backfill-counts">{countsText(doc.counts)}</p>
      <table className="nbflow-attempts nbflow-backfill-days">
        <thead>
          <tr>
            <th>Fire time</th>
            <th>State</th>
            <th>Run</th>
          </tr>
        </thead>
        <tbody>
          {doc.days.map(day => (
            <tr key={day.time} data-time={day.time} data-state={day.state}>
              <td>{day.time}</td>
              <td>
                <span className={stateClass(day.state)}>{stateLabel(day.state)}</span>
              </td>
              <td>
                {day.run_id !== null ? (
                  <button className="nbflow-link nbflow-open-run" data-run={day.run_id} onClick={() => props.openRun(day.run_id!)}>
                    run #{day.run_id}
                  </button>
                ) : (
                  <span className="nbflow-muted">none yet</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export class BackfillView extends ReactWidget {
  constructor(private props: IBackfillViewProps) {
    super();
    this.addClass('nbflow-run-widget');
    this.addClass('nbflow-backfill-widget');
  }

  render(): JSX.Element {
    return <BackfillPage {...this.props} />;
  }
}
