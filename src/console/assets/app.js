// The console's shell: loads every resource of every account and region, lets the user narrow to one scope, and
// shows one page at a time (the hash names it: #resources, #rds, #dynamodb, #secrets, #kms, #logs).
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { getJson } from './api.js';
import { html, ErrorBox, scopeLabel } from './ui.js';
import { ResourcesPage } from './resources.js';
import { RdsPage } from './rds.js';
import { DynamoDbPage } from './dynamodb.js';
import { SecretsPage } from './secrets.js';
import { KmsPage } from './kms.js';
import { LogsPage } from './logs.js';

const PAGES = [
  ['resources', 'Resources', ResourcesPage],
  ['rds', 'RDS', RdsPage],
  ['dynamodb', 'DynamoDB', DynamoDbPage],
  ['secrets', 'Secrets', SecretsPage],
  ['kms', 'KMS', KmsPage],
  ['logs', 'Logs', LogsPage],
];

function currentPage() {
  const name = location.hash.replace(/^#/, '');
  return PAGES.some(([n]) => n === name) ? name : 'resources';
}

function App() {
  const [page, setPage] = useState(currentPage());
  const [data, setData] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [scopeKey, setScopeKey] = useState('');

  const load = useCallback(() => {
    setError(undefined);
    getJson('resources').then(setData, setError);
  }, []);
  useEffect(load, [load]);
  useEffect(() => {
    const onHash = () => setPage(currentPage());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  const scopes = data?.scopes ?? [];
  const shown = scopeKey ? scopes.filter((s) => `${s.account}/${s.region}` === scopeKey) : scopes;
  const [, , Page] = PAGES.find(([n]) => n === page);
  return html`
    <header>
      <h1>Cellar console</h1>
      <nav>
        ${PAGES.map(([name, label]) => html`<a href=${`#${name}`} class=${page === name ? 'active' : ''}>${label}</a>`)}
      </nav>
      <label>Account and region
        <select value=${scopeKey} onChange=${(e) => setScopeKey(e.currentTarget.value)} data-testid="scope">
          <option value="">all (${scopes.length})</option>
          ${scopes.map((s) => html`<option value=${`${s.account}/${s.region}`}>${scopeLabel(s)}</option>`)}
        </select>
      </label>
      <button onClick=${load} data-testid="refresh">Refresh</button>
    </header>
    <main>
      <${ErrorBox} error=${error} />
      ${data?.truncated ? html`<p class="muted">Only the first scopes are listed.</p>` : null}
      ${data === undefined && !error ? html`<p class="muted">Loading…</p>` : null}
      ${data !== undefined || page === 'logs' ? html`<${Page} scopes=${shown} reload=${load} />` : null}
    </main>
  `;
}

const root = document.getElementById('app');
// The page's "Loading" placeholder goes; preact renders into the emptied container.
root.textContent = '';
render(html`<${App} />`, root);
