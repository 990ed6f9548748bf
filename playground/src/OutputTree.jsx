// The output schema as the tree of fields a builder maps from: each field's path, type and help.
function typeOf(schema) {
  if (!schema || typeof schema !== 'object') return 'any';
  const types = [].concat(schema.type || (schema.properties ? 'object' : schema.items ? 'array' : []));
  let text = types.filter((t) => t !== 'null').join(' | ') || (schema.anyOf || schema.oneOf ? 'one of' : 'any');
  if (schema.format) text += ` (${schema.format})`;
  if (types.includes('null')) text += ', nullable';
  return text;
}

function children(schema) {
  if (!schema || typeof schema !== 'object') return [];
  const variants = [...(schema.anyOf || []), ...(schema.oneOf || []), ...(schema.allOf || [])];
  const props = { ...(schema.properties || {}) };
  for (const variant of variants) Object.assign(props, (variant && variant.properties) || {});
  return Object.entries(props);
}

function Node({ name, path, schema, depth }) {
  const isArray = [].concat(schema && schema.type).includes('array') || Boolean(schema && schema.items);
  const inner = isArray ? schema.items || {} : schema;
  const kids = depth < 8 ? children(inner) : [];
  const here = isArray ? `${path}[]` : path;
  const head = (
    <>
      <code className="field-path">{here}</code> <span className="field-type">{typeOf(schema)}</span>
      {schema && schema.description ? <span className="field-help"> — {String(schema.description).split('\n')[0]}</span> : null}
    </>
  );
  if (!kids.length) return <li className="leaf" data-path={here}>{head}</li>;
  return (
    <li data-path={here}>
      <details open={depth < 2}>
        <summary>{head}</summary>
        <ul>
          {kids.map(([key, child]) => (
            <Node key={key} name={key} path={`${here}.${key}`} schema={child} depth={depth + 1} />
          ))}
        </ul>
      </details>
    </li>
  );
}

export default function OutputTree({ schema, root = 'data' }) {
  if (!schema) return <p className="muted">This definition declares no output schema.</p>;
  return (
    <ul className="output-tree" aria-label="Output fields">
      <Node name={root} path={root} schema={schema} depth={0} />
    </ul>
  );
}
