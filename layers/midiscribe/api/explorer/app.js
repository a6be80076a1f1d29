// The explorer page: wires the key, the submit form, the task list, the roll and the players together.

import * as api from "./api.js";
import { parseTranscription, SOFT_PEDAL, SUSTAIN_PEDAL } from "./notes.js";
import { OptionsForm } from "./options.js";
import { Player } from "./player.js";
import { drumName, formatTime, instrumentColour, PianoRoll, pitchName } from "./roll.js";
import { TaskList } from "./tasks.js";

const POLL_INTERVAL_MS = 1000;
const SLOW_POLL_INTERVAL_MS = 3000;
const SLOW_POLL_AFTER_MS = 60_000;
// byId's links, in the order they are offered; any other *_path link byId grows is offered after them.
const DOWNLOADS = [
  ["midi_file_path", "MIDI file"],
  ["quantized_midi_file_path", "Quantized MIDI file"],
  ["musicxml_file_path", "Score (MusicXML)"],
  ["sonify_file_path", "Sonified WAV"],
  ["notes_file_path", "Note events (CSV)"],
  ["notes_json_path", "Note events (JSON)"],
  ["input_file_path", "Original audio"],
  ["output_path", "Converted file"],
];
const LINK_FIELD = /_path$/;
// tempo_hint's bounds in the API (BPM).
const TEMPO_HINT_RANGE = [20, 400];

const $ = (id) => document.getElementById(id);
let options = null;
let following = 0; // bumps whenever another task is opened, so an older poll stops
let localAudio = null; // object URL of the file just submitted: it plays before (and without) a link

// ------------------------------------------------------------------ messages

function setStatus(text, progress) {
  $("status-text").textContent = text;
  const bar = $("status-progress");
  bar.hidden = progress === undefined;
  if (typeof progress === "number") bar.value = progress;
  else bar.removeAttribute("value"); // indeterminate while queued
}

function showError(error) {
  const box = $("error");
  box.textContent = error ? (error.code ? `${error.message} (${error.code})` : error.message) : "";
  box.hidden = !error;
}

// ------------------------------------------------------------------ result

export const roll = new PianoRoll({
  canvas: $("roll"),
  keyboard: $("keyboard"),
  pedals: $("pedals"),
  playhead: $("playhead"),
  onNote: (index) => {
    const { notes } = roll;
    const seconds = notes.ends[index] - notes.starts[index];
    player.playNote(notes.pitches[index], notes.velocities[index], seconds);
    const instrument = notes.instruments[notes.instrumentOf[index]];
    const key = notes.pitches[index];
    const pitch = instrument.isDrum ? `${drumName(key) ?? "Drum"} (drum key ${key})` : `${pitchName(key)} (MIDI ${key})`;
    $("note-info").textContent = `${pitch}, velocity ${notes.velocities[index]}, `
      + `${formatTime(notes.starts[index])}–${formatTime(notes.ends[index])}, ${trackName(instrument)}`;
  },
  onSeek: (time) => player.seek(time),
  onTogglePlay: () => player.toggle(),
  onViewChange: (view) => {
    const end = Math.min(view.duration, view.start + view.span);
    const shown = `${formatTime(view.start)}–${formatTime(end)} of ${formatTime(view.duration)}`;
    $("view-range").textContent = shown;
    $("roll-position").value = String(Math.round(view.position * 1000));
    $("roll").setAttribute("aria-label", `Piano roll: ${view.notes.count} notes, showing ${shown}`);
  },
});

const player = new Player({
  original: $("original-audio"),
  sonified: $("sonified-audio"),
  onTime: (time, playing) => roll.setPlayhead(time, playing),
});

// A track as the legend names it: its stem's name and its instrument (one track: the instrument).
const trackName = (instrument) => (instrument.stem ? `${instrument.stem}: ${instrument.name}` : instrument.name);

