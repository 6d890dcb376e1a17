/**
 * Keeping views current: polling, the `changed` signal, and actions that refresh views.
 */
import { Signal } from '@lumino/signaling';
import { useCallback, useEffect, useRef } from 'react';

export type Notify = (message: string, kind: 'success' | 'error' | 'info') => void;

/** Emitted after anything in the UI changed runs or workflows: views refresh at once. */
export const changed = new Signal<object, void>({});

/** Call `load` now, every `ms`, and when `changed` fires; never two loads at once. */
export function usePolling(load: () => Promise<void>, ms: number): void {
  const busy = useRef(false);
  const tick = useCallback(async () => {
    if (busy.current) {
      return;
    }
    busy.current = true;
    try {
      await load();
    } finally {
      busy.current = false;
    }
  }, [load]);
  useEffect(() => {
    void tick();
    const timer = window.setInterval(() => void tick(), ms);
    const onChanged = () => void tick();
    changed.connect(onChanged);
    return () => {
      window.clearInterval(timer);
      changed.disconnect(onChanged);
    };
  }, [tick, ms]);
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
