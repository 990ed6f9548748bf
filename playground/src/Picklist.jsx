// A type-ahead dropdown over one of the connector's picklists (an input's `x-datasource`), filled
// live from POST /v1/picklists/{ref}. Typing narrows on the server when the picklist takes
// `search`, in the page otherwise. Inputs the picklist declares (customerId, jobId, …) are taken
// from the form, so a dependent list reloads when the value it depends on changes. Only the rows
// in view are rendered, so a list of 10,000 stays responsive.
import { useEffect, useMemo, useRef, useState } from 'react';
import { call } from './api.js';

const ROW = 30;
const VISIBLE = 10;

function typed(schema, key) {
  const types = [].concat(schema.type || 'string');
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(String(key))) {
    return Number(key);
  }
  return String(key);
}

function fits(value, schema) {
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) return false;
  return [].concat(schema.type || []).some((type) => (
    (type === 'integer' && Number.isInteger(value))
    || (type === 'number' && typeof value === 'number')
    || (type === 'string' && typeof value === 'string')
    || (type === 'boolean' && typeof value === 'boolean')
    || (type === 'array' && Array.isArray(value))
  )) || !schema.type;
}

/** The picklist's own inputs (other than `search`) that the form holds a fitting value for. */
export function dependencies(picklist, formData) {
  const props = (picklist && picklist.inputs && picklist.inputs.properties) || {};
  const deps = {};
  for (const [name, schema] of Object.entries(props)) {
    if (name === 'search') continue;
    const value = formData && formData[name];
    if (value !== undefined && value !== null && value !== '' && fits(value, schema || {})) deps[name] = value;
  }
  return deps;
}

