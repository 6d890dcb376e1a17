/**
 * The "Run with nbflow" dialog: a notebook's parameters, then run now, schedule it,
 * or add it to a workflow.
 */
import { Dialog, ReactWidget } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import React, { useEffect, useState } from 'react';

import { ApiError, INotebookParameter, IProblem, IWorkflow, api } from './api';
import { localTimezone } from './format';

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

/** The text an input starts with for a parameter. */
export function initialText(p: INotebookParameter): string {
  if (!p.literal) {
    return p.default_text;
  }
  if (typeof p.default === 'string') {
    return p.default;
  }
  return JSON.stringify(p.default);
}

/** The typed value of an edited parameter, by the type its default or annotation gives. */
export function typedValue(p: INotebookParameter, text: string): unknown {
  const type = (p.type ?? '').trim();
  if (type === 'str') {
    return text;
  }
  if (type === 'int') {
    if (!/^\s*[-+]?\d+\s*$/.test(text)) {
      throw new Error(`${p.name}: expected a whole number, got ${JSON.stringify(text)}`);
    }
    return parseInt(text, 10);
  }
  if (type === 'float') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) {
      throw new Error(`${p.name}: expected a number, got ${JSON.stringify(text)}`);
    }
    return n;
  }
  try {
    return JSON.parse(text);
  } catch {
    if (!p.literal || type === '' || type === 'None') {
      // No typed default to go by: a text that is not JSON is taken as a string.
      return text;
    }
    throw new Error(`${p.name}: write the value as JSON (for example [1, 2] or {"a": 1})`);
  }
}

interface IBodyProps {
  path: string;
  unsaved: boolean;
  done: (result: DialogResult) => void;
  registerSubmit: (submit: () => void) => void;
}