const plural = (count, one, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

function pedalText(pedals) {
  const presses = (controller) => pedals.filter((pedal) => pedal.controller === controller).length;
  const counted = (controller, kind) => plural(presses(controller), `${kind} press`, `${kind} presses`);
  return `Pedals (${counted(SUSTAIN_PEDAL, "sustain")}, ${counted(SOFT_PEDAL, "soft")}): `
    + "the lane under the roll";
}

function showLegend(notes) {
  const legend = $("legend");
  legend.replaceChildren();
  const entries = notes.instruments.map((instrument, index) => [
    trackName(instrument) + (instrument.isDrum ? " (hits as diamonds in their General MIDI key rows)" : ""),
    instrumentColour(index, instrument.isDrum), instrument.isDrum ? "drum" : "",
  ]);
  if (notes.pedals.length) entries.push([pedalText(notes.pedals), ""]);
  if (notes.bendValues?.some((value) => value !== 0)) entries.push(["Pitch bends: the lines over notes", ""]);
  if (notes.beats.length) entries.push(["Beats and bars: the light and dark vertical lines", ""]);
  for (const [text, colour, shape] of entries) {
    const item = document.createElement("li");
    if (colour) {
      const swatch = document.createElement("span");
      swatch.className = `swatch ${shape}`;
      swatch.style.background = colour;
      item.append(swatch);
    }
    item.append(text);
    legend.append(item);
  }
}

// The transcriber that ran (byId's model and model_name; a notes file names only its model) and the music's
// tempo, metre and key, when the notes file has them.
function showFacts(notes, conversion) {
  const facts = [];
  const ran = conversion?.model;
  const name = conversion?.model_name || notes.model;
  if (ran || name) facts.push(["Model", ran && name ? `${ran} (${name})` : ran || name]);
  if (conversion?.instrument) facts.push(["Instrument", conversion.instrument]);
  if (notes.tempo !== null) facts.push(["Tempo", `${Math.round(notes.tempo * 10) / 10} BPM`]);
  if (notes.timeSignature) facts.push(["Time signature", notes.timeSignature]);
  if (notes.key) facts.push(["Key", notes.key]);
  if (notes.beats.length) facts.push(["Beats", `${notes.beats.length} (${plural(notes.downbeats.length, "bar")})`]);
  const list = $("facts");
  list.replaceChildren();
  for (const [term, value] of facts) {
    const wrapper = document.createElement("div");
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.dataset.fact = term.toLowerCase().replace(" ", "-");
    wrapper.append(dt, dd);
    if (term === "Tempo") wrapper.append(...recountButtons(notes.tempo, conversion));
    list.append(wrapper);
  }
}

// Music can often be counted at two speeds (a ballad in eighths at 60 or 120 BPM), and the tracker may pick
// the other one: these transcribe the same audio again, with the same options, at half or twice the tempo
// found (the API's tempo_hint). Offered where the task can be submitted again as it was: one audio source of
// this key's (not stems), and no midi_tempo forcing a constant tempo.
function recountButtons(tempo, conversion) {
  const source = conversion?.audio_path ? { audio_path: conversion.audio_path }
    : conversion?.audio_url ? { audio_url: conversion.audio_url } : null;
  if (!source || !conversion.options || conversion.options.midi_tempo != null) return [];
  return [["half", 0.5, "½×"], ["double", 2, "2×"]]
    .map(([name, factor, label]) => [name, Math.round(tempo * factor * 10) / 10, label])
    .filter(([, hint]) => hint >= TEMPO_HINT_RANGE[0] && hint <= TEMPO_HINT_RANGE[1])
    .map(([name, hint, label]) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "recount";
      button.dataset.recount = name;
      button.textContent = label;
      button.title = `Counted at ${hint} BPM? Transcribe again with tempo_hint ${hint} and the same options`;
      button.setAttribute("aria-label", button.title);
      button.addEventListener("click", () => {
        // One resubmission per click: both buttons wait until this one is queued (a double click sent two).
        for (const other of document.querySelectorAll("[data-recount]")) other.disabled = true;
        transcribeAgain(source, { ...conversion.options, tempo_hint: hint });
      });
      return button;
    });
}

