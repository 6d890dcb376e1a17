import { describe, expect, it } from 'vitest';

import { countsText, inBackfillWords, isoDay } from '../../src/backfills';
import { reportFileName, reportId, reportTitle, showsCode } from '../../src/reports';

describe('reports', () => {
  it('title, id and file name say which report it is', () => {
    expect(reportTitle({ run: 3 })).toBe('Report · run 3');
    expect(reportTitle({ run: 3, task: 'clean[2]', attempt: 1 })).toBe('Report · run 3 · clean[2] · attempt 1');
    expect(reportId({ run: 3 })).toBe('nbflow-report-3');
    expect(reportId({ run: 3, task: 'clean[2]', attempt: 1 })).toBe('nbflow-report-3-clean%5B2%5D-1');
    expect(reportFileName({ run: 3, task: 'clean[2]', attempt: 1 })).toBe('run-3-clean_2_-attempt-1-report.html');
  });

  it('knows a page with code from one without, framed notebooks included', () => {
    const style = '<style>.jp-InputArea-editor { border: none }</style>';
    expect(showsCode(`${style}<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor">`)).toBe(true);
    expect(showsCode(`${style}<div class="jp-InputArea jp-Cell-inputArea">markdown</div>`)).toBe(false);
    expect(showsCode('<iframe srcdoc="&lt;div class=&quot;jp-Editor jp-InputArea-editor&quot;&gt;">')).toBe(true);
  });
});

describe('backfills', () => {
  it('gives dates as a date field holds them, in the browser calendar', () => {
    const now = new Date(2026, 2, 1, 10, 30); // 1 March 2026, local
    expect(isoDay(now)).toBe('2026-03-01');
    expect(isoDay(now, 1)).toBe('2026-02-28');
    expect(isoDay(now, 60)).toBe('2025-12-31');
  });

  it("puts the server's messages in the form's words, with the field they are about", () => {
    expect(inBackfillWords("--from 'x': expected a date (2026-01-31)")).toEqual({
      field: 'from',
      text: "From 'x': expected a date (2026-01-31)"
    });
    expect(inBackfillWords('concurrency: Input should be greater than or equal to 1')).toEqual({
      field: 'concurrency',
      text: 'Runs at once: Input should be greater than or equal to 1'
    });
    expect(inBackfillWords("--to '2026-01-01' is before --from '2026-01-03'")).toEqual({
      field: 'to',
      text: "To '2026-01-01' is before From '2026-01-03'"
    });
    expect(inBackfillWords("workflow 'w' has no parameter 'y'").field).toBe('y');
    expect(inBackfillWords('tomorrow never comes')).toEqual({ field: null, text: 'tomorrow never comes' });
  });

  it('counts the days by state, the most first', () => {
    expect(countsText({ pending: 2, success: 3, upstream_failed: 2 })).toBe('3 success, 2 pending, 2 upstream failed');
  });
});
