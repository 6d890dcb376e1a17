/**
 * Values over time: each glued number of a workflow as a small line chart across its last
 * runs (GET workflows/NAME/values), shown in the run view; a point opens its run.
 */
import { Signal } from '@lumino/signaling';
import React, { useCallback, useEffect, useState } from 'react';

import { FINISHED, IRun, IValues, api } from './api';
import { IValuesRow, change, chart, numberText, numericColumns } from './chart';
import { stateColour, stateLabel, when } from './format';
import { changed, feed, useReload, useSignals } from './live';
import { settings, settingsChanged } from './settings';

const GUTTER = 52; // the value labels left of the plot
const PLOT = { width: 280, height: 60, pad: 6 };

function ValueChart(props: {
  column: string;
  rows: IValuesRow[];
  current: number;
  openRun: (id: number) => void;
}): JSX.Element {
  const { column, rows, current } = props;
  const c = chart(rows, column, PLOT);
  const mine = c.points.find(p => p.run === current);
  const last = c.points[c.points.length - 1];
  return (
    <div className="nbflow-value-chart" data-value={column}>
      <div className="nbflow-value-chart-name" title={column}>
        {column}
      </div>
      <svg
        className="nbflow-chart"
        width={GUTTER + PLOT.width}
        height={PLOT.height}
        viewBox={`0 0 ${GUTTER + PLOT.width} ${PLOT.height}`}
        role="img"
        aria-label={`${column} over the last ${rows.length} runs`}
      >
        <text x={GUTTER - 6} y={PLOT.pad + 4} textAnchor="end" className="nbflow-chart-high">
          {numberText(c.high)}
        </text>
        <text x={GUTTER - 6} y={PLOT.height - PLOT.pad + 3} textAnchor="end" className="nbflow-chart-low">
          {numberText(c.low)}
        </text>
        <g transform={`translate(${GUTTER}, 0)`}>
          <rect className="nbflow-chart-frame" x={0} y={0} width={PLOT.width} height={PLOT.height} />
          <path className="nbflow-chart-line" d={c.path} />
          {c.points.map(p => (
            <circle
              key={p.run}
              className={`nbflow-chart-point ${stateColour(p.state)} ${p.run === current ? 'nbflow-current' : ''}`}
              data-run={p.run}
              data-value={p.value}
              cx={p.x}
              cy={p.y}
              r={p.run === current ? 4.5 : 3}
              onClick={() => props.openRun(p.run)}
            >
              <title>{`run #${p.run} (${stateLabel(p.state)}, ${when(p.start_time)}): ${numberText(p.value, 8)}`}</title>
            </circle>
          ))}
        </g>
      </svg>
      <div className="nbflow-value-chart-now">
        {mine ? (
          <>
            this run <strong>{numberText(mine.value)}</strong>
          </>
        ) : (
          <span className="nbflow-muted">not in this run</span>
        )}
        {last && (
          <div className="nbflow-muted">
            latest #{last.run}: {numberText(last.value)} {change(c.points)}
          </div>
        )}
      </div>
    </div>
  );
}

/**
 * Charts of the numbers a workflow's tasks glue, across its last runs (as many as the
 * `valuesRuns` setting says). Fetched again when one of its runs finishes, never polled.
 */
export function ValuesOverTime(props: {
  workflow: string;
  current: number;
  openRun: (id: number) => void;
}): JSX.Element | null {
  useSignals(settingsChanged);
  const { workflow } = props;
  const last = settings.valuesRuns;
  const [values, setValues] = useState<IValues | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [finished] = useState(() => new Signal<object, void>({}));
  const load = useCallback(async () => {
    try {
      setValues(await api.values(workflow, last));
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, [workflow, last]);
  useReload(load, changed, feed.opened, finished);
  useEffect(() => {
    // A run of the workflow that ends has its values: draw them.
    const pushed = (_: unknown, run: IRun) => {
      if (run.workflow === workflow && FINISHED.has(run.state)) {
        finished.emit();
      }
    };
    feed.runChanged.connect(pushed);
    return () => void feed.runChanged.disconnect(pushed);
  }, [workflow]);

  if (error) {
    return <div className="nbflow-error nbflow-values-error">Values over time: {error}</div>;
  }
  const columns = values ? numericColumns(values.runs, values.columns) : [];
  if (!values || !columns.length) {
    return null; // no number glued by two runs yet: nothing to chart
  }
  return (
    <details className="nbflow-values-over-time" open>
      <summary>
        Values over time{' '}
        <span className="nbflow-muted">
          (glued numbers, the last {values.runs.length} runs of {workflow}; a point opens its run)
        </span>
      </summary>
      {columns.map(column => (
        <ValueChart key={column} column={column} rows={values.runs} current={props.current} openRun={props.openRun} />
      ))}
    </details>
  );
}