function RunForm(props: IBodyProps): JSX.Element {
  const { path } = props;
  const [params, setParams] = useState<INotebookParameter[] | null>(null);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [flags, setFlags] = useState<Record<string, boolean>>({});
  const [edited, setEdited] = useState<Set<string>>(new Set());
  const [workflows, setWorkflows] = useState<IWorkflow[]>([]);
  const [mode, setMode] = useState<Mode>('run');
  const [name, setName] = useState(slug(path));
  const [cron, setCron] = useState('0 6 * * *');
  const [timezone, setTimezone] = useState(localTimezone());
  const [target, setTarget] = useState('');
  const [taskKey, setTaskKey] = useState(slug(path));
  const [upstream, setUpstream] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [problems, setProblems] = useState<IProblem[]>([]);

  useEffect(() => {
    api
      .notebookParameters(path)
      .then(found => {
        setParams(found.parameters);
        setTexts(Object.fromEntries(found.parameters.map(p => [p.name, initialText(p)])));
        setFlags(
          Object.fromEntries(
            found.parameters.filter(p => p.type === 'bool').map(p => [p.name, Boolean(p.default)])
          )
        );
      })
      .catch((e: Error) => {
        setParams([]);
        setError(e.message);
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

  const overrides = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const p of params ?? []) {
      if (!edited.has(p.name)) {
        continue;
      }
      out[p.name] = p.type === 'bool' ? flags[p.name] : typedValue(p, texts[p.name] ?? '');
    }
    return out;
  };

  const submit = async (): Promise<void> => {
    if (busy) {
      return;
    }
    setError(null);
    setProblems([]);
    let parameters: Record<string, unknown>;
    try {
      parameters = overrides();
    } catch (e) {
      setError((e as Error).message);
      return;
    }
    setBusy(true);
    try {
      if (mode === 'run') {
        const started = await api.runNotebook(path, parameters);
        props.done({ kind: 'run', id: started.id });
      } else if (mode === 'schedule') {
        const workflow = await api.createWorkflow({
          name,
          notebook: path,
          parameters,
          schedule: { cron, timezone }
        });
        props.done({ kind: 'schedule', workflow });
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
        props.done({ kind: 'task', workflow });
      }
    } catch (e) {
      setError((e as Error).message);
      setProblems(e instanceof ApiError ? e.problems : []);
    } finally {
      setBusy(false);
    }
  };
  props.registerSubmit(() => void submit());

  const edit = (name: string) => setEdited(prev => new Set(prev).add(name));
  const targetTasks = workflows.find(w => w.name === target)?.tasks ?? [];
  const action = { run: 'Run now', schedule: 'Create schedule', task: 'Add task' }[mode];

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
        {params?.map(p => (
          <label key={p.name} className="nbflow-param">
            <span className="nbflow-param-name" title={p.help}>
              {p.name}
              {p.type && <span className="nbflow-muted"> : {p.type}</span>}
            </span>
            {p.type === 'bool' ? (
              <input
                type="checkbox"
                name={p.name}
                checked={flags[p.name] ?? false}
                onChange={e => {
                  const checked = e.currentTarget.checked;
                  setFlags(prev => ({ ...prev, [p.name]: checked }));
                  edit(p.name);
                }}
              />
            ) : (
              <input
                type="text"
                name={p.name}
                value={texts[p.name] ?? ''}
                spellCheck={false}
                onChange={e => {
                  const value = e.currentTarget.value;
                  setTexts(prev => ({ ...prev, [p.name]: value }));
                  edit(p.name);
                }}
              />
            )}
            {p.help && <span className="nbflow-param-help">{p.help}</span>}
          </label>
        ))}
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
              onChange={() => setMode(value)}
            />
            {label}
          </label>
        ))}
      </fieldset>

      {mode === 'schedule' && (
        <fieldset className="nbflow-schedule">
          <label>
            Workflow name
            <input name="workflow-name" value={name} onChange={e => setName(e.currentTarget.value)} />
          </label>
          <label>
            Cron (5 fields, or Quartz)
            <input name="cron" value={cron} onChange={e => setCron(e.currentTarget.value)} />
          </label>
          <label>
            Time zone
            <input
              name="timezone"
              value={timezone}
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
        <fieldset className="nbflow-add-task">
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
                  onChange={e => setTaskKey(e.currentTarget.value)}
                />
              </label>
              <div className="nbflow-upstream">
                <span>Runs after</span>
                {targetTasks.map(t => (
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

      {error && (
        <div className="nbflow-error" role="alert">
          {error}
          {problems.length > 1 && (
            <ul>
              {problems.slice(1).map((p, i) => (
                <li key={i}>{`${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div className="nbflow-actions">
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept nbflow-submit"
          disabled={busy || params === null}
        >
          {busy ? 'Working…' : action}
        </button>
      </div>
    </form>
  );
}

/** Enter in a field submits the form instead of closing the dialog. */
class FormDialog extends Dialog<void> {
  submit: () => void = () => undefined;

  handleEvent(event: Event): void {
    if (
      event.type === 'keydown' &&
      (event as KeyboardEvent).key === 'Enter' &&
      event.target instanceof HTMLInputElement &&
      this.node.querySelector('.nbflow-run-form')?.contains(event.target)
    ) {
      event.preventDefault();
      event.stopPropagation();
      this.submit();
      return;
    }
    super.handleEvent(event);
  }
}

/** Open the dialog for a notebook; resolves with what was done, or null if closed. */
export async function openRunDialog(path: string, unsaved = false): Promise<DialogResult | null> {
  let outcome: DialogResult | null = null;
  let dialog: FormDialog | null = null;
  const body = ReactWidget.create(
    <RunForm
      path={path}
      unsaved={unsaved}
      done={result => {
        outcome = result;
        dialog?.resolve(0);
      }}
      registerSubmit={submit => {
        if (dialog) {
          dialog.submit = submit;
        }
      }}
    />
  );
  body.addClass('nbflow-dialog-body');
  dialog = new FormDialog({
    title: `Run with nbflow: ${PathExt.basename(path)}`,
    body,
    buttons: [Dialog.cancelButton({ label: 'Close' })]
  });
  dialog.addClass('nbflow-dialog');
  await dialog.launch();
  return outcome;
}