export default function PicklistWidget(props) {
  const { id, value, onChange, schema, label, required, disabled, readonly, registry, rawErrors, onBlur, onFocus } = props;
  const context = registry.formContext || {};
  const source = schema['x-datasource'];
  const ref = `${context.connector}.${source}`;
  const picklist = context.picklists ? context.picklists[source] : undefined;
  const takesSearch = Boolean(picklist && picklist.inputs && picklist.inputs.properties && picklist.inputs.properties.search);
  const needsSearch = Boolean(picklist && picklist.inputs && (picklist.inputs.required || []).includes('search'));
  const deps = dependencies(picklist, context.formData);
  const depsKey = JSON.stringify(deps);

  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState('');
  const [items, setItems] = useState(null);
  const [loading, setLoading] = useState(false);
  const [failure, setFailure] = useState('');
  const [active, setActive] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [labels, setLabels] = useState({});
  const listRef = useRef(null);
  const generation = useRef(0);

  // a dependency changed: what was loaded no longer applies
  useEffect(() => {
    setItems(null);
  }, [depsKey, context.connection]);

  useEffect(() => {
    if (!open) return undefined;
    const serverQuery = takesSearch ? query.trim() : '';
    if (items && items.query === serverQuery && items.deps === depsKey) return undefined;
    if (needsSearch && !serverQuery) return undefined; // this picklist lists nothing without a search
    const mine = ++generation.current;
    const controller = new AbortController();
    const timer = setTimeout(async () => {
      setLoading(true);
      setFailure('');
      try {
        const { data } = await call('POST', `/v1/picklists/${encodeURIComponent(ref)}`, {
          body: deps,
          query: { search: serverQuery, connection: context.connection },
          signal: controller.signal,
        });
        if (mine !== generation.current) return;
        const result = Array.isArray(data && data.result) ? data.result : [];
        setItems({ query: serverQuery, deps: depsKey, list: result });
        setLabels((known) => {
          const next = { ...known };
          for (const item of result.slice(0, 20000)) next[String(item.key)] = item.label;
          return next;
        });
      } catch (error) {
        if (error.name !== 'AbortError' && mine === generation.current) setFailure(error.message);
      } finally {
        if (mine === generation.current) setLoading(false);
      }
    }, serverQuery ? 200 : 0);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [open, query, depsKey, ref, takesSearch, needsSearch, items, context.connection]);

  const shown = useMemo(() => {
    const list = (items && items.list) || [];
    const needle = query.trim().toLowerCase();
    if (!needle || takesSearch) return list;
    return list.filter((item) => String(item.label).toLowerCase().includes(needle) || String(item.key).includes(needle));
  }, [items, query, takesSearch]);

  useEffect(() => {
    setActive(0);
    setScrollTop(0);
    if (listRef.current) listRef.current.scrollTop = 0;
  }, [shown]);

  function choose(item) {
    setLabels((known) => ({ ...known, [String(item.key)]: item.label }));
    onChange(typed(schema, item.key));
    setOpen(false);
    setQuery('');
  }

  function keyDown(event) {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      setOpen(true);
      const next = Math.max(0, Math.min(shown.length - 1, active + (event.key === 'ArrowDown' ? 1 : -1)));
      setActive(next);
      const list = listRef.current;
      if (list) {
        if (next * ROW < list.scrollTop) list.scrollTop = next * ROW;
        if ((next + 1) * ROW > list.scrollTop + VISIBLE * ROW) list.scrollTop = (next + 1 - VISIBLE) * ROW;
      }
    } else if (event.key === 'Enter') {
      event.preventDefault();
      if (open && shown[active]) choose(shown[active]);
      else if (query.trim()) {
        onChange(typed(schema, query.trim()));
        setOpen(false);
        setQuery('');
      }
    } else if (event.key === 'Escape') {
      setOpen(false);
      setQuery('');
    }
  }

  const hasValue = value !== undefined && value !== null && value !== '';
  const display = hasValue ? labels[String(value)] || String(value) : '';
  const first = Math.max(0, Math.floor(scrollTop / ROW) - 2);
  const last = Math.min(shown.length, first + VISIBLE + 4);
  const listId = `${id}__listbox`;

  return (
    <div className={`picklist${rawErrors && rawErrors.length ? ' has-error' : ''}`} data-picklist={ref}>
      <div className="picklist-control">
        <input
          id={id}
          role="combobox"
          aria-label={label || schema.title || source}
          aria-expanded={open}
          aria-controls={listId}
          aria-autocomplete="list"
          aria-required={required || undefined}
          autoComplete="off"
          className="form-control"
          disabled={disabled || readonly}
          placeholder={hasValue ? '' : `Pick from ${picklist ? picklist.label : source}…`}
          value={open ? query : display}
          onChange={(event) => {
            setQuery(event.target.value);
            setOpen(true);
          }}
          onClick={() => setOpen(true)}
          onFocus={() => {
            // focus alone (a field with an error is focused) loads nothing: a click or typing does
            if (onFocus) onFocus(id, value);
          }}
          onBlur={() => {
            setTimeout(() => setOpen(false), 150);
            if (onBlur) onBlur(id, value);
          }}
          onKeyDown={keyDown}
        />
        {hasValue && !disabled && !readonly ? (
          <button type="button" className="picklist-clear" aria-label={`Clear ${label || source}`}
            onMouseDown={(event) => event.preventDefault()}
            onClick={() => onChange(undefined)}>×</button>
        ) : null}
      </div>
      {open ? (
        <div className="picklist-menu">
          <div className="picklist-status" role="status">
            {loading ? 'Loading…' : failure ? `Could not load: ${failure}`
              : needsSearch && !query.trim() ? 'Type to search'
              : items && items.query !== (takesSearch ? query.trim() : '') ? 'Searching…'
              : items ? `${shown.length.toLocaleString('en-US')} ${shown.length === 1 ? 'match' : 'matches'}${takesSearch ? ' (searched by the service)' : ''}` : ''}
            {Object.keys(deps).length ? <span className="picklist-deps"> · for {Object.entries(deps).map(([k, v]) => `${k} ${v}`).join(', ')}</span> : null}
          </div>
          <ul
            id={listId}
            role="listbox"
            ref={listRef}
            className="picklist-list"
            style={{ height: Math.min(VISIBLE, Math.max(shown.length, 1)) * ROW }}
            onScroll={(event) => setScrollTop(event.currentTarget.scrollTop)}
            onMouseDown={(event) => event.preventDefault()}
          >
            <li style={{ height: shown.length * ROW, position: 'relative' }} role="presentation">
              <ul role="presentation" className="picklist-window" style={{ top: first * ROW }}>
                {shown.slice(first, last).map((item, offset) => {
                  const index = first + offset;
                  return (
                    <li
                      key={`${item.key}`}
                      role="option"
                      aria-selected={index === active}
                      data-key={item.key}
                      className={index === active ? 'active' : ''}
                      style={{ height: ROW }}
                      onMouseEnter={() => setActive(index)}
                      onClick={() => choose(item)}
                    >
                      {item.label}
                    </li>
                  );
                })}
              </ul>
            </li>
          </ul>
        </div>
      ) : null}
    </div>
  );
}