async function transcribeAgain(source, fields) {
  showError(null);
  try {
    const queued = await api.submit({ ...fields, ...source, save_note_events: true });
    setStatus(`Queued again with tempo_hint ${fields.tempo_hint}.`, null);
    tasks.load();
    // Its own input link plays the audio: localAudio is the file submitted last, which need not be this one.
    await follow(queued.task_id, null);
    tasks.load();
  } catch (error) {
    showError(error);
    for (const button of document.querySelectorAll("[data-recount]")) button.disabled = false;
  }
}

function showNotes(transcription, title, conversion = null) {
  const notes = parseTranscription(transcription);
  roll.setNotes(notes);
  $("result").dataset.taskId = conversion?.task_id || "";
  showLegend(notes);
  showFacts(notes, conversion);
  const tracks = notes.instruments.length > 1 ? `, ${plural(notes.instruments.length, "track")}` : "";
  $("result-summary").textContent = `${title}: ${notes.count} notes${tracks}, ${formatTime(notes.duration)}`;
}

function showDownloads(conversion) {
  const list = $("downloads");
  list.replaceChildren();
  const known = new Set(DOWNLOADS.map(([field]) => field));
  const others = Object.keys(conversion || {}).filter((field) => LINK_FIELD.test(field) && !known.has(field));
  for (const [field, label] of [...DOWNLOADS, ...others.map((field) => [field, field])]) {
    if (typeof conversion?.[field] !== "string" || !/^https?:/.test(conversion[field])) continue;
    const link = document.createElement("a");
    link.href = conversion[field];
    link.textContent = label;
    link.dataset.field = field;
    link.rel = "noreferrer";
    const item = document.createElement("li");
    item.append(link);
    list.append(item);
  }
}

function clearResult(summary, taskId = "") {
  roll.clear();
  player.setSources(null, null);
  showDownloads(null);
  $("legend").replaceChildren();
  $("facts").replaceChildren();
  $("note-info").textContent = "";
  $("result").dataset.taskId = taskId;
  $("result-summary").textContent = summary;
}

async function showResult(conversion, audioUrl) {
  showDownloads(conversion);
  player.setSources(audioUrl || conversion.input_file_path, conversion.sonify_file_path);
  const title = conversion.source_name || conversion.task_id;
  if (conversion.conversionType === "FILE_CONVERT") {
    $("result-summary").textContent = `${title}: a file conversion, no notes to draw; the converted file is below.`;
    return;
  }
  if (!conversion.notes_json_path) {
    $("result-summary").textContent = `${title}: ${conversion.note_count ?? 0} notes. This task saved no note events `
      + "(save_note_events was off), so there is no roll to draw; the downloads are below.";
    return;
  }
  showNotes(await api.resultJson(conversion.notes_json_path), title, conversion);
}

// ------------------------------------------------------------------ following a task

async function follow(taskId, audioUrl) {
  const ticket = ++following;
  const started = Date.now();
  showError(null);
  clearResult(`Waiting for task ${taskId}…`);
  for (;;) {
    const conversion = await api.conversion(taskId);
    if (ticket !== following) return;
    const name = conversion.source_name || taskId;
    if (conversion.status === "COMPLETED") {
      setStatus(`${name}: done${conversion.note_count == null ? "" : `, ${conversion.note_count} notes`}.`);
      await showResult(conversion, audioUrl);
      return;
    }
    if (conversion.status === "FAILED") {
      setStatus(`${name}: failed.`);
      clearResult(`${name}: the transcription failed. ${conversion.error || conversion.status_msg}`, taskId);
      showDownloads(conversion);
      showError(new api.ApiError(conversion.error || conversion.status_msg, { code: conversion.error_code || "" }));
      return;
    }
    const queued = conversion.status === "IN_QUEUE";
    const percent = typeof conversion.progress === "number" ? ` ${Math.round(conversion.progress * 100)} %` : "";
    setStatus(`${name}: ${queued ? "queued" : `processing${percent}`} (${conversion.status_msg}).`,
      queued ? null : conversion.progress ?? null);
    const waited = Date.now() - started;
    await new Promise((done) => setTimeout(done, waited > SLOW_POLL_AFTER_MS ? SLOW_POLL_INTERVAL_MS : POLL_INTERVAL_MS));
    if (ticket !== following) return;
  }
}

