/**
 * The "Run with nbflow" dialog: a notebook's parameters, then run now, schedule it,
 * or add it to a workflow.
 */
import { PathExt } from '@jupyterlab/coreutils';
import React, { useEffect, useRef, useState } from 'react';

import { ApiError, INotebookParameter, IWorkflow, api } from './api';
import { FieldError, useParameterFields } from './fields';
import { localTimezone } from './format';
import { settings } from './settings';
import { IFormHost, openFormDialog } from './formdialog';

export type DialogResult =
  | { kind: 'run'; id: number }
  | { kind: 'schedule'; workflow: IWorkflow }
  | { kind: 'task'; workflow: IWorkflow };

type Mode = 'run' | 'schedule' | 'task';

/** A workflow or task name made from a notebook's file name. */
export function slug(path: string): string {
  const stem = PathExt.basename(path, PathExt.extname(path));
  const cleaned = stem.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^[^A-Za-z]+/, '');
  return cleaned || 'notebook';
}

/** The form's fields by the key a server's message names (`schedule.cron: …`). */
const FIELDS: [RegExp, (m: RegExpMatchArray) => { field: string | null; label: string }][] = [
  [/^schedule\.cron: /, () => ({ field: 'cron', label: 'Cron' })],
  [/^schedule\.timezone: /, () => ({ field: 'timezone', label: 'Time zone' })],
  [/^schedule(\.[\w.]+)?: /, () => ({ field: 'cron', label: 'Schedule' })],
  [/^name: /, () => ({ field: 'workflow-name', label: 'Workflow name' })],
  [/^(tasks\[[^\]]*\]\.)?key: /, () => ({ field: 'task-key', label: 'Task key' })],
  [/^(tasks\[[^\]]*\]\.)?parameters\.(\w+): /, m => ({ field: m[2], label: m[2] })],
  [/^(tasks\[[^\]]*\]\.)?depends_on[^:]*: /, () => ({ field: null, label: 'Runs after' })],
  [/^tasks\[[^\]]*\](\.[\w.]+)?: /, () => ({ field: null, label: '' })]
];

/**
 * A server's message in the words of the form: the field's label instead of the key of the
 * workflow file nbflow would have written (`Cron: …`, not `workflows/x.yaml:4:
 * schedule.cron: …`), and which field it is about.
 */
export function inFormWords(message: string): { field: string | null; text: string } {
  for (const [key, found] of FIELDS) {
    const m = message.match(key);
    if (m) {
      const { field, label } = found(m);
      const rest = message.slice(m[0].length);
      return { field, text: label ? `${label}: ${rest}` : rest };
    }
  }
  return { field: null, text: message };
}

/** What went wrong, in the form's words (the file nbflow writes is not the user's). */
export function answers(error: unknown): { field: string | null; text: string }[] {
  if (error instanceof FieldError) {
    return [{ field: error.field, text: error.message }];
  }
  if (error instanceof ApiError && error.problems.length) {
    return error.problems.map(p => inFormWords(p.message));
  }
  return [inFormWords((error as Error).message)];
}

interface IBodyProps {
  path: string;
  unsaved: boolean;
  host: IFormHost<DialogResult>;
}

const ACTIONS: Record<Mode, string> = {
  run: 'Run now',
  schedule: 'Create schedule',
  task: 'Add task'
};

