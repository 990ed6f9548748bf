// From an input schema to what rjsf needs: a uiSchema naming the picklist widget for every
// `x-datasource` input (arrays of them included), and the form data as sent (nothing unset).

export function uiSchemaFor(schema, depth = 0) {
  const ui = {};
  if (!schema || typeof schema !== 'object' || depth > 12) return ui;
  if (schema['x-datasource']) ui['ui:widget'] = 'picklist';
  else if (schema.format === 'date-time') ui['ui:widget'] = 'datetime';
  else if (schema.format === 'html') ui['ui:widget'] = 'textarea';
  else if (schema.writeOnly || schema['x-secret'] || schema.format === 'password') ui['ui:widget'] = 'password';
  for (const [name, child] of Object.entries(schema.properties || {})) {
    const inner = uiSchemaFor(child, depth + 1);
    if (Object.keys(inner).length) ui[name] = inner;
  }
  if (schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items)) {
    const inner = uiSchemaFor(schema.items, depth + 1);
    if (Object.keys(inner).length) ui.items = inner;
  }
  return ui;
}

/** The inputs as the person set them: unset values and objects left empty are dropped (array items stay). */
export function pruned(value) {
  if (Array.isArray(value)) return value.map((item) => (item && typeof item === 'object' ? prunedObject(item) : item));
  if (value && typeof value === 'object') return prunedObject(value);
  return value;
}

function prunedObject(object) {
  if (Array.isArray(object)) return pruned(object);
  const out = {};
  for (const [key, raw] of Object.entries(object)) {
    if (raw === undefined || raw === '') continue;
    const value = pruned(raw);
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) continue;
    out[key] = value;
  }
  return out;
}
