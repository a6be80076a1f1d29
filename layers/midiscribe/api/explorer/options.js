// Controls for POST /v1/audio_to_midi's options, built from the API's OpenAPI document: names, defaults,
// ranges, choices and help text all come from there, so the form follows the API as it grows. Options the
// document marks with "x-models" apply only to those transcribers; the form disables them (and sends
// nothing for them) while the choices made would run another.

const SUBMIT_PATH = "/v1/audio_to_midi";
// Set by the page itself (audio source, and the notes it needs to draw), or not usable from it (stems
// are several files; webhooks need a receiver).
const NOT_SHOWN = new Set(["audio_url", "audio_path", "audio_file", "webhook_url", "save_note_events", "stems"]);
const MODELS_KEYWORD = "x-models";
const NOT_SET = "";
const TRANSCRIBER_NAMES = { general: "the general model", piano: "the piano model", drums: "the drum transcriber" };
const transcriberNames = (names) => names.map((name) => TRANSCRIBER_NAMES[name] || name).join(" and ");

// What runs for the options chosen: TranscriptionOptions.transcriber (engine/options.py) in four lines.
export function transcriberFor({ model, instrument, basic_pitch_compat: compat }) {
  if (instrument === "drums") return "drums";
  if (model) return model;
  return instrument === "piano" && !compat ? "piano" : "general";
}

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
  const models = schema[MODELS_KEYWORD];
  if (models) parts.push(`Used by ${transcriberNames(models)} only.`);
  return parts.filter(Boolean).join(" ");
}

// A list of choices; an option that may be left unset (no default) starts with "not set".
function choices(values, schema) {
  const select = document.createElement("select");
  if (schema.optional && schema.default === undefined) select.add(new Option("not set", NOT_SET));
  for (const [label, value] of values) select.add(new Option(label, value));
  return select;
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
    input = choices(schema.enum.map((value) => [String(value), String(value)]), schema);
  } else if (schema.type === "boolean" && schema.optional) {
    // Unset is a third answer here (e.g. "the instrument's own"), which a checkbox cannot give.
    input = choices([["on", "true"], ["off", "false"]], schema);
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
  // Says why the control is disabled, when it is.
  const unused = document.createElement("small");
  unused.id = `${id}-unused`;
  unused.className = "unused";
  unused.hidden = true;
  input.setAttribute("aria-describedby", `${help.id} ${unused.id}`);
  if (input.type === "checkbox") wrapper.append(input, label, help, unused);
  else wrapper.append(label, input, help, unused);
  return [wrapper, input, unused];
}

function valueOf(schema, input) {
  if (input.type === "checkbox") return input.checked;
  if (input.value === NOT_SET) return undefined;
  if (input.type === "number") return Number(input.value);
  if (schema.type === "boolean") return input.value === "true";
  return schema.enum && typeof schema.enum[0] === "number" ? Number(input.value) : input.value;
}

export class OptionsForm {
  constructor(container, openapi) {
    this.inputs = [];
    container.replaceChildren();
    // Options for one transcriber only go in a group of their own, folded: most submissions leave them.
    const groups = new Map();
    this.groups = [];
    const groupFor = (models) => {
      const key = models.join("+");
      if (!groups.has(key)) {
        const group = document.createElement("details");
        group.className = "option-group";
        const summary = document.createElement("summary");
        const title = `Settings of ${transcriberNames(models)}`;
        const fields = document.createElement("div");
        fields.className = "option-fields";
        group.append(summary, fields);
        groups.set(key, fields);
        this.groups.push({ models, summary, title });
      }
      return groups.get(key);
    };
    for (const [name, schema] of optionSchemas(openapi)) {
      const [wrapper, input, unused] = control(name, schema);
      (schema[MODELS_KEYWORD] ? groupFor(schema[MODELS_KEYWORD]) : container).append(wrapper);
      this.inputs.push({ name, schema, input, unused });
      input.addEventListener("change", () => this.applies());
    }
    for (const fields of groups.values()) container.append(fields.parentElement);
    this.reset();
  }

  reset() {
    for (const { schema, input } of this.inputs) {
      if (input.type === "checkbox") input.checked = Boolean(schema.default);
      else input.value = schema.default === undefined || schema.default === null ? NOT_SET : String(schema.default);
    }
    this.applies();
  }

  // Every option's value as chosen, the defaults included.
  chosen() {
    return Object.fromEntries(this.inputs.map(({ name, schema, input }) => [name, valueOf(schema, input) ?? schema.default]));
  }

  // Disable the options the transcriber these choices run does not read.
  applies() {
    const transcriber = transcriberFor(this.chosen());
    const runs = `these choices run ${transcriberNames([transcriber])}`;
    for (const { schema, input, unused } of this.inputs) {
      const models = schema[MODELS_KEYWORD];
      const idle = Boolean(models) && !models.includes(transcriber);
      input.disabled = idle;
      unused.hidden = !idle;
      unused.textContent = idle ? `Not used: ${runs}.` : "";
    }
    for (const { models, summary, title } of this.groups) {
      summary.textContent = models.includes(transcriber) ? title : `${title} (not used: ${runs})`;
    }
  }

  // Only what differs from the API's defaults and is used: the request stays as short as the user's choices.
  values() {
    const chosen = {};
    for (const { name, schema, input } of this.inputs) {
      const value = valueOf(schema, input);
      if (!input.disabled && value !== undefined && value !== schema.default) chosen[name] = value;
    }
    return chosen;
  }
}
