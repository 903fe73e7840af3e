// One CloudWatch metric as a uPlot line chart. The container says how many points it drew (data-points), which the
// console's browser test reads.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './ui.js';

/** The x axis spans the chosen range [start, end] (epoch seconds), whatever part of it has data. */
export function MetricChart({ series, start, end, height = 160 }) {
  const box = useRef(null);
  useEffect(() => {
    if (!box.current || series.timestamps.length === 0) return undefined;
    const plot = new uPlot(
      {
        width: Math.max(240, box.current.clientWidth),
        height,
        legend: { show: false },
        scales: { x: { time: true, range: () => [start, end] } },
        series: [{}, { label: series.metric, stroke: '#2f5fd0', width: 1.5, points: { show: series.timestamps.length < 60 } }],
        axes: [{}, { size: 60, values: (_u, splits) => splits.map(formatNumber) }],
      },
      [series.timestamps, series.values],
      box.current,
    );
    return () => plot.destroy();
  }, [series, start, end, height]);
  const last = series.values.length ? series.values[series.values.length - 1] : undefined;
  return html`
    <div class="chart" data-testid="metric-chart" data-metric=${series.metric} data-points=${series.timestamps.length}>
      <div class="title">${series.metric} ${last !== undefined ? html`<span class="muted">last ${formatNumber(last)}</span>` : null}</div>
      ${series.timestamps.length === 0 ? html`<p class="muted">No data points in this range.</p>` : null}
      <div ref=${box}></div>
    </div>
  `;
}

const UNITS = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** A value shortly: 204.3M, 1.24, 0.25 (bytes, counts and percentages alike; CloudWatch's units are not shown). */
function formatNumber(n) {
  for (const [size, unit] of UNITS) if (Math.abs(n) >= size) return `${Number((n / size).toPrecision(4))}${unit}`;
  return String(Number(n.toPrecision(4)));
}
