// SPDX-License-Identifier: MIT
// validate.mjs - check every object of a rendered manifest (a multi-
// document YAML file, `kubectl kustomize` output) against the Kubernetes
// API schemas of kubernetes-models, offline.  Prints one line per object;
// exits 1 if any object is invalid or of a kind the schemas do not know.
//
//   node validate.mjs RENDERED.yaml
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const file = process.argv[2];
const docs = parseAllDocuments(readFileSync(file, "utf8"));
let bad = 0;
let n = 0;
for (const doc of docs) {
  if (doc.errors.length > 0) {
    console.log(`not ok - ${file}: ${doc.errors[0].message}`);
    bad++;
    continue;
  }
  const obj = doc.toJS();
  if (obj == null) continue;
  n++;
  // kustomize folds long base64 values over lines; the API server's
  // decoder skips the newlines, the schema's "byte" format does not.
  if (obj.kind === "Secret" && obj.data != null) {
    for (const k of Object.keys(obj.data))
      obj.data[k] = String(obj.data[k]).replace(/\s+/g, "");
  }
  const what = `${obj.apiVersion} ${obj.kind} ${obj.metadata?.name}`;
  // apps/v1 -> kubernetes-models/apps/v1/Kind; v1 -> kubernetes-models/v1/Kind
  const path = `kubernetes-models/${obj.apiVersion}/${obj.kind}`;
  let Model;
  try {
    Model = (await import(path))[obj.kind];
  } catch (e) {
    console.log(`not ok - ${what}: no schema (${path})`);
    bad++;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`ok - ${what}`);
  } catch (e) {
    console.log(`not ok - ${what}: ${e.message}`);
    bad++;
  }
}
console.log(`${n - bad} of ${n} objects valid`);
process.exit(bad === 0 && n > 0 ? 0 : 1);
