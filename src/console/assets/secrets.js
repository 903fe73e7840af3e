// Secrets, listed without their values; a value is fetched only when "Show value" is pressed, and hidden again.
import { useState } from 'preact/hooks';
import { getJson } from './api.js';
import { html, ErrorBox, Status, resourcesOf } from './ui.js';

export function SecretsPage({ scopes }) {
  const secrets = resourcesOf(scopes, 'secretsmanager');
  if (secrets.length === 0) return html`<section><h2>Secrets</h2><p class="muted">No secrets.</p></section>`;
  return html`
    <section>
      <h2>Secrets</h2>
      <table>
        <thead><tr><th>Name</th><th>Account / region</th><th>Status</th><th>Description</th><th>Value</th></tr></thead>
        <tbody>${secrets.map((s) => html`<${SecretRow} key=${`${s.account}/${s.region}/${s.name}`} secret=${s} />`)}</tbody>
      </table>
    </section>
  `;
}

function SecretRow({ secret }) {
  const [value, setValue] = useState(undefined);
  const [error, setError] = useState(undefined);
  const show = () => {
    setError(undefined);
    getJson('secrets/value', { account: secret.account, region: secret.region, id: secret.arn ?? secret.name }).then(setValue, setError);
  };
  return html`<tr data-testid="secret" data-name=${secret.name}>
    <td class="mono" title=${secret.arn}>${secret.name}</td>
    <td>${secret.account} / ${secret.region}</td>
    <td><${Status} value=${secret.status} /></td>
    <td class="muted">${secret.detail ?? ''}</td>
    <td>
      ${value
        ? html`<span class="mono secret" data-testid="secret-value">${value.secretString ?? `(binary, base64) ${value.secretBinary ?? ''}`}</span>
            <button class="link" onClick=${() => setValue(undefined)}>Hide</button>`
        : html`<span class="muted">hidden</span> <button class="link" onClick=${show} data-testid="secret-show">Show value</button>`}
      <${ErrorBox} error=${error} />
    </td>
  </tr>`;
}
