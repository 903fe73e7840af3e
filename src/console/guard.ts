/**
 * @module console/guard
 * Who may use the web console: it is bound to loopback (docs/console.md, "Authentication"). Its read endpoints act
 * as the root of any account Cellar holds and can reveal secret values, so only a client on this machine may reach
 * them, and only from the console's own pages:
 *   - the connection comes from a loopback address (127.0.0.0/8, ::1, or IPv4-mapped 127.x);
 *   - the Host header names a loopback host (localhost, *.localhost, 127.x, [::1]), so a page of another site whose
 *     name was pointed at 127.0.0.1 (DNS rebinding) is refused;
 *   - a request a browser marks as coming from another origin (`Origin` not the console's own, or
 *     `Sec-Fetch-Site: cross-site`/`same-site`) is refused, so a page of another site cannot read the answers.
 * Everything refused gets 403 and nothing is read.
 */
import type { WireRequest } from '../protocols/types.js';

const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** Whether a socket's remote address is a loopback address. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return LOOPBACK_V4.test(v4);
}

/** Whether a Host header (host[:port]) names this machine's loopback interface. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host || host.length > 260) return false;
  let name: string;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) return false;
    name = host.slice(1, close);
    if (!/^(?::\d{1,5})?$/.test(host.slice(close + 1))) return false;
    return name === '::1';
  }
  const colon = host.indexOf(':');
  name = (colon >= 0 ? host.slice(0, colon) : host).toLowerCase();
  if (colon >= 0 && !/^\d{1,5}$/.test(host.slice(colon + 1))) return false;
  return name === 'localhost' || name.endsWith('.localhost') || LOOPBACK_V4.test(name);
}

/**
 * Why a request may not use the console, or undefined when it may. `data`: the request reads the console's API
 * (the origin checks apply); the page and its scripts, which hold no data, may be opened from a link on another site.
 */
export function consoleRefusal(req: WireRequest, data: boolean): string | undefined {
  if (!isLoopbackAddress(req.remoteAddress)) return 'the console serves clients on this machine only (loopback)';
  const host = req.headers['host'];
  if (!isLoopbackHost(host)) return 'the console answers only to a loopback Host (localhost, 127.0.0.1 or [::1])';
  if (!data) return undefined;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'the console answers only its own pages';
  const origin = req.headers['origin'];
  if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) return 'the console answers only its own pages';
  return undefined;
}
