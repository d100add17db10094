// Strict offline validation of Kubernetes objects against the JSON schemas that the npm packages
// kubernetes-models (Kubernetes API objects) and @kubernetes-models/prometheus-operator ship.
//
//   node validate.mjs SCHEMAS < objects.json
//
// SCHEMAS: "1.27" (kubernetes-models 4.3.1) or "1.34" (kubernetes-models 5.1.0); the prometheus-operator
// schemas are the same for both. Input: a JSON array of objects. Output: a JSON array of problems
// ({object, path, message}); exit 0 whether or not there are problems (the caller judges), 2 on bad usage.
//
// The packages' validators check types, formats and required fields but accept unknown fields (the
// schemas have no additionalProperties: false). Unknown fields are found here by watching the validator:
// each object is wrapped in a Proxy that records which property names the validator looks up. A
// validator generated from a schema with `properties` looks up every property it knows; a field the
// validator never looked up is unknown to the schema (a misspelled `periodSecond`). An object whose keys
// the validator enumerates is a map (labels, resources.limits) and may hold any key; an object the
// validator never looked into has a schema that accepts anything (x-kubernetes-preserve-unknown-fields).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

const PROMETHEUS_OPERATOR_GROUP = "monitoring.coreos.com";

async function loadGroup(schemas, apiVersion) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === PROMETHEUS_OPERATOR_GROUP) {
    return import(`@kubernetes-models/prometheus-operator/${group}/${version}`);
  }
  const path = group ? `${group}/${version}` : version;
  if (schemas === "1.27") return require(`kubernetes-models-1.27/${path}`);
  if (schemas === "1.34") return import(`kubernetes-models/${path}`);
  throw new Error(`unknown schema set ${schemas} (expected 1.27 or 1.34)`);
}

// Runs `validateOn(proxy)` and returns the fields the validator did not know, as JSON pointers.
function unknownFields(data, validateOn) {
  const looked = new Map(); // object -> Set of property names looked up
  const enumerated = new Set(); // objects whose keys were enumerated (maps)
  const proxies = new WeakMap();
  const note = (target, key) => {
    if (typeof key !== "string") return;
    if (!looked.has(target)) looked.set(target, new Set());
    looked.get(target).add(key);
  };
  const wrap = (value) => {
    if (value === null || typeof value !== "object") return value;
    if (proxies.has(value)) return proxies.get(value);
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        note(target, key);
        return wrap(Reflect.get(target, key, receiver));
      },
      has(target, key) {
        note(target, key);
        return Reflect.has(target, key);
      },
      getOwnPropertyDescriptor(target, key) {
        note(target, key);
        return Reflect.getOwnPropertyDescriptor(target, key);
      },
      ownKeys(target) {
        enumerated.add(target);
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  const error = validateOn(wrap);
  const unknown = [];
  const walk = (value, path) => {
    if (value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, `${path}/${i}`));
      return;
    }
    const seen = looked.get(value);
    const opaque = !seen && !enumerated.has(value);
    for (const [key, child] of Object.entries(value)) {
      if (!opaque && !enumerated.has(value) && !seen.has(key)) unknown.push(`${path}/${key}`);
      walk(child, `${path}/${key}`);
    }
  };
  walk(data, "");
  return { error, unknown };
}

function describe(obj) {
  const md = obj?.metadata ?? {};
  return `${obj?.kind ?? "?"}/${md.name ?? "?"}`;
}

async function main() {
  const schemas = process.argv[2];
  if (!schemas) {
    console.error("usage: node validate.mjs 1.27|1.34 < objects.json");
    process.exit(2);
  }
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const objects = JSON.parse(input);
  const problems = [];
  for (const obj of objects) {
    const name = describe(obj);
    let cls;
    try {
      const group = await loadGroup(schemas, String(obj.apiVersion ?? ""));
      cls = group[obj.kind];
    } catch (e) {
      cls = undefined;
    }
    if (typeof cls !== "function") {
      problems.push({ object: name, path: "", message: `no schema for apiVersion ${obj.apiVersion} kind ${obj.kind}` });
      continue;
    }
    // The model's own validate(), called on the wrapped object so that its validator reads through the Proxy.
    const root = Object.assign(Object.create(cls.prototype), obj);
    const { error, unknown } = unknownFields(root, (wrap) => {
      try {
        wrap(root).validate();
        return null;
      } catch (e) {
        return e;
      }
    });
    if (error) {
      const details = Array.isArray(error.errors)
        ? error.errors.map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ")
        : String(error.message ?? error);
      problems.push({ object: name, path: "", message: `schema: ${details}` });
    }
    for (const path of unknown) problems.push({ object: name, path, message: "unknown field" });
  }
  process.stdout.write(JSON.stringify(problems, null, 1) + "\n");
}

main().catch((e) => {
  console.error(e?.stack ?? String(e));
  process.exit(1);
});
