// The form validator: rjsf's Ajv 8 validator on Ajv's Draft 2020-12 class, with the project's schema
// vocabulary registered (component/schema/vocabulary.json, served at /playground/vocabulary.json).
// Without that file, every `x-` keyword found in the catalog is registered without a meta-schema
// and every unknown format is accepted: the service's answer stays the authority either way.
import Ajv2020 from 'ajv/dist/2020';
import { customizeValidator } from '@rjsf/validator-ajv8';

const STANDARD_FORMATS = new Set([
  'date', 'time', 'date-time', 'duration', 'uri', 'uri-reference', 'uri-template', 'url', 'email',
  'hostname', 'ipv4', 'ipv6', 'regex', 'uuid', 'json-pointer', 'json-pointer-uri-fragment',
  'relative-json-pointer', 'byte', 'int32', 'int64', 'float', 'double', 'password', 'binary',
  'iso-time', 'iso-date-time',
]);

function scan(node, keywords, formats) {
  if (Array.isArray(node)) {
    for (const item of node) scan(item, keywords, formats);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key.startsWith('x-')) keywords.add(key);
      if (key === 'format' && typeof value === 'string') formats.add(value);
      if (key !== 'examples' && key !== 'default' && key !== 'const') scan(value, keywords, formats);
    }
  }
}

export function buildValidator(catalog, vocabulary) {
  const keywords = [];
  const customFormats = {};
  if (vocabulary && vocabulary.keywords) {
    for (const [keyword, spec] of Object.entries(vocabulary.keywords)) {
      keywords.push({ keyword, schemaType: spec.type, metaSchema: spec.schema });
    }
    for (const [name, spec] of Object.entries(vocabulary.formats || {})) {
      // an annotation format (asserted: false) accepts any string
      if (!spec.asserted) customFormats[name] = () => true;
    }
    for (const [name, spec] of Object.entries(vocabulary.standardFormats || {})) {
      if (!spec.asserted) customFormats[name] = () => true;
    }
  } else {
    const found = new Set();
    const formats = new Set();
    scan(catalog, found, formats);
    for (const keyword of [...found].sort()) keywords.push({ keyword });
    for (const name of formats) if (!STANDARD_FORMATS.has(name)) customFormats[name] = () => true;
  }
  return customizeValidator({
    AjvClass: Ajv2020,
    customFormats,
    ajvOptionsOverrides: { keywords },
  });
}

function at(schema, pointer) {
  let node = schema;
  for (const raw of pointer.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node == null) return undefined;
    node = node[key];
  }
  return node;
}

/** The catalog's own wording (`x-messages`) in place of Ajv's, as the runtime reports it. */
export function friendlyErrors(schema) {
  return (errors) => errors.map((error) => {
    const parts = String(error.schemaPath || '').split('/');
    parts.pop();
    const owner = at(schema, parts.join('/'));
    const messages = owner && owner['x-messages'];
    const message = messages && messages[error.name];
    return message ? { ...error, message, stack: `${error.property || ''} ${message}`.trim() } : error;
  });
}
