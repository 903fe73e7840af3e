// KMS keys: id, aliases, state, spec and usage.
import { html, Status, resourcesOf } from './ui.js';

export function KmsPage({ scopes }) {
  const keys = resourcesOf(scopes, 'kms');
  return html`
    <section>
      <h2>KMS keys</h2>
      ${keys.length === 0
        ? html`<p class="muted">No keys.</p>`
        : html`<table>
            <thead><tr><th>Key id</th><th>Account / region</th><th>State</th><th>Aliases, manager, spec, usage, description</th></tr></thead>
            <tbody>
              ${keys.map(
                (k) => html`<tr data-testid="kms-key" data-name=${k.name}>
                  <td class="mono" title=${k.arn}>${k.name}</td>
                  <td>${k.account} / ${k.region}</td>
                  <td><${Status} value=${k.status} /></td>
                  <td class="muted">${k.detail}</td>
                </tr>`,
              )}
            </tbody>
          </table>`}
    </section>
  `;
}
