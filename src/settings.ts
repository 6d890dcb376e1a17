/**
 * The extension's settings (schema/plugin.json): their values now, and a signal when the
 * user changes them in JupyterLab's Settings Editor.
 */
import { Signal } from '@lumino/signaling';

export interface INbflowSettings {
  /** Runs the side panel lists. */
  recentRuns: number;
  /** Runs a workflow's matrix view shows. */
  matrixRuns: number;
  /** Runs a value-over-time chart spans. */
  valuesRuns: number;
  /** Milliseconds before reconnecting to the event stream. */
  reconnectDelay: number;
  /** Milliseconds between redraws of running durations. */
  clockTick: number;
  /** The cron expression a new schedule starts with. */
  defaultCron: string;
  /** The time zone a new schedule starts with; empty: the browser's. */
  defaultTimezone: string;
}

/** The defaults, as schema/plugin.json gives them (used until the registry answers). */
export const DEFAULTS: Readonly<INbflowSettings> = {
  recentRuns: 30,
  matrixRuns: 10,
  valuesRuns: 20,
  reconnectDelay: 2000,
  clockTick: 1000,
  defaultCron: '0 6 * * *',
  defaultTimezone: ''
};

/** The settings now: views read them when they draw. */
export const settings: INbflowSettings = { ...DEFAULTS };

/** Emitted after the settings changed. */
export const settingsChanged = new Signal<object, INbflowSettings>({});

/** Take the registry's composite values (defaults where a value is missing or of another type). */
export function applySettings(composite: Partial<Record<keyof INbflowSettings, unknown>>): void {
  for (const key of Object.keys(DEFAULTS) as (keyof INbflowSettings)[]) {
    const value = composite[key];
    (settings as any)[key] = typeof value === typeof DEFAULTS[key] ? value : DEFAULTS[key];
  }
  settingsChanged.emit(settings);
}
