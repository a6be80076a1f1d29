// Controls for POST /v1/audio_to_midi's options, built from the API's OpenAPI document: names, defaults,
// ranges, choices and help text all come from there, so the form follows the API as it grows.

const SUBMIT_PATH = "/v1/audio_to_midi";
// Set by the page itself (audio source, and the notes it needs to draw), or not usable from it (stems
// are several files; webhooks need a receiver).
const NOT_SHOWN = new Set(["audio_url", "audio_path", "audio_file", "webhook_url", "save_note_events", "stems"]);

function resolve(document, schema) {
  let node = schema || {};
  while (node.$ref) node = node.$ref.split("/").slice(1).reduce((at, part) => at[part], document);
  return node;
}

// A property schema with "anyOf: [X, null]" flattened into X plus ``optional``.
function flatten(document, schema) {
  const node = resolve(document, schema);
  const choices = (node.anyOf || []).map((choice) => resolve(document, choice));
  const kept = choices.filter((choice) => choice.type !== "null");
  if (kept.length === 1) return { ...node, ...kept[0], anyOf: undefined, optional: choices.length > 1 };
  return { ...node, optional: !("default" in node) };
}

export function optionSchemas(document) {
  const content = document?.paths?.[SUBMIT_PATH]?.post?.requestBody?.content?.["application/json"];
  const body = resolve(document, content?.schema);
  if (!body.properties) throw new Error(`The API's description has no options for ${SUBMIT_PATH}.`);
  return Object.entries(body.properties)
    .filter(([name]) => !NOT_SHOWN.has(name))
    .map(([name, schema]) => [name, flatten(document, schema)])
    .filter(([, schema]) => ["boolean", "number", "integer", "string"].includes(schema.type) || schema.enum);
}

function hint(schema) {
  const parts = [schema.description || ""];
  const low = schema.minimum ?? schema.exclusiveMinimum;
  const high = schema.maximum ?? schema.exclusiveMaximum;
  if (low !== undefined && high !== undefined) {
    parts.push(schema.exclusiveMinimum !== undefined ? `Above ${low}, up to ${high}.` : `From ${low} to ${high}.`);
  }
  if (schema.default !== undefined && schema.default !== null) parts.push(`Default ${schema.default}.`);
  return parts.filter(Boolean).join(" ");
}

function control(name, schema) {
  const id = `option-${name}`;
  const wrapper = document.createElement("div");
  wrapper.className = `option option-${schema.type || "choice"}`;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = schema.title || name;
  let input;
  if (schema.enum) {
    input = document.createElement("select");
    for (const value of schema.enum) input.add(new Option(String(value), String(value)));
  } else if (schema.type === "boolean") {
    input = document.createElement("input");
    input.type = "checkbox";
  } else {
    input = document.createElement("input");
    input.type = schema.type === "string" ? "text" : "number";
    if (input.type === "number") {
      input.step = schema.type === "integer" ? "1" : "any";
      const low = schema.minimum ?? schema.exclusiveMinimum;
      const high = schema.maximum ?? schema.exclusiveMaximum;
      if (low !== undefined) input.min = String(low);
      if (high !== undefined) input.max = String(high);
      if (schema.optional) input.placeholder = "not set";
    }
  }
  input.id = id;
  input.name = name;
  const help = document.createElement("small");
  help.id = `${id}-help`;
  help.textContent = hint(schema);
  input.setAttribute("aria-describedby", help.id);
  if (schema.type === "boolean") wrapper.append(input, label, help);
  else wrapper.append(label, input, help);
  return [wrapper, input];
}

export class OptionsForm {
  constructor(container, document) {
    this.inputs = [];
    container.replaceChildren();
    for (const [name, schema] of optionSchemas(document)) {
      const [wrapper, input] = control(name, schema);
      container.append(wrapper);
      this.inputs.push([name, schema, input]);
    }
    this.reset();
  }

  reset() {
    for (const [, schema, input] of this.inputs) {
      if (input.type === "checkbox") input.checked = Boolean(schema.default);
      else input.value = schema.default === undefined || schema.default === null ? "" : String(schema.default);
    }
  }

  // Only what differs from the API's defaults: the request stays as short as the user's choices.
  values() {
    const chosen = {};
    for (const [name, schema, input] of this.inputs) {
      let value;
      if (input.type === "checkbox") value = input.checked;
      else if (input.value === "") continue;
      else if (input.type === "number") value = Number(input.value);
      else value = schema.enum && typeof schema.enum[0] === "number" ? Number(input.value) : input.value;
      if (value !== schema.default) chosen[name] = value;
    }
    return chosen;
  }
}
