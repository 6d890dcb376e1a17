/**
 * How states, times and values read on screen; no I/O.
 */

/** Human labels of task and run states (the API's names use underscores). */
export function stateLabel(state: string): string {
  return state.replace(/_/g, ' ');
}

/** The CSS classes of a state's pill (see style/base.css). */
export function stateClass(state: string): string {
  return `nbflow-state ${stateColour(state)}`;
}

/** The CSS class that gives a state's colour (as `--nbflow-colour`) to anything. */
export function stateColour(state: string): string {
  return `nbflow-state-${state.replace(/_/g, '-')}`;
}

export function seconds(start: string | null, end: string | null, now = Date.now()): number | null {
  if (!start) {
    return null;
  }
  const t0 = Date.parse(start);
  const t1 = end ? Date.parse(end) : now;
  return Math.max(0, (t1 - t0) / 1000);
}

export function duration(start: string | null, end: string | null, now = Date.now()): string {
  return secondsText(seconds(start, end, now));
}

/** A number of seconds as people read a duration (`4.2 s`, `3 min 5 s`, `2 h 10 min`). */
export function secondsText(s: number | null): string {
  if (s === null) {
    return '';
  }
  // Rounded before it is split: 59.97 s reads `1 min 0 s`, not `60.0 s`.
  if (s < 59.95) {
    return `${s.toFixed(1)} s`;
  }
  const total = Math.round(s);
  const m = Math.floor(total / 60);
  if (m < 60) {
    return `${m} min ${total % 60} s`;
  }
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * A date and time in the IANA time zone `timezone`, to the minute, with the zone's short
 * name (`Jan 2, 2024, 07:30 CET`): a schedule's next fire as its cron reads. An unknown
 * zone falls back to the browser's.
 */
export function whenIn(iso: string | null, timezone: string, locale?: string): string {
  if (!iso) {
    return '';
  }
  const options: Intl.DateTimeFormatOptions = {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short'
  };
  try {
    return new Date(iso).toLocaleString(locale, { ...options, timeZone: timezone });
  } catch {
    return new Date(iso).toLocaleString(locale, options);
  }
}

/** A local date and time, to the second. */
export function when(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const d = new Date(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit'
  });
}

/** A value as compact JSON, cut at `max` characters. */
export function short(value: unknown, max = 60): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The browser's IANA time zone, the default for a new schedule. */
export function localTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** Where an attempt ran, as the run view shows it: a Dask worker's address, or this machine. */
export function ranOn(
  executor: { kind: string; worker?: string | null; scheduler?: string | null } | null | undefined
): string {
  if (!executor) {
    return '';
  }
  if (executor.kind === 'local') {
    return 'this machine';
  }
  return executor.worker || (executor.scheduler ? `${executor.kind} ${executor.scheduler}` : executor.kind);
}
