// Compiles JSON Schemas with Ajv 2020 in strict mode and validates instances against them.
//
// Reads one JSON document on stdin:
//   {"vocabulary": <component/schema/vocabulary.json>,
//    "schemas": {ID: <schema>, ...},
//    "instances": [[ID, <instance>], ...]}
// and prints one JSON document on stdout:
//   {"versions": {...}, "compiled": {ID: null | ["<error>", ...]}, "verdicts": [true | false | null, ...]}
// where a verdict is null when its schema did not compile. Only the declared vocabulary is
// registered: its keywords (annotations, their values checked against the declared schema) and its
// custom formats (annotations unless they declare a pattern); the standard formats come from
// ajv-formats.
"use strict";

const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

function build(vocabulary, strict = true, logger = undefined) {
  const ajv = new Ajv2020({ strict, allErrors: true, logger });
  addFormats(ajv);
  for (const [keyword, spec] of Object.entries(vocabulary.keywords)) {
    ajv.addKeyword({ keyword, schemaType: spec.type, metaSchema: spec.schema });
  }
  for (const [name, spec] of Object.entries(vocabulary.formats)) {
    ajv.addFormat(name, spec.pattern ? { type: spec.type, validate: new RegExp(spec.pattern, "u") } : true);
  }
  return ajv;
}

// Every strict-mode problem of a schema, not only the first (which is what compiling throws).
function everyStrictProblem(vocabulary, schema) {
  const found = [];
  const note = (...args) => found.push(args.join(" "));
  try {
    build(vocabulary, "log", { log() {}, warn: note, error: note }).compile(schema);
  } catch (error) {
    found.push(String(error.message || error));
  }
  return [...new Set(found)];
}

function main(input) {
  const ajv = build(input.vocabulary);
  const compiled = {};
  const validators = {};
  for (const [id, schema] of Object.entries(input.schemas)) {
    try {
      validators[id] = ajv.compile(schema);
      compiled[id] = null;
    } catch (error) {
      compiled[id] = [String(error.message || error), ...everyStrictProblem(input.vocabulary, schema)];
    }
  }
  const verdicts = (input.instances || []).map(([id, instance]) =>
    validators[id] ? Boolean(validators[id](instance)) : null,
  );
  const versions = {
    node: process.versions.node,
    ajv: require("ajv/package.json").version,
    "ajv-formats": require("ajv-formats/package.json").version,
  };
  return { versions, compiled, verdicts };
}

const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  process.stdout.write(JSON.stringify(main(input)));
});
