/**
 * The REST client: typed calls to nbflow's server extension under /nbflow/api/.
 *
 * Every request goes through Jupyter's ServerConnection, so it carries the
 * server's token and XSRF cookie like any other JupyterLab request.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { IValuesRow } from './chart';
import type { IRunDiff } from './compare';

export interface IProblem {
  file: string;
  line: number | null;
  message: string;
}

export interface IAttempt {
  number: number;
  state: string;
  start_time: string | null;
  end_time: string | null;
  artifact: string | null;
  parameters: Record<string, unknown>;
  values: Record<string, unknown>;
  output: unknown;
  error: { ename: string | null; evalue: string | null; cell_index: number | null } | null;
  /** Where it ran: `{kind: 'local'}`, or `{kind: 'dask', worker}` (docs/cluster.md). */
  executor?: { kind: string; worker?: string | null; scheduler?: string | null } | null;
}

export interface IUnit {
  state: string;
  values: Record<string, unknown>;
  start_time: string | null;
  end_time: string | null;
  message: string | null;
  attempts: IAttempt[];
}

export interface IIteration extends IUnit {
  index: number;
  input: unknown;
}

export interface IEdge {
  task: string;
  outcome: string | boolean | null;
}

export interface ITask extends IUnit {
  key: string;
  kind: string;
  depends_on: IEdge[];
  outcome: unknown;
  output: unknown;
  iterations?: IIteration[];
}

export interface IRun {
  id: number;
  workflow: string;
  workflow_path: string;
  parent_run_id: number | null;
  state: string;
  trigger: { type: string; time: string | null };
  parameters: Record<string, unknown>;
  start_time: string | null;
  end_time: string | null;
  repair_count: number;
  repairs: { number: number; time: string; tasks: string[]; result: string | null }[];
  message: string | null;
  tasks: ITask[];
}

export interface ISchedule {
  workflow: string;
  file: string;
  triggers: string[];
  paused: boolean;
  paused_by: string | null;
  schedule: { cron: string; timezone: string } | null;
  next_fire: string | null;
  active_runs: number;
}

export interface ISchedulerStatus {
  running: boolean;
  schedulers: { host: string; pid: number; started: string | null; seen: string }[];
  stale_after: number;
}

export interface IWorkflow {
  file: string;
  name: string;
  ok: boolean;
  problems: IProblem[];
  description?: string | null;
  parameters?: Record<string, unknown>;
  tasks?: { key: string; kind: string; depends_on: IEdge[]; run_if: string }[];
  schedule?: ISchedule | null;
}

export interface INotebookParameter {
  name: string;
  type: string | null;
  default: unknown;
  default_text: string;
  literal: boolean;
  help: string;
}

/** A backfill, as POST workflows/NAME/backfill and GET backfills/ID answer it. */
export interface IBackfill {
  id: number;
  workflow: string;
  /** running, finished or canceled. */
  state: string;
  from: string;
  to: string;
  every: string | null;
  timezone: string;
  rerun: boolean;
  concurrency: number;
  parameters: Record<string, unknown>;
  created: string | null;
  end_time: string | null;
  counts: Record<string, number>;
  /** Each fire time: its run once started (state pending, skipped or not_started before). */
  days: { time: string; state: string; run_id: number | null }[];
}

export interface IBackfillRequest {
  from: string;
  to: string;
  every?: string;
  concurrency: number;
  rerun: boolean;
  parameters: Record<string, unknown>;
}

/** Glued values over a workflow's last runs (GET workflows/NAME/values). */
export interface IValues {
  workflow: string;
  columns: string[];
  runs: IValuesRow[];
}

/** An answer other than 2xx: the server's one-sentence message. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly problems: IProblem[] = []
  ) {
    super(message);
  }
}

/** Run states that will not change any more. */
export const FINISHED = new Set([
  'success',
  'success_with_failures',
  'failed',
  'timed_out',
  'canceled',
  'skipped'
]);

function endpointUrl(
  settings: ServerConnection.ISettings,
  endpoint: string,
  query: Record<string, string | number | undefined>
): string {
  const params = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return URLExt.join(settings.baseUrl, 'nbflow', 'api', endpoint) + (params ? `?${params}` : '');
}

