// The live log: Cellar's recent log lines, then each new one as it is written (server-sent events from ./api/logs).
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './ui.js';

/** The view keeps at most this many lines. */
const MAX_LINES = 1000;

export function LogsPage() {
  const [lines, setLines] = useState([]);
  const [connected, setConnected] = useState(false);
  const [paused, setPaused] = useState(false);
  const [filter, setFilter] = useState('');
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const box = useRef(null);

  useEffect(() => {
    const source = new EventSource('./api/logs');
    let held = [];
    let timer;
    // Lines arrive in bursts (a request log per request): they are added to the view at most ten times a second.
    const flush = () => {
      timer = undefined;
      const add = held;
      held = [];
      setLines((old) => [...old, ...add].slice(-MAX_LINES));
    };
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    source.onmessage = (e) => {
      if (pausedRef.current) return;
      held.push(parseLine(e.data));
      if (held.length > MAX_LINES) held = held.slice(-MAX_LINES);
      timer ??= setTimeout(flush, 100);
    };
    return () => {
      source.close();
      if (timer) clearTimeout(timer);
    };
  }, []);
  useEffect(() => {
    if (box.current && !paused) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, paused]);

  const shown = filter ? lines.filter((l) => l.text.toLowerCase().includes(filter.toLowerCase())) : lines;
  return html`
    <section>
      <h2>Log</h2>
      <div class="toolbar">
        <span class=${connected ? 'status-active' : 'muted'} data-testid="log-state">${connected ? 'live' : 'connecting…'}</span>
        <button onClick=${() => setPaused(!paused)}>${paused ? 'Resume' : 'Pause'}</button>
        <button onClick=${() => setLines([])}>Clear</button>
        <input placeholder="filter" value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)} />
        <span class="muted">${shown.length} of ${lines.length} lines</span>
      </div>
      <div class="logs" ref=${box} data-testid="log-lines">
        ${shown.map((l) => html`<div class=${`level-${l.level}`}>${l.text}</div>`)}
      </div>
    </section>
  `;
}

/** A log line (JSON: time, level, msg, fields) as one readable row. */
function parseLine(data) {
  try {
    const { time, level, msg, ...fields } = JSON.parse(data);
    const rest = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    return { level: level ?? 'info', text: `${time ?? ''} ${String(level ?? '').toUpperCase().padEnd(5)} ${msg ?? ''} ${rest}` };
  } catch {
    return { level: 'info', text: data };
  }
}
