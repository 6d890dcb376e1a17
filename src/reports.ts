/**
 * Reports in JupyterLab: a report's tab title, widget id and file name, and whether its
 * page shows code; no I/O.
 */

export interface IReportTarget {
  run: number;
  /** An attempt's report (`KEY` or `KEY[i]`); without it, the run's page. */
  task?: string;
  attempt?: number;
}

/** The tab's title: `Report · run 3`, `Report · run 3 · clean · attempt 2`. */
export function reportTitle(target: IReportTarget): string {
  const parts = ['Report', `run ${target.run}`];
  if (target.task) {
    parts.push(target.task);
    if (target.attempt !== undefined) {
      parts.push(`attempt ${target.attempt}`);
    }
  }
  return parts.join(' · ');
}

/** The widget's id, one per report. */
export function reportId(target: IReportTarget): string {
  const task = target.task ? `-${encodeURIComponent(target.task)}` : '';
  const attempt = target.attempt !== undefined ? `-${target.attempt}` : '';
  return `nbflow-report-${target.run}${task}${attempt}`;
}

/**
 * Whether a report page shows code: a code cell's editor area in the page (or, escaped, in
 * a notebook framed inside the run's page). Markdown cells have an input area but no
 * editor; the stylesheet names the class too, so only an element's class attribute counts.
 */
export function showsCode(page: string): boolean {
  return /class=(?:"|&quot;)[^"&<>]*\bjp-InputArea-editor\b/.test(page);
}

/** The file a download of the report is saved as. */
export function reportFileName(target: IReportTarget): string {
  const task = target.task ? `-${target.task.replace(/[^A-Za-z0-9_.-]+/g, '_')}` : '';
  const attempt = target.attempt !== undefined ? `-attempt-${target.attempt}` : '';
  return `run-${target.run}${task}${attempt}-report.html`;
}
