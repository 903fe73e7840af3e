// The console's read endpoints (served next to this page under ./api/, loopback clients only: docs/console.md).

/** GETs an endpoint; resolves to its JSON, or rejects with {code, message} from the server. */
export async function getJson(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') query.set(k, String(v));
  const qs = query.toString();
  const res = await fetch(`./api/${path}${qs ? `?${qs}` : ''}`, { headers: { accept: 'application/json' } });
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (!res.ok) throw { code: body?.code ?? `HTTP ${res.status}`, message: body?.message ?? res.statusText };
  return body;
}
