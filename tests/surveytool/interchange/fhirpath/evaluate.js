// Test-only oracle: HL7's fhirpath.js evaluates an exported Questionnaire's scoring over
// QuestionnaireResponses, as an SDC form filler does: the Questionnaire's `variable`s in order
// (each sees the ones before it), then every item's calculatedExpression.
// stdin: {"questionnaire": Q, "responses": [QR, ...]}; stdout: [{linkId: [values]}, ...]
"use strict";
const fhirpath = require("fhirpath");
const r4 = require("fhirpath/fhir-context/r4");

const VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable";
const CALCULATED =
  "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression";

function* walk(items) {
  for (const item of items || []) {
    yield item;
    yield* walk(item.item);
  }
}

const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const questionnaire = input.questionnaire;
const options = { async: false, resolveInternalTypes: true };
const variables = (questionnaire.extension || [])
  .filter((e) => e.url === VARIABLE)
  .map((e) => [e.valueExpression.name, fhirpath.compile(e.valueExpression.expression, r4, options)]);
const calculated = [];
for (const item of walk(questionnaire.item)) {
  for (const e of item.extension || []) {
    if (e.url === CALCULATED) {
      calculated.push([item.linkId, fhirpath.compile(e.valueExpression.expression, r4, options)]);
    }
  }
}
const out = input.responses.map((response) => {
  const env = { resource: response, questionnaire: questionnaire };
  for (const [name, run] of variables) {
    env[name] = run(response, Object.assign({}, env));
  }
  const scores = {};
  for (const [linkId, run] of calculated) {
    scores[linkId] = run(response, Object.assign({}, env));
  }
  return scores;
});
process.stdout.write(JSON.stringify(out));
