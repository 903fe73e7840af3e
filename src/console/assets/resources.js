// Every resource, by account and region, with its status and endpoint.
import { html, Status, scopeLabel } from './ui.js';

const SERVICE_NAMES = { dynamodb: 'DynamoDB', rds: 'RDS', secretsmanager: 'Secrets Manager', kms: 'KMS' };

export function ResourcesPage({ scopes }) {
  if (scopes.length === 0) return html`<section><p class="muted">No resources yet in any account or region.</p></section>`;
  return scopes.map(
    (s) => html`
      <section data-testid="scope-resources" data-scope=${`${s.account}/${s.region}`}>
        <h2>${scopeLabel(s)}</h2>
        ${s.errors.map((e) => html`<p class="error">${SERVICE_NAMES[e.service] ?? e.service}: ${e.message}</p>`)}
        <table>
          <thead><tr><th>Service</th><th>Type</th><th>Name</th><th>Status</th><th>Endpoint</th><th>Details</th></tr></thead>
          <tbody>
            ${s.resources.map(
              (r) => html`<tr data-testid="resource" data-name=${r.name}>
                <td>${SERVICE_NAMES[r.service] ?? r.service}</td>
                <td>${r.type}</td>
                <td class="mono" title=${r.arn ?? ''}>${r.name}</td>
                <td><${Status} value=${r.status} /></td>
                <td class="mono">${r.endpoint ?? ''}</td>
                <td class="muted">${r.detail ?? ''}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </section>
    `,
  );
}