/** The response to a request, or an `ApiError` with the server's message for any other than 2xx. */
async function respond(
  endpoint: string,
  init: RequestInit,
  query: Record<string, string | number | undefined>
): Promise<Response> {
  const settings = ServerConnection.makeSettings();
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(endpointUrl(settings, endpoint, query), init, settings);
  } catch (error) {
    if ((error as Error)?.name === 'AbortError' || init.signal?.aborted) {
      throw error;
    }
    throw new ApiError(`The Jupyter server cannot be reached: ${error}`, 0);
  }
  if (!response.ok) {
    const data = parse(await response.text());
    throw new ApiError(
      data?.message ?? `${response.status} ${response.statusText}`,
      response.status,
      data?.problems ?? []
    );
  }
  return response;
}

function parse(text: string): any {
  if (!text) {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

export async function request<T>(
  endpoint: string,
  init: RequestInit = {},
  query: Record<string, string | number | undefined> = {}
): Promise<T> {
  const response = await respond(endpoint, init, query);
  return parse(await response.text()) as T;
}

function post<T>(endpoint: string, body: unknown): Promise<T> {
  return request<T>(endpoint, { method: 'POST', body: JSON.stringify(body) });
}

export const api = {
  workflows: () => request<IWorkflow[]>('workflows'),
  schedules: () => request<ISchedule[]>('schedules'),
  scheduler: () => request<ISchedulerStatus>('scheduler'),
  startScheduler: () => post<ISchedulerStatus>('scheduler/start', {}),
  runs: (limit = 30, workflow?: string) => request<IRun[]>('runs', {}, { limit, workflow }),
  run: (id: number) => request<IRun>(`runs/${id}`),
  startRun: (workflow: string, parameters: Record<string, unknown> = {}) =>
    post<{ id: number; state: string }>('runs', { workflow, parameters }),
  cancel: (id: number) => post<{ id: number }>(`runs/${id}/cancel`, {}),
  repair: (id: number, tasks: string[] = [], parameters: Record<string, unknown> = {}) =>
    post<{ id: number }>(`runs/${id}/repair`, { tasks, parameters }),
  setPaused: (workflow: string, paused: boolean) =>
    post<ISchedule>(`schedules/${encodeURIComponent(workflow)}/${paused ? 'pause' : 'resume'}`, {}),
  notebookParameters: (path: string) =>
    request<{ path: string; parameters: INotebookParameter[] }>(
      'notebooks/parameters',
      {},
      { path }
    ),
  runNotebook: (path: string, parameters: Record<string, unknown>) =>
    post<{ id: number; state: string; workflow: string }>('notebooks/run', { path, parameters }),
  createWorkflow: (body: {
    name: string;
    notebook: string;
    parameters: Record<string, unknown>;
    schedule?: { cron: string; timezone: string };
  }) => post<IWorkflow>('workflows', body),
  addTask: (
    workflow: string,
    body: { notebook: string; key?: string; parameters: Record<string, unknown>; depends_on: string[] }
  ) => post<IWorkflow>(`workflows/${encodeURIComponent(workflow)}/tasks`, body),
  file: (path: string) => request<any>('files', {}, { path }),
  /** What differs between run `a` and run `b`. */
  diff: (a: number, b: number) => request<IRunDiff>(`runs/${a}/diff/${b}`),
  values: (workflow: string, last: number) =>
    request<IValues>(`workflows/${encodeURIComponent(workflow)}/values`, {}, { last }),
  /** A run's HTML report (with `task`: an attempt's), as the page's text. */
  report: async (run: number, task?: string, attempt?: number, noInput?: boolean) => {
    const query = { task, attempt, no_input: noInput === undefined ? undefined : Number(noInput) };
    return (await respond(`runs/${run}/report`, {}, query)).text();
  },
  backfill: (workflow: string, body: IBackfillRequest) =>
    post<IBackfill>(`workflows/${encodeURIComponent(workflow)}/backfill`, body),
  backfillById: (id: number) => request<IBackfill>(`backfills/${id}`),
  cancelBackfill: (id: number) => post<IBackfill>(`backfills/${id}/cancel`, {}),
  /** The open event stream (server-sent events) of run changes; its body is read as it comes. */
  events: (limit: number, signal: AbortSignal) =>
    respond('events', { signal, cache: 'no-store' }, { limit })
};
