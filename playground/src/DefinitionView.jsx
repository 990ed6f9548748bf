// One definition as a form: its input schema rendered by react-jsonschema-form, checked in the page
// first (nothing is sent while a field is wrong), then by the service, whose refusal is shown at
// the field it names. Run sends a dry run (the request preview) and then the call itself.
import { useMemo, useRef, useState } from 'react';
import Form from '@rjsf/core';
import { call, errorSchema } from './api.js';
import { friendlyErrors } from './validator.js';
import { pruned, uiSchemaFor } from './forms.js';
import PicklistWidget from './Picklist.jsx';
import DateTimeWidget from './DateTime.jsx';
import OutputTree from './OutputTree.jsx';
import JsonView from './JsonView.jsx';

const WIDGETS = { picklist: PicklistWidget, datetime: DateTimeWidget };
const DEFAULTS = { emptyObjectFields: 'skipDefaults', arrayMinItems: { populate: 'never' } };
const ENDPOINT = { actions: 'actions', dataSources: 'picklists', triggers: 'triggers' };
const INSTANCE = 'playground';

function Elapsed({ ms }) {
  return ms === undefined ? null : <span className="elapsed">{ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`}</span>;
}

function Failure({ error }) {
  return (
    <div className="failure" role="alert" data-testid="failure">
      <strong>{error.type}</strong>: {error.message}
      {error.problems && error.problems.length ? (
        <ul>{error.problems.map((p, i) => <li key={i}><code>{p.path}</code> {p.message}</li>)}</ul>
      ) : null}
    </div>
  );
}

export default function DefinitionView({ connector, kind, name, definition, picklists, validator, connection }) {
  const ref = `${connector}.${name}`;
  const schema = definition.inputs || { type: 'object', properties: {} };
  const uiSchema = useMemo(() => ({ ...uiSchemaFor(schema), 'ui:submitButtonOptions': { norender: true } }), [schema]);
  const transformErrors = useMemo(() => friendlyErrors(schema), [schema]);
  const [formData, setFormData] = useState({});
  const [extraErrors, setExtraErrors] = useState(undefined);
  const [result, setResult] = useState({});
  const [busy, setBusy] = useState(false);
  const mode = useRef('run');
  const form = useRef(null);
  const examples = Array.isArray(definition.examples) ? definition.examples : [];

  function submit(how) {
    mode.current = how;
    if (form.current) form.current.submit();
  }

  async function send(inputs) {
    setBusy(true);
    setExtraErrors(undefined);
    const steps = {};
    setResult({ sent: inputs });
    const where = `/v1/${ENDPOINT[kind]}/${encodeURIComponent(ref)}`;
    try {
      if (kind === 'actions') {
        const preview = await call('POST', where, { body: inputs, query: { dryRun: 'true', connection } });
        steps.preview = preview;
        setResult({ sent: inputs, ...steps });
        if (mode.current === 'run') {
          steps.response = await call('POST', where, { body: inputs, query: { connection, timeout: 120 } });
        }
      } else if (kind === 'dataSources') {
        steps.response = await call('POST', where, { body: inputs, query: { connection, timeout: 120 } });
      } else {
        steps.response = await call('POST', `${where}/instances/${INSTANCE}/poll`, { body: inputs, query: { connection, timeout: 120 } });
      }
      setResult({ sent: inputs, ...steps });
    } catch (error) {
      if (error.problems && error.problems.length) setExtraErrors(errorSchema(error.problems));
      setResult({ sent: inputs, ...steps, error });
    } finally {
      setBusy(false);
    }
  }

  async function acknowledge(token) {
    try {
      const done = await call('POST', `/v1/triggers/${encodeURIComponent(ref)}/instances/${INSTANCE}/commit`, { body: { commit: token }, query: { connection } });
      setResult((r) => ({ ...r, committed: done }));
    } catch (error) {
      setResult((r) => ({ ...r, error }));
    }
  }

  const response = result.response && result.response.data;
  const events = kind === 'triggers' && response ? response.events || [] : null;
  const options = kind === 'dataSources' && response ? response.result || [] : null;

  return (
    <section className="definition" data-ref={ref}>
      <header>
        <h2>{definition.label}</h2>
        <code className="ref">{ref}</code>
        {definition.method ? <span className="method">{definition.method}</span> : null}
        <p className="description">{definition.description}</p>
      </header>
      <div className="columns">
        <div className="form-column">
          {examples.length ? (
            <div className="examples">
              {examples.map((example, index) => (
                <button type="button" key={index} className="secondary" onClick={() => { setExtraErrors(undefined); setFormData(example); }}>
                  Load example{examples.length > 1 ? ` ${index + 1}` : ''}
                </button>
              ))}
              <button type="button" className="secondary" onClick={() => { setExtraErrors(undefined); setFormData({}); }}>Clear</button>
            </div>
          ) : null}
          <Form
            ref={form}
            schema={schema}
            uiSchema={uiSchema}
            formData={formData}
            validator={validator}
            widgets={WIDGETS}
            formContext={{ connector, picklists, formData, connection }}
            extraErrors={extraErrors}
            showErrorList={false}
            noHtml5Validate
            focusOnFirstError
            transformErrors={transformErrors}
            experimental_defaultFormStateBehavior={DEFAULTS}
            onChange={(event) => { setFormData(event.formData); if (extraErrors) setExtraErrors(undefined); }}
            onSubmit={(event) => send(pruned(event.formData || {}))}
          />
          <div className="actions-bar">
            {kind === 'actions' ? (
              <>
                <button type="button" data-testid="run" disabled={busy} onClick={() => submit('run')}>Run</button>
                <button type="button" className="secondary" data-testid="preview" disabled={busy} onClick={() => submit('preview')}>Preview (dry run)</button>
              </>
            ) : kind === 'triggers' ? (
              <button type="button" data-testid="poll" disabled={busy} onClick={() => submit('run')}>Poll</button>
            ) : (
              <button type="button" data-testid="run" disabled={busy} onClick={() => submit('run')}>Load options</button>
            )}
            {busy ? <span className="busy">Working…</span> : null}
          </div>
        </div>
        <div className="result-column" data-testid="results">
          {result.sent ? (
            <details className="panel">
              <summary>Inputs sent</summary>
              <JsonView value={result.sent} label="Inputs sent" />
            </details>
          ) : null}
          {result.preview ? (
            <div className="panel" data-testid="preview-panel">
              <h3>Request preview (dry run) <Elapsed ms={result.preview.ms} /></h3>
              <JsonView value={result.preview.data} label="Request preview" />
            </div>
          ) : null}
          {result.error ? <Failure error={result.error} /> : null}
          {result.response && kind === 'actions' ? (
            <div className="panel" data-testid="response-panel">
              <h3>Vendor response <Elapsed ms={result.response.ms} /></h3>
              <JsonView value={response} label="Vendor response" />
            </div>
          ) : null}
          {options ? (
            <div className="panel" data-testid="response-panel">
              <h3>{options.length.toLocaleString('en-US')} options <Elapsed ms={result.response.ms} /></h3>
              <JsonView value={options.slice(0, 200)} label="Options" />
            </div>
          ) : null}
          {events ? (
            <div className="panel" data-testid="events-panel">
              <h3>{events.length} {events.length === 1 ? 'event' : 'events'} <Elapsed ms={result.response.ms} /></h3>
              {events.length === 0 ? <p className="muted">No new events. A first poll records where to start from.</p> : null}
              <JsonView value={events} label="Events" />
              {response.commit && !result.committed ? (
                <button type="button" className="secondary" onClick={() => acknowledge(response.commit)}>Acknowledge this batch</button>
              ) : null}
              {result.committed ? <p className="muted">Acknowledged: the next poll starts after these events.</p> : null}
            </div>
          ) : null}
          {kind === 'actions' || definition.output ? (
            <div className="panel">
              <h3>{kind === 'triggers' ? 'Event fields' : 'Output fields'}</h3>
              <OutputTree schema={definition.output} root={kind === 'triggers' ? 'event' : 'data'} />
            </div>
          ) : null}
        </div>
      </div>
    </section>
  );
}
