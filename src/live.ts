/**
 * Keeping views current: the server's event stream of run changes, the `changed` signal,
 * and actions that refresh views. Nothing here polls: the server pushes what changed.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { useEffect, useReducer } from 'react';

import { IRun, api } from './api';
import { mergeRun, parseEvents } from './sse';

export type Notify = (message: string, kind: 'success' | 'error' | 'info') => void;

/** Emitted after anything in the UI changed runs or workflows: views refresh at once. */
export const changed = new Signal<object, void>({});

/** Whether the stream is open. */
export type FeedStatus = 'connecting' | 'open' | 'closed';

export interface IFeedOptions {
  /** Runs kept in the list (the newest). */
  limit: number;
  /** Milliseconds before connecting again after the stream ended or failed. */
  reconnectDelay: number;
}

/** Longer than the server's keep-alive (15 s) twice: a stream silent this long is dead. */
const SILENT_MS = 40_000;

/**
 * One event stream per JupyterLab page, shared by the panel and every run view. It
 * reconnects after `reconnectDelay` when the stream ends (the server restarted) or fails,
 * and each connection starts with a snapshot, so views resync.
 */
export class Feed {
  /** The newest runs, newest first (null before the first snapshot). */
  get runs(): IRun[] | null {
    return this._runs;
  }
  get status(): FeedStatus {
    return this._status;
  }
  /** Why the last connection failed (the server's message), or null. */
  get error(): string | null {
    return this._error;
  }
  /** A run's whole document, each time it or one of its tasks changed. */
  get runChanged(): ISignal<Feed, IRun> {
    return this._runChanged;
  }
  /** The list of runs changed (a snapshot arrived, a run changed). */
  get listChanged(): ISignal<Feed, void> {
    return this._listChanged;
  }
  /** The workflows list would show something new: views fetch it again. */
  get workflowsChanged(): ISignal<Feed, void> {
    return this._workflowsChanged;
  }
  /** A backfill was recorded or changed state (its days' runs come as `runChanged`). */
  get backfillChanged(): ISignal<Feed, { id: number; state: string }> {
    return this._backfillChanged;
  }
  /** A connection opened and its snapshot arrived: what changed before it was not pushed. */
  get opened(): ISignal<Feed, void> {
    return this._opened;
  }
  get statusChanged(): ISignal<Feed, FeedStatus> {
    return this._statusChanged;
  }

  get options(): IFeedOptions {
    return this._options;
  }

  /** New options: the stream restarts when they change what it asks for. */
  configure(options: Partial<IFeedOptions>): void {
    const next = { ...this._options, ...options };
    const restart = next.limit !== this._options.limit;
    this._options = next;
    if (restart && this._running) {
      this.reconnect();
    }
  }

  start(): void {
    if (!this._running) {
      this._running = true;
      void this._connect();
    }
  }

  stop(): void {
    this._running = false;
    this._abort?.abort();
    window.clearTimeout(this._retry);
    this._setStatus('closed');
  }

  /** Drop the stream and open a new one now (the Refresh button). */
  reconnect(): void {
    this._abort?.abort();
    window.clearTimeout(this._retry);
    if (this._running) {
      void this._connect();
    }
  }

  private async _connect(): Promise<void> {
    const abort = new AbortController();
    this._abort = abort;
    this._setStatus('connecting');
    let silence = 0;
    const quiet = () => {
      window.clearTimeout(silence);
      silence = window.setTimeout(() => abort.abort(), SILENT_MS);
    };
    try {
      const response = await api.events(this._options.limit, abort.signal);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      quiet();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          break;
        }
        quiet();
        const parsed = parseEvents(buffer + decoder.decode(value, { stream: true }));
        buffer = parsed.rest;
        for (const e of parsed.events) {
          this._dispatch(e.event, JSON.parse(e.data));
        }
      }
    } catch (e) {
      if (this._abort === abort && !abort.signal.aborted) {
        this._error = (e as Error).message;
      }
    } finally {
      window.clearTimeout(silence);
    }
    if (this._abort !== abort) {
      return; // a newer connection took over
    }
    this._setStatus('closed');
    if (this._running) {
      this._retry = window.setTimeout(() => void this._connect(), this._options.reconnectDelay);
    }
  }

  private _dispatch(event: string, data: any): void {
    if (event === 'snapshot') {
      this._runs = (data.runs as IRun[]).slice(0, this._options.limit);
      this._error = null;
      this._listChanged.emit();
      this._setStatus('open');
      this._opened.emit();
    } else if (event === 'run') {
      const run = data as IRun;
      this._runs = mergeRun(this._runs ?? [], { ...run, tasks: [] }, this._options.limit);
      this._listChanged.emit();
      this._runChanged.emit(run);
    } else if (event === 'workflows') {
      this._workflowsChanged.emit();
    } else if (event === 'backfill') {
      this._backfillChanged.emit(data as { id: number; state: string });
    }
  }

  private _setStatus(status: FeedStatus): void {
    if (status !== this._status) {
      this._status = status;
      this._statusChanged.emit(status);
    }
  }

  private _options: IFeedOptions = { limit: 30, reconnectDelay: 2000 };
  private _runs: IRun[] | null = null;
  private _status: FeedStatus = 'closed';
  private _error: string | null = null;
  private _running = false;
  private _abort: AbortController | null = null;
  private _retry = 0;
  private _runChanged = new Signal<Feed, IRun>(this);
  private _listChanged = new Signal<Feed, void>(this);
  private _workflowsChanged = new Signal<Feed, void>(this);
  private _backfillChanged = new Signal<Feed, { id: number; state: string }>(this);
  private _statusChanged = new Signal<Feed, FeedStatus>(this);
  private _opened = new Signal<Feed, void>(this);
}

/** The page's feed (index.ts starts it and gives it the user's settings). */
export const feed = new Feed();

/** Re-render the calling component each time one of `signals` fires. */
export function useSignals(...signals: ISignal<any, any>[]): void {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    const slot = () => bump();
    signals.forEach(s => s.connect(slot));
    return () => signals.forEach(s => s.disconnect(slot));
  }, signals);
}

/**
 * Call `load` now, and again each time one of `signals` fires (never two loads at once:
 * a signal during a load asks for one more after it).
 */
export function useReload(load: () => Promise<void>, ...signals: ISignal<any, any>[]): void {
  useEffect(() => {
    let busy = false;
    let again = false;
    let live = true;
    const run = async () => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        do {
          again = false;
          await load();
        } while (again && live);
      } finally {
        busy = false;
      }
    };
    void run();
    const slot = () => void run();
    signals.forEach(s => s.connect(slot));
    return () => {
      live = false;
      signals.forEach(s => s.disconnect(slot));
    };
  }, [load, ...signals]);
}

/** Re-render every `ms` while `active` (a running duration keeps counting); no request. */
export function useClock(active: boolean, ms: number): void {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    if (!active) {
      return;
    }
    const timer = window.setInterval(bump, ms);
    return () => window.clearInterval(timer);
  }, [active, ms]);
}

/** Do `what`; say `done` or the server's message; refresh every view either way. */
export async function act(what: () => Promise<unknown>, done: string, notify: Notify): Promise<void> {
  try {
    await what();
    notify(done, 'success');
  } catch (e) {
    notify((e as Error).message, 'error');
  }
  changed.emit();
}
