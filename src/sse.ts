/**
 * Server-sent events as text, and the list of runs they keep current; no I/O.
 */

export interface IServerEvent {
  event: string;
  data: string;
}

/**
 * The complete events at the start of `buffer` (an event ends with a blank line) and what is
 * left of it, the start of an event still on its way. Comment lines (`: keep-alive`) and
 * fields other than `event` and `data` are dropped; an event without a name is a `message`.
 */
export function parseEvents(buffer: string): { events: IServerEvent[]; rest: string } {
  const text = buffer.replace(/\r\n?/g, '\n');
  const events: IServerEvent[] = [];
  let start = 0;
  for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n', start)) {
    const block = text.slice(start, end);
    start = end + 2;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) {
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) {
        value = value.slice(1);
      }
      if (field === 'event') {
        event = value;
      } else if (field === 'data') {
        data.push(value);
      }
    }
    if (data.length) {
      events.push({ event, data: data.join('\n') });
    }
  }
  return { events, rest: text.slice(start) };
}

/** A run as lists show it: the `id` orders runs, newest first. */
export interface IListed {
  id: number;
}

/**
 * `runs` with `run` in its place (replacing the run of the same id, or added by its id),
 * newest first, at most `limit` long. A new array: React sees the change.
 */
export function mergeRun<T extends IListed>(runs: readonly T[], run: T, limit: number): T[] {
  const out = runs.filter(r => r.id !== run.id);
  const at = out.findIndex(r => r.id < run.id);
  out.splice(at < 0 ? out.length : at, 0, run);
  return out.slice(0, Math.max(0, limit));
}
