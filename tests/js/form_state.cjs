// What react-jsonschema-form puts in a form's state: for every action, the untouched form and the
// form with each documented example loaded (getDefaultFormState, the logic the rendered form runs).
// Input on stdin: {"actions": {REF: {"inputs": <schema>, "examples": [..]}}}; output on stdout:
// {"versions": {..}, "forms": {REF: {"untouched": <state>, "examples": [<state>..]} | {"error": ".."}}}.
"use strict";

const { getDefaultFormState } = require("@rjsf/utils");
const validator = require("@rjsf/validator-ajv8").default;

const request = JSON.parse(require("fs").readFileSync(0, "utf8"));
const forms = {};
const warnings = [];
const warn = console.warn;
console.warn = (...args) => warnings.push(args.map(String).join(" "));  // a schema rjsf cannot merge
for (const [ref, action] of Object.entries(request.actions)) {
  try {
    forms[ref] = {
      untouched: getDefaultFormState(validator, action.inputs, undefined) ?? {},
      examples: action.examples.map((example) => getDefaultFormState(validator, action.inputs, example)),
    };
  } catch (error) {
    forms[ref] = { error: String(error) };
  }
}
console.warn = warn;
const versions = { "@rjsf/utils": require("@rjsf/utils/package.json").version };
process.stdout.write(JSON.stringify({ versions, forms, warnings }));
