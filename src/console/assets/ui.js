// Shared pieces of the console's pages: htm bound to preact, and a few small components.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);

/** A failure, shown where the data would have been. */
export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.code ? `${error.code}: ` : ''}${error.message ?? String(error)}</p>`;
}

/** A status word, coloured by what it says. */
export function Status({ value }) {
  return value ? html`<span class=${`status-${value}`}>${value}</span>` : html`<span class="muted">—</span>`;
}

/** "123456789012 / us-east-1" */
export function scopeLabel(s) {
  return `${s.account} / ${s.region}`;
}

export function sameScope(a, b) {
  return a && b && a.account === b.account && a.region === b.region;
}

/** The resources of one service across the scopes shown, each with its account and region. */
export function resourcesOf(scopes, service) {
  return scopes.flatMap((s) => s.resources.filter((r) => r.service === service).map((r) => ({ ...r, account: s.account, region: s.region })));
}

/** Whether two resources are the same (name, account and region). */
export function sameResource(a, b) {
  return a && b && a.name === b.name && sameScope(a, b);
}

export function formatTime(value) {
  if (value === undefined || value === null) return '';
  const d = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
}
