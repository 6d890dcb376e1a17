/**
 * A backfill as its form and its view read it: default dates, the server's messages in the
 * form's words, the days counted by state; no I/O.
 */
import { stateLabel } from './format';

/** A day `days` before `now` as a date field holds it (YYYY-MM-DD, the browser's calendar). */
export function isoDay(now: Date, days = 0): string {
  const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() - days);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const LABELS: Record<string, string> = {
  from: 'From',
  to: 'To',
  every: 'Every',
  concurrency: 'Runs at once',
  rerun: 'Rerun'
};

/**
 * A server's message in the form's words, and the field it is about (the first it names):
 * the command line's options, which the API's messages share, read as the form's labels
 * (`--to '1' is before --from '3'` reads `To '1' is before From '3'`).
 */
export function inBackfillWords(message: string): { field: string | null; text: string } {
  const m = message.match(/^(?:--)?(from|to|every|concurrency|rerun)\b/);
  if (m) {
    const rest = message.slice(m[0].length).replace(/--(from|to|every|concurrency|rerun)\b/g, (_, o: string) => LABELS[o]);
    return { field: m[1], text: LABELS[m[1]] + rest };
  }
  const p = message.match(/^parameters\.(\w+)|no parameter '(\w+)'/);
  return { field: p ? (p[1] ?? p[2]) : null, text: message };
}

/** The counts of a backfill's days in words, most frequent first: `3 success, 2 pending`. */
export function countsText(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))
    .map(([state, n]) => `${n} ${stateLabel(state)}`)
    .join(', ');
}
