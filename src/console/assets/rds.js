// RDS instances: status and endpoint, their events, and graphs of their AWS/RDS metrics over a chosen range.
import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api.js';
import { MetricChart } from './chart.js';
import { html, ErrorBox, Status, formatTime, resourcesOf, sameResource } from './ui.js';

const RANGES = [
  ['1h', 3600],
  ['3h', 3 * 3600],
  ['12h', 12 * 3600],
  ['1d', 86400],
  ['3d', 3 * 86400],
  ['1w', 7 * 86400],
];

export function RdsPage({ scopes }) {
  const instances = resourcesOf(scopes, 'rds');
  const [selected, setSelected] = useState(undefined);
  const current = instances.find((i) => sameResource(i, selected)) ?? instances[0];
  return html`
    <section>
      <h2>DB instances</h2>
      ${instances.length === 0
        ? html`<p class="muted">No DB instances.</p>`
        : html`<table>
            <thead><tr><th>Identifier</th><th>Account / region</th><th>Status</th><th>Engine</th><th>Endpoint</th></tr></thead>
            <tbody>
              ${instances.map(
                (i) => html`<tr class=${sameResource(i, current) ? 'selected' : ''} data-testid="rds-instance" data-name=${i.name}>
                  <td><button class="link" onClick=${() => setSelected(i)}>${i.name}</button></td>
                  <td>${i.account} / ${i.region}</td>
                  <td><${Status} value=${i.status} /></td>
                  <td>${i.detail}</td>
                  <td class="mono">${i.endpoint ?? ''}</td>
                </tr>`,
              )}
            </tbody>
          </table>`}
    </section>
    ${current ? html`<${InstanceDetail} key=${`${current.account}/${current.region}/${current.name}`} instance=${current} />` : null}
  `;
}

function InstanceDetail({ instance }) {
  const [detail, setDetail] = useState(undefined);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    getJson('rds/instance', { account: instance.account, region: instance.region, id: instance.name }).then(setDetail, setError);
  }, [instance.account, instance.region, instance.name]);
  const events = detail?.events ?? [];
  return html`
    <section>
      <h2>${instance.name}</h2>
      <${ErrorBox} error=${error} />
      ${detail?.instance
        ? html`<p>
            <${Status} value=${detail.instance.DBInstanceStatus} /> · ${detail.instance.Engine} ${detail.instance.EngineVersion} ·
            ${detail.instance.DBInstanceClass} · <span class="mono">${detail.instance.Endpoint?.Address}:${detail.instance.Endpoint?.Port}</span> ·
            master user ${detail.instance.MasterUsername}
          </p>`
        : null}
      <${Metrics} instance=${instance} />
      <h3>Events (last 14 days)</h3>
      ${events.length === 0
        ? html`<p class="muted">No events.</p>`
        : html`<table data-testid="rds-events">
            <thead><tr><th>Time</th><th>Message</th><th>Categories</th></tr></thead>
            <tbody>${events.map((e) => html`<tr><td>${formatTime(e.Date)}</td><td>${e.Message}</td><td class="muted">${(e.EventCategories ?? []).join(', ')}</td></tr>`)}</tbody>
          </table>`}
    </section>
  `;
}

function Metrics({ instance }) {
  const [range, setRange] = useState(3600);
  const [tick, setTick] = useState(0);
  const [data, setData] = useState(undefined);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    const end = Math.floor(Date.now() / 1000);
    const start = end - range;
    setError(undefined);
    getJson('rds/metrics', { account: instance.account, region: instance.region, id: instance.name, start, end }).then((d) => setData({ ...d, start, end }), setError);
  }, [instance.account, instance.region, instance.name, range, tick]);
  return html`
    <h3>Metrics</h3>
    <div class="toolbar">
      <label>Range
        <select value=${range} onChange=${(e) => setRange(Number(e.currentTarget.value))} data-testid="metric-range">
          ${RANGES.map(([label, seconds]) => html`<option value=${seconds}>${label}</option>`)}
        </select>
      </label>
      <button onClick=${() => setTick(tick + 1)} data-testid="metric-refresh">Refresh</button>
      ${data ? html`<span class="muted">one point per ${data.period} s (average)</span>` : null}
    </div>
    <${ErrorBox} error=${error} />
    ${data && !data.available ? html`<p class="muted">This Cellar serves no CloudWatch, so there is nothing to draw.</p>` : null}
    ${data?.available ? html`<div class="charts">${data.series.map((s) => html`<${MetricChart} series=${s} start=${data.start} end=${data.end} />`)}</div>` : null}
  `;
}
