// DynamoDB tables and an item browser: a scan, or a query on the partition key (and the sort key), page by page.
import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api.js';
import { html, ErrorBox, Status, resourcesOf, sameResource } from './ui.js';

export function DynamoDbPage({ scopes }) {
  const tables = resourcesOf(scopes, 'dynamodb');
  const [selected, setSelected] = useState(undefined);
  const current = tables.find((t) => sameResource(t, selected)) ?? tables[0];
  return html`
    <section>
      <h2>Tables</h2>
      ${tables.length === 0
        ? html`<p class="muted">No tables.</p>`
        : html`<table>
            <thead><tr><th>Name</th><th>Account / region</th><th>Status</th><th>Items</th></tr></thead>
            <tbody>
              ${tables.map(
                (t) => html`<tr class=${sameResource(t, current) ? 'selected' : ''} data-testid="ddb-table" data-name=${t.name}>
                  <td><button class="link" onClick=${() => setSelected(t)}>${t.name}</button></td>
                  <td>${t.account} / ${t.region}</td>
                  <td><${Status} value=${t.status} /></td>
                  <td class="muted">${t.detail}</td>
                </tr>`,
              )}
            </tbody>
          </table>`}
    </section>
    ${current ? html`<${ItemBrowser} key=${`${current.account}/${current.region}/${current.name}`} table=${current} />` : null}
  `;
}

function ItemBrowser({ table }) {
  const [mode, setMode] = useState('scan');
  const [pk, setPk] = useState('');
  const [sk, setSk] = useState('');
  const [skOp, setSkOp] = useState('eq');
  const [limit, setLimit] = useState(25);
  const [pages, setPages] = useState([]);
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);

  const run = (start) => {
    setBusy(true);
    setError(undefined);
    const params = { account: table.account, region: table.region, table: table.name, mode, limit, start };
    if (mode === 'query') Object.assign(params, { pk, sk, skOp });
    getJson('dynamodb/items', params).then(
      (page) => {
        setPages(start ? [...pages, page] : [page]);
        setBusy(false);
      },
      (e) => {
        setError(e);
        setBusy(false);
      },
    );
  };
  // A first scan as soon as the table is chosen.
  useEffect(() => run(undefined), []);

  const items = pages.flatMap((p) => p.items);
  const keySchema = pages[0]?.keySchema ?? [];
  const keys = keySchema.map((k) => k.AttributeName);
  const columns = [...keys, ...[...new Set(items.flatMap((i) => Object.keys(i)))].filter((c) => !keys.includes(c)).sort()];
  const next = pages.length ? pages[pages.length - 1].next : undefined;
  return html`
    <section>
      <h2>Items of ${table.name}</h2>
      <form class="toolbar" onSubmit=${(e) => { e.preventDefault(); run(undefined); }}>
        <select value=${mode} onChange=${(e) => setMode(e.currentTarget.value)} data-testid="ddb-mode">
          <option value="scan">Scan</option>
          <option value="query">Query</option>
        </select>
        ${mode === 'query'
          ? html`
              <input placeholder=${`${keys[0] ?? 'partition key'} =`} value=${pk} onInput=${(e) => setPk(e.currentTarget.value)} data-testid="ddb-pk" />
              ${keys[1]
                ? html`<select value=${skOp} onChange=${(e) => setSkOp(e.currentTarget.value)}>
                      <option value="eq">${keys[1]} =</option>
                      <option value="begins">${keys[1]} begins with</option>
                    </select>
                    <input placeholder=${keys[1]} value=${sk} onInput=${(e) => setSk(e.currentTarget.value)} data-testid="ddb-sk" />`
                : null}
            `
          : null}
        <label>Page size <input type="number" min="1" max="200" value=${limit} onInput=${(e) => setLimit(Number(e.currentTarget.value))} class="narrow" /></label>
        <button type="submit" disabled=${busy} data-testid="ddb-run">${mode === 'scan' ? 'Scan' : 'Query'}</button>
      </form>
      <${ErrorBox} error=${error} />
      <p class="muted" data-testid="ddb-count">${items.length} item${items.length === 1 ? '' : 's'}${next ? ' (more to read)' : ''}</p>
      ${items.length
        ? html`<table data-testid="ddb-items">
            <thead><tr>${columns.map((c) => html`<th>${c}</th>`)}</tr></thead>
            <tbody>${items.map((item) => html`<tr data-testid="ddb-item">${columns.map((c) => html`<td class="mono">${item[c] === undefined ? '' : showValue(item[c])}</td>`)}</tr>`)}</tbody>
          </table>`
        : null}
      ${next ? html`<button onClick=${() => run(next)} disabled=${busy} data-testid="ddb-next">Next page</button>` : null}
    </section>
  `;
}

/** An attribute value, shortly: strings and numbers as they are, the rest as DynamoDB JSON. */
function showValue(v) {
  if ('S' in v) return v.S;
  if ('N' in v) return v.N;
  if ('BOOL' in v) return String(v.BOOL);
  if ('NULL' in v) return 'null';
  const text = JSON.stringify(v);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
