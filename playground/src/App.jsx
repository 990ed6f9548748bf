// The playground: pick a connector and a definition (searchable by label), fill its form, run it
// against the connection chosen by id; or run a flow file step by step.
import { useEffect, useMemo, useState } from 'react';
import { call, setToken } from './api.js';
import { buildValidator } from './validator.js';
import DefinitionView from './DefinitionView.jsx';
import FlowView from './FlowView.jsx';

const KINDS = [
  ['actions', 'Actions'],
  ['dataSources', 'Picklists'],
  ['triggers', 'Triggers'],
];

function readHash() {
  const [connector = '', kind = '', name = ''] = window.location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  return { connector, kind, name };
}

async function optional(path) {
  try {
    return (await call('GET', path)).data;
  } catch {
    return null;
  }
}

function TokenPrompt({ onDone }) {
  const [value, setValue] = useState('');
  return (
    <form className="token-prompt" onSubmit={(e) => { e.preventDefault(); setToken(value); onDone(); }}>
      <p>This service needs its bearer token (COMPONENT_SERVICE_TOKEN). It stays in this browser tab.</p>
      <input type="password" aria-label="Service token" value={value} onChange={(e) => setValue(e.target.value)} autoComplete="off" />
      <button type="submit">Continue</button>
    </form>
  );
}

export default function App() {
  const [catalog, setCatalog] = useState(null);
  const [vocabulary, setVocabulary] = useState(undefined);
  const [connections, setConnections] = useState([]);
  const [flows, setFlows] = useState([]);
  const [failure, setFailure] = useState(null);
  const [attempt, setAttempt] = useState(0);
  const initial = readHash();
  const [connector, setConnector] = useState(initial.connector);
  const [kind, setKind] = useState(initial.connector === 'flows' ? 'flows' : initial.kind || 'actions');
  const [name, setName] = useState(initial.name);
  const [filter, setFilter] = useState('');
  const [chosen, setChosen] = useState({});

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const [{ data }, vocab, conns, flowList] = await Promise.all([
          call('GET', '/v1/catalog'),
          optional(new URL('vocabulary.json', window.location.href).pathname),
          call('GET', '/v1/connections'),
          optional(new URL('flows.json', window.location.href).pathname),
        ]);
        if (!live) return;
        setVocabulary(vocab);
        setConnections(conns.data.connections || []);
        setFlows((flowList && flowList.flows) || []);
        setCatalog(data);
        setFailure(null);
      } catch (error) {
        if (live) setFailure(error);
      }
    })();
    return () => { live = false; };
  }, [attempt]);

  useEffect(() => {
    const follow = () => {
      const wanted = readHash();
      if (wanted.connector === 'flows') {
        setKind('flows');
        return;
      }
      if (wanted.connector) setConnector(wanted.connector);
      if (wanted.kind) setKind(wanted.kind);
      setName(wanted.name);
    };
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, []);

  const validator = useMemo(() => (catalog ? buildValidator(catalog, vocabulary) : null), [catalog, vocabulary]);
  const connectors = catalog ? Object.entries(catalog.connectors) : [];
  const current = catalog && (catalog.connectors[connector] ? connector : connectors.length ? connectors[0][0] : '');
  const entry = current ? catalog.connectors[current] : null;

  useEffect(() => {
    if (!catalog) return;
    window.location.hash = kind === 'flows' ? '#/flows' : `#/${current}/${kind}/${name}`;
  }, [catalog, current, kind, name]);

  if (failure && failure.status === 401) return <TokenPrompt onDone={() => setAttempt((n) => n + 1)} />;
  if (failure) return <div className="failure" role="alert">Could not reach the service: {failure.message}</div>;
  if (!catalog) return <p className="loading">Loading the catalog…</p>;

  const definitions = entry && kind !== 'flows' ? Object.entries(entry[kind] || {}) : [];
  const needle = filter.trim().toLowerCase();
  const listed = definitions
    .filter(([key, d]) => !needle || d.label.toLowerCase().includes(needle) || key.toLowerCase().includes(needle))
    .sort((a, b) => a[1].label.localeCompare(b[1].label));
  const definition = entry && kind !== 'flows' && entry[kind] ? entry[kind][name] : null;
  const mine = connections.filter((c) => c.connector === current);
  const connectionId = chosen[current] || (mine.find((c) => c.id === current) || mine[0] || {}).id || '';
  const connectionShown = mine.find((c) => c.id === connectionId);

  return (
    <div className="app">
      <aside className="sidebar">
        <h1>Playground</h1>
        <label className="stack">Connector
          <select aria-label="Connector" value={kind === 'flows' ? '' : current} disabled={kind === 'flows'}
            onChange={(e) => { setConnector(e.target.value); setName(''); }}>
            {connectors.map(([key, c]) => <option key={key} value={key}>{c.label}</option>)}
          </select>
        </label>
        <div className="tabs" role="tablist">
          {[...KINDS, ['flows', 'Flows']].map(([key, label]) => (
            <button type="button" role="tab" key={key} aria-selected={kind === key} className={kind === key ? 'tab active' : 'tab'}
              onClick={() => { setKind(key); setName(''); }}>{label}</button>
          ))}
        </div>
        {kind !== 'flows' ? (
          <>
            <input className="search" type="search" aria-label="Search definitions" placeholder="Search by label…" value={filter} onChange={(e) => setFilter(e.target.value)} />
            <ul className="definition-list" aria-label="Definitions">
              {listed.map(([key, d]) => (
                <li key={key}>
                  <button type="button" className={key === name ? 'active' : ''} data-key={key} onClick={() => setName(key)} title={key}>{d.label}</button>
                </li>
              ))}
              {listed.length === 0 ? <li className="muted">Nothing matches.</li> : null}
            </ul>
          </>
        ) : null}
        <p className="muted vocabulary" data-vocabulary={vocabulary && vocabulary.keywords ? 'declared' : 'discovered'}>
          {vocabulary && vocabulary.keywords
            ? `Schema vocabulary: ${Object.keys(vocabulary.keywords).join(', ')} (declared)`
            : 'Schema vocabulary: x- keywords found in the catalog'}
        </p>
      </aside>
      <main className="main">
        {kind !== 'flows' ? (
          <div className="connection-bar">
            <label>Connection{' '}
              <select aria-label="Connection" value={connectionId} onChange={(e) => setChosen({ ...chosen, [current]: e.target.value })}>
                {mine.map((c) => <option key={c.id} value={c.id}>{c.id}{c.source ? ` (${c.source})` : ''}</option>)}
                {mine.length === 0 ? <option value="">none stored</option> : null}
              </select>
            </label>
            {connectionShown ? (
              <span className="muted"> secrets set: {(connectionShown.secretsSet || []).join(', ') || 'none'} (never shown here)</span>
            ) : null}
          </div>
        ) : null}
        {kind === 'flows' ? (
          <FlowView flows={flows} connections={connections} />
        ) : definition ? (
          <DefinitionView key={`${current}.${kind}.${name}.${connectionId}`} connector={current} kind={kind} name={name}
            definition={definition} picklists={entry.dataSources || {}} validator={validator} connection={connectionId} />
        ) : (
          <p className="muted intro">Pick a definition on the left: its form is built from its input schema, and every input backed by a picklist is a live dropdown.</p>
        )}
      </main>
    </div>
  );
}