async function open(taskId) {
  try {
    await follow(taskId, null);
  } catch (error) {
    showError(error);
  }
}

// ------------------------------------------------------------------ submitting

async function submit(event) {
  event.preventDefault();
  showError(null);
  const file = $("audio-file").files[0];
  const url = $("audio-url").value.trim();
  if (!file === !url) {
    showError(new Error(file ? "Give a file or a URL, not both: clear one of them."
      : "Choose or drop an audio file, or paste its URL, first."));
    return;
  }
  const button = $("submit-button");
  button.disabled = true;
  try {
    const fields = { ...(options ? options.values() : {}), save_note_events: true };
    if (file) {
      setStatus(`Uploading ${file.name}…`, 0);
      fields.audio_path = await api.upload(file, (fraction) => setStatus(`Uploading ${file.name}…`, fraction));
    } else {
      fields.audio_url = url;
    }
    const queued = await api.submit(fields);
    setStatus("Queued.", null);
    if (localAudio) URL.revokeObjectURL(localAudio);
    localAudio = file ? URL.createObjectURL(file) : null;
    tasks.load();
    await follow(queued.task_id, localAudio);
    tasks.load();
  } catch (error) {
    setStatus("");
    showError(error);
  } finally {
    button.disabled = false;
  }
}

function chooseFile(files) {
  const input = $("audio-file");
  if (files) input.files = files;
  const file = input.files[0];
  $("file-name").textContent = file ? `${file.name} (${Math.ceil(file.size / 1024)} KB)` : "";
  if (file) $("audio-url").value = "";
}

// ------------------------------------------------------------------ wiring

const tasks = new TaskList({ list: $("task-list"), more: $("more-tasks"), onOpen: open, onError: showError });

function wire() {
  $("api-key").value = api.savedKey();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return showError(new Error("Paste an API key before saving it."));
    api.saveKey(key);
    showError(null);
    setStatus("Key saved in this browser.");
    tasks.load();
  });
  $("forget-key").addEventListener("click", () => {
    api.forgetKey();
    $("api-key").value = "";
    $("task-list").replaceChildren();
    setStatus("Key forgotten.");
  });
  $("submit-form").addEventListener("submit", submit);
  $("audio-file").addEventListener("change", () => chooseFile(null));
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer.files.length) chooseFile(event.dataTransfer.files);
  });
  $("audio-url").addEventListener("input", () => {
    if ($("audio-url").value.trim()) { $("audio-file").value = ""; chooseFile(null); }
  });
  $("reset-options").addEventListener("click", () => options?.reset());
  $("refresh-tasks").addEventListener("click", () => tasks.load());
  $("zoom-in").addEventListener("click", () => roll.notes && roll.zoom(0.5));
  $("zoom-out").addEventListener("click", () => roll.notes && roll.zoom(2));
  $("zoom-fit").addEventListener("click", () => roll.notes && roll.fit());
  $("roll-position").addEventListener("input", (event) => {
    if (roll.notes) roll.position = Number(event.target.value) / 1000;
  });
  $("notes-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    following++;
    showError(null);
    try {
      clearResult("");
      showNotes(JSON.parse(await file.text()), file.name);
    } catch (error) {
      showError(error instanceof SyntaxError ? new Error(`${file.name} is not JSON: ${error.message}`) : error);
    }
  });
}

async function start() {
  wire();
  try {
    options = new OptionsForm($("option-fields"), await api.openapi());
  } catch (error) {
    showError(new Error(`The options could not be loaded (${error.message}); transcriptions use the defaults.`));
  }
  if (api.savedKey()) tasks.load();
  document.body.dataset.ready = "true";
}

start();
