/**
 * Run a workflow now, or repair a run, with other parameter values: the dialogs behind
 * "Run now with other parameters" and "Repair run" (as `nbflow run -p` and `repair -p`).
 */
import React, { useEffect, useState } from 'react';

import { IRun, IWorkflow, api } from './api';
import { Answers, answers } from './dialog';
import { useParameterFields, valueParameter } from './fields';
import { IFormHost, openFormDialog } from './formdialog';

interface IParamsFormProps<T> {
  intro: string;
  /** The values the fields start with, by parameter name. */
  values: Record<string, unknown>;
  action: string;
  /** Do it with the values the user changed (only those: the rest keep their own). */
  perform: (overrides: Record<string, unknown>) => Promise<T>;
  host: IFormHost<T>;
}

function ParamsForm<T>(props: IParamsFormProps<T>): JSX.Element {
  const { host } = props;
  const [params] = useState(() =>
    Object.entries(props.values).map(([name, value]) => valueParameter(name, value))
  );
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<{ field: string | null; text: string }[]>([]);
  const invalid = new Set(errors.map(e => e.field).filter((f): f is string => f !== null));
  const { fields, overrides } = useParameterFields(params, invalid);

  useEffect(() => {
    host.action(busy ? 'Working…' : props.action, !busy);
  }, [busy]);

  const submit = async (): Promise<void> => {
    if (busy) {
      return;
    }
    setErrors([]);
    setBusy(true);
    try {
      host.done(await props.perform(overrides()));
    } catch (e) {
      setErrors(answers(e));
    } finally {
      setBusy(false);
    }
  };
  host.onSubmit(() => void submit());

  return (
    <form
      className="nbflow-run-form nbflow-params-form"
      onSubmit={e => {
        e.preventDefault();
        void submit();
      }}
    >
      <p>{props.intro}</p>
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

/** Ask for parameter values, then start a run of `workflow`; its id, or null if cancelled. */
export function runWithParameters(workflow: IWorkflow): Promise<{ id: number } | null> {
  return openFormDialog<{ id: number }>({
    title: `Run ${workflow.name} now`,
    action: 'Run now',
    className: 'nbflow-params-dialog',
    render: host => (
      <ParamsForm
        intro={`A run of ${workflow.name} with these values; the workflow file keeps its own.`}
        values={workflow.parameters ?? {}}
        action="Run now"
        perform={overrides => api.startRun(workflow.name, overrides)}
        host={host}
      />
    )
  });
}

/**
 * Confirm a repair of `run` (of `tasks`, or of what did not succeed), with its parameter
 * values to change; resolves once the repair has started, or with null if cancelled.
 */
export function repairWithParameters(run: IRun, tasks: string[]): Promise<{ id: number } | null> {
  const which = tasks.length
    ? `task ${tasks.join(', ')} and what depends on it`
    : 'the tasks that did not succeed and what depends on them';
  return openFormDialog<{ id: number }>({
    title: `Repair run #${run.id}?`,
    action: 'Repair',
    className: 'nbflow-params-dialog',
    render: host => (
      <ParamsForm
        intro={
          `nbflow reruns ${which} inside run #${run.id}; values of the tasks that succeeded ` +
          'are kept.' +
          (Object.keys(run.parameters).length ? ' The tasks it reruns get these parameters:' : '')
        }
        values={run.parameters}
        action="Repair"
        perform={overrides => api.repair(run.id, tasks, overrides)}
        host={host}
      />
    )
  });
}