function RunForm(props: IBodyProps): JSX.Element {
  const { path, host } = props;
  const [params, setParams] = useState<INotebookParameter[] | null>(null);
  const [workflows, setWorkflows] = useState<IWorkflow[]>([]);
  const [mode, setMode] = useState<Mode>('run');
  const [name, setName] = useState(slug(path));
  const [cron, setCron] = useState(settings.defaultCron);
  const [timezone, setTimezone] = useState(settings.defaultTimezone || localTimezone());
  const [target, setTarget] = useState('');
  const [taskKey, setTaskKey] = useState(slug(path));
  const [upstream, setUpstream] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<{ field: string | null; text: string }[]>([]);
  const invalid = new Set(errors.map(e => e.field).filter((f): f is string => f !== null));
  const { fields, overrides } = useParameterFields(params, invalid);
  const modeFields = useRef<HTMLFieldSetElement>(null);

  useEffect(() => {
    api
      .notebookParameters(path)
      .then(found => setParams(found.parameters))
      .catch((e: Error) => {
        setParams([]);
        setErrors(answers(e));
      });
    api
      .workflows()
      .then(found => {
        const usable = found.filter(w => w.ok);
        setWorkflows(usable);
        if (usable.length) {
          setTarget(usable[0].name);
        }
      })
      .catch(() => setWorkflows([]));
  }, [path]);

  useEffect(() => {
    host.action(busy ? 'Working…' : ACTIONS[mode], !busy && params !== null);
  }, [mode, busy, params]);

  useEffect(() => {
    // The fields of the chosen mode come below the form's end: bring them into view.
    modeFields.current?.scrollIntoView({ block: 'nearest' });
  }, [mode]);

  const submit = async (): Promise<void> => {
    if (busy || params === null) {
      return;
    }
    setErrors([]);
    setBusy(true);
    try {
      const parameters = overrides();
      if (mode === 'run') {
        const started = await api.runNotebook(path, parameters);
        host.done({ kind: 'run', id: started.id });
      } else if (mode === 'schedule') {
        const workflow = await api.createWorkflow({
          name,
          notebook: path,
          parameters,
          schedule: { cron, timezone }
        });
        host.done({ kind: 'schedule', workflow });
      } else {
        if (!target) {
          throw new Error('there is no valid workflow in workflows/ to add this notebook to');
        }
        const workflow = await api.addTask(target, {
          notebook: path,
          key: taskKey,
          parameters,
          depends_on: [...upstream]
        });
        host.done({ kind: 'task', workflow });
      }
    } catch (e) {
      setErrors(answers(e));
    } finally {
      setBusy(false);
    }
  };
  host.onSubmit(() => void submit());

  const mark = (field: string) => (invalid.has(field) ? true : undefined);

  return (
    <form
      className="nbflow-run-form"
      onSubmit={e => {
        e.preventDefault();
        void submit();
      }}
    >
      {props.unsaved && (
        <p className="nbflow-unsaved" role="note">
          This notebook has unsaved changes. nbflow runs it as saved on disk: save it first to
          include them.
        </p>
      )}
      <fieldset className="nbflow-params">
        <legend>Parameters</legend>
        {params === null && <p className="nbflow-muted">Reading the parameters cell…</p>}
        {params !== null && params.length === 0 && (
          <p className="nbflow-muted">
            This notebook has no cell tagged <code>parameters</code>; it runs as it is.
          </p>
        )}
        {fields}
      </fieldset>

      <fieldset className="nbflow-modes">
        <legend>What to do</legend>
        {(
          [
            ['run', 'Run it now'],
            ['schedule', 'Schedule it (writes a workflow file in workflows/)'],
            ['task', 'Add it as a task to a workflow']
          ] as [Mode, string][]
        ).map(([value, label]) => (
          <label key={value} className="nbflow-mode">
            <input
              type="radio"
              name="nbflow-mode"
              value={value}
              checked={mode === value}
              onChange={() => {
                setMode(value);
                // An answer to another mode's question would mislead.
                setErrors([]);
              }}
            />
            {label}
          </label>
        ))}
      </fieldset>

      {mode === 'schedule' && (
        <fieldset className="nbflow-schedule" ref={modeFields}>
          <label>
            Workflow name
            <input
              name="workflow-name"
              value={name}
              aria-invalid={mark('workflow-name')}
              onChange={e => setName(e.currentTarget.value)}
            />
          </label>
          <label>
            Cron (5 fields, or Quartz)
            <input
              name="cron"
              value={cron}
              aria-invalid={mark('cron')}
              onChange={e => setCron(e.currentTarget.value)}
            />
          </label>
          <label>
            Time zone
            <input
              name="timezone"
              value={timezone}
              aria-invalid={mark('timezone')}
              onChange={e => setTimezone(e.currentTarget.value)}
            />
          </label>
          <p className="nbflow-muted nbflow-hint">
            Runs fire while a scheduler serves the project: <code>nbflow schedule</code>, or this
            server with <code>c.NbflowServer.run_scheduler = True</code>.
          </p>
        </fieldset>
      )}

      {mode === 'task' && (
        <fieldset className="nbflow-add-task" ref={modeFields}>
          {workflows.length === 0 ? (
            <p className="nbflow-muted">There is no valid workflow file in workflows/ yet.</p>
          ) : (
            <>
              <label>
                Workflow
                <select
                  name="target-workflow"
                  value={target}
                  onChange={e => {
                    setTarget(e.currentTarget.value);
                    setUpstream(new Set());
                  }}
                >
                  {workflows.map(w => (
                    <option key={w.name} value={w.name}>
                      {w.name} ({w.file})
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Task key
                <input
                  name="task-key"
                  value={taskKey}
                  aria-invalid={mark('task-key')}
                  onChange={e => setTaskKey(e.currentTarget.value)}
                />
              </label>
              <div className="nbflow-upstream">
                <span>Runs after</span>
                {(workflows.find(w => w.name === target)?.tasks ?? []).map(t => (
                  <label key={t.key}>
                    <input
                      type="checkbox"
                      name={`after-${t.key}`}
                      checked={upstream.has(t.key)}
                      onChange={e => {
                        const on = e.currentTarget.checked;
                        setUpstream(prev => {
                          const next = new Set(prev);
                          if (on) {
                            next.add(t.key);
                          } else {
                            next.delete(t.key);
                          }
                          return next;
                        });
                      }}
                    />
                    {t.key}
                  </label>
                ))}
              </div>
            </>
          )}
        </fieldset>
      )}

      <Answers errors={errors} />
    </form>
  );
}

/** The answers to a submitted form, under it (the dialog's body scrolls to them). */
export function Answers(props: { errors: { text: string }[] }): JSX.Element | null {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // A block: an effect's result is its clean-up, and Chromium's scroll methods return promises.
    ref.current?.scrollIntoView({ block: 'nearest' });
  }, [props.errors]);
  if (!props.errors.length) {
    return null;
  }
  return (
    <div className="nbflow-error" role="alert" ref={ref}>
      {props.errors.length === 1 ? (
        props.errors[0].text
      ) : (
        <ul>
          {props.errors.map((e, i) => (
            <li key={i}>{e.text}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Open the dialog for a notebook; resolves with what was done, or null if closed. */
export function openRunDialog(path: string, unsaved = false): Promise<DialogResult | null> {
  return openFormDialog<DialogResult>({
    title: `Run with nbflow: ${PathExt.basename(path)}`,
    action: ACTIONS.run,
    className: 'nbflow-run-dialog',
    render: host => <RunForm path={path} unsaved={unsaved} host={host} />
  });
}
