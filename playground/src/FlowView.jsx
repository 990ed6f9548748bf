// A flow file (flows/*.json) run by the service: every step with the inputs it was given, its
// output and its time; the run stops at the failing step, and the steps after it are shown unrun.
import { useEffect, useMemo, useState } from 'react';
import { call } from './api.js';
import JsonView from './JsonView.jsx';

function stepRef(step) {
  return step.action || step.picklist || '';
}

export default function FlowView({ flows, connections }) {
  const [file, setFile] = useState(flows.length ? flows[0].file : '');
  const [chosen, setChosen] = useState({});
  const [dryRun, setDryRun] = useState(false);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState(null);
  const entry = flows.find((f) => f.file === file);
  const [text, setText] = useState(entry ? JSON.stringify(entry.flow, null, 2) : '');
  const [parseError, setParseError] = useState('');
  const flow = useMemo(() => {
    try {
      return JSON.parse(text);
    } catch {
      return entry ? entry.flow : null;
    }
  }, [text, entry]);
  const connectors = useMemo(() => {
    const names = new Set();
    for (const step of (flow && flow.steps) || []) names.add(stepRef(step).split('.')[0]);
    if (flow && flow.trigger && flow.trigger.trigger) names.add(flow.trigger.trigger.split('.')[0]);
    return [...names].filter(Boolean).sort();
  }, [flow]);

  useEffect(() => {
    setOutcome(null);
    setParseError('');
    setText(entry ? JSON.stringify(entry.flow, null, 2) : '');
  }, [file]);

  async function run() {
    setOutcome(null);
    try {
      JSON.parse(text);
      setParseError('');
    } catch (error) {
      setParseError(`The flow is not JSON: ${error.message}`);
      return;
    }
    setBusy(true);
    const ids = {};
    for (const name of connectors) if (chosen[name]) ids[name] = chosen[name];
    const body = { flow, connections: ids };
    if (flow.trigger) body.instance = 'playground-flow';
    const started = performance.now();
    try {
      const { data } = await call('POST', '/v1/flows/run', { body, query: { dryRun: dryRun ? 'true' : '', timeout: 300 } });
      setOutcome({ data, ms: performance.now() - started });
    } catch (error) {
      setOutcome({ error, ms: performance.now() - started });
    } finally {
      setBusy(false);
    }
  }

  if (!flows.length) return <p className="muted">No flow files were found next to the catalog.</p>;
  const ran = (outcome && outcome.data && outcome.data.steps) || [];
  const byName = Object.fromEntries(ran.map((s) => [s.name, s]));

  return (
    <section className="flow-view">
      <div className="flow-controls">
        <label>Flow file{' '}
          <select aria-label="Flow file" value={file} onChange={(e) => setFile(e.target.value)}>
            {flows.map((f) => <option key={f.file} value={f.file}>{f.file}</option>)}
          </select>
        </label>
        {connectors.map((name) => (
          <label key={name}>{name} connection{' '}
            <select aria-label={`${name} connection`} value={chosen[name] || ''} onChange={(e) => setChosen({ ...chosen, [name]: e.target.value })}>
              <option value="">default</option>
              {connections.filter((c) => c.connector === name).map((c) => <option key={c.id} value={c.id}>{c.id}</option>)}
            </select>
          </label>
        ))}
        <label><input type="checkbox" checked={dryRun} onChange={(e) => setDryRun(e.target.checked)} /> dry run</label>
        <button type="button" data-testid="run-flow" disabled={busy || !flow} onClick={run}>Run flow</button>
        {busy ? <span className="busy">Running…</span> : null}
      </div>
      {flow ? (
        <>
          <h2>{flow.name}</h2>
          <p className="description">{flow.description}</p>
        </>
      ) : null}
      <details className="flow-source">
        <summary>Edit this flow before running it</summary>
        <textarea aria-label="Flow JSON" className="form-control" spellCheck={false} rows={16} value={text}
          onChange={(e) => setText(e.target.value)} />
        {parseError ? <div className="failure" role="alert">{parseError}</div> : null}
      </details>
      {outcome && outcome.data ? (
        <p className={outcome.data.ok ? 'flow-ok' : 'flow-failed'} data-testid="flow-summary" role="status">
          {outcome.data.ok ? `Finished: ${ran.length} of ${(flow.steps || []).length} steps` : `Stopped at step ${outcome.data.failed}`}
          {' '}in {(outcome.ms / 1000).toFixed(2)} s
        </p>
      ) : null}
      {outcome && outcome.error ? (
        <div className="failure" role="alert" data-testid="failure"><strong>{outcome.error.type}</strong>: {outcome.error.message}
          {outcome.error.problems.length ? <ul>{outcome.error.problems.map((p, i) => <li key={i}><code>{p.path}</code> {p.message}</li>)}</ul> : null}
        </div>
      ) : null}
      <ol className="flow-steps">
        {((flow && flow.steps) || []).map((step) => {
          const done = byName[step.name];
          const status = done ? done.status : outcome && outcome.data ? 'not run' : 'pending';
          return (
            <li key={step.name} className={`flow-step status-${status.replace(' ', '-')}`} data-step={step.name} data-status={status}>
              <div className="step-head">
                <strong>{step.title || step.name}</strong> <code>{stepRef(step)}</code>
                <span className="step-status">{status}</span>
                {done ? <span className="elapsed">{done.ms} ms</span> : null}
              </div>
              <details open={Boolean(done && done.status === 'failed')}>
                <summary>Inputs</summary>
                <JsonView value={done ? done.inputs : step.inputs} label={`${step.name} inputs`} />
              </details>
              {done && done.error ? (
                <div className="failure"><strong>{done.error.type}</strong>: {done.error.message}</div>
              ) : null}
              {done && done.output !== undefined ? (
                <details>
                  <summary>Output</summary>
                  <JsonView value={done.output} label={`${step.name} output`} />
                </details>
              ) : null}
              {done && done.needs ? <p className="muted">Waits for {done.needs.join(', ')} (dry run)</p> : null}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
