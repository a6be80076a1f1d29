// The notes JSON (midiscribe.engine.outputs.transcription_dict) as flat typed arrays sorted by start,
// with an index that finds the notes sounding in a time window without looking at the others: an
// hour of music is tens of thousands of notes, and the roll draws a few hundred of them at a time.

// The only bend unit the engine writes; bends in any other unit are left undrawn rather than misdrawn.
const BEND_UNIT = "third of a semitone per model frame";
const BEND_STEPS_PER_SEMITONE = 3;
export const SUSTAIN_PEDAL = 64;
export const SOFT_PEDAL = 67;

export class NotesError extends Error {}

function finite(value) {
  return typeof value === "number" && Number.isFinite(value);
}

export class NoteSet {
  constructor(parts) {
    Object.assign(this, parts);
    this.count = this.starts.length;
    // runningMaxEnd[i]: the latest end among notes 0..i. It never decreases, so a binary search finds
    // the first note that can still be sounding at a given time.
    this.runningMaxEnd = new Float64Array(this.count);
    let latest = -Infinity;
    for (let i = 0; i < this.count; i++) {
      latest = Math.max(latest, this.ends[i]);
      this.runningMaxEnd[i] = latest;
    }
  }

  // [first, last): every note sounding in [t0, t1) has its index here (some in it may end before t0).
  range(t0, t1) {
    return [lowerBound(this.runningMaxEnd, t0), lowerBound(this.starts, t1)];
  }

  // The note at ``pitch`` sounding at ``time`` (the latest-starting one), or -1.
  noteAt(time, pitch) {
    const [first, last] = this.range(time, time + 1e-9);
    for (let i = last - 1; i >= first; i--) {
      if (this.pitches[i] === pitch && this.starts[i] <= time && this.ends[i] >= time) return i;
    }
    return -1;
  }

  // A note's bends as semitone offsets per frame, or null when it has none (or they cannot be read).
  bendsOf(index) {
    if (!this.bendOffsets) return null;
    const from = this.bendOffsets[index];
    const to = this.bendOffsets[index + 1];
    if (to - from < 2) return null;
    const values = this.bendValues.subarray(from, to);
    return values.some((value) => value !== 0) ? values : null;
  }
}

// First index whose value is >= ``value`` (values sorted ascending).
function lowerBound(values, value) {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle] < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

function timeList(values) {
  return Array.isArray(values) ? values.filter(finite).sort((a, b) => a - b) : [];
}

// ``instrument``: the index of the track whose pedals they are, or -1 for the recording's (one track).
function pedalList(values, instrument = -1) {
  if (!Array.isArray(values)) return [];
  return values
    .filter((pedal) => pedal && finite(pedal.start) && finite(pedal.end) && pedal.end > pedal.start)
    .map((pedal) => ({ controller: Number(pedal.controller ?? SUSTAIN_PEDAL), start: pedal.start, end: pedal.end, instrument }));
}

const text = (value) => (typeof value === "string" ? value : "");

export function parseTranscription(doc) {
  if (!doc || typeof doc !== "object" || !Array.isArray(doc.instruments)) {
    throw new NotesError("This is not a midiscribe notes file: it has no \"instruments\" list.");
  }
  const collected = [];
  const instruments = [];
  const pedals = pedalList(doc.pedals);
  doc.instruments.forEach((instrument, instrumentIndex) => {
    instruments.push({
      name: String(instrument.name || `Instrument ${instrumentIndex + 1}`),
      stem: text(instrument.stem),
      program: Number(instrument.program ?? 0),
      isDrum: Boolean(instrument.is_drum),
    });
    pedals.push(...pedalList(instrument.pedals, instrumentIndex));
    for (const note of Array.isArray(instrument.notes) ? instrument.notes : []) {
      if (!note || !finite(note.start) || !finite(note.end) || !finite(note.pitch)) continue;
      collected.push([note, instrumentIndex]);
    }
  });
  collected.sort((a, b) => a[0].start - b[0].start || a[0].pitch - b[0].pitch);

  const count = collected.length;
  const starts = new Float64Array(count);
  const ends = new Float64Array(count);
  const pitches = new Uint8Array(count);
  const velocities = new Uint8Array(count);
  const instrumentOf = new Uint16Array(count);
  const readBends = doc.pitch_bend_unit === BEND_UNIT && finite(doc.model_frame_rate_hz);
  const bendOffsets = readBends ? new Uint32Array(count + 1) : null;
  const bendParts = [];
  let bendTotal = 0;
  let lowest = 127;
  let highest = 0;
  let latest = 0;
  collected.forEach(([note, instrumentIndex], i) => {
    starts[i] = note.start;
    ends[i] = Math.max(note.end, note.start);
    pitches[i] = Math.min(127, Math.max(0, Math.round(note.pitch)));
    velocities[i] = Math.min(127, Math.max(1, Math.round(note.velocity ?? 100)));
    instrumentOf[i] = instrumentIndex;
    lowest = Math.min(lowest, pitches[i]);
    highest = Math.max(highest, pitches[i]);
    latest = Math.max(latest, ends[i]);
    if (readBends) {
      bendOffsets[i] = bendTotal;
      if (Array.isArray(note.pitch_bends) && note.pitch_bends.length) {
        bendParts.push(note.pitch_bends);
        bendTotal += note.pitch_bends.length;
      }
    }
  });
  let bendValues = null;
  if (readBends) {
    bendOffsets[count] = bendTotal;
    bendValues = new Float32Array(bendTotal);
    let at = 0;
    for (const part of bendParts) {
      for (const step of part) bendValues[at++] = Number(step) / BEND_STEPS_PER_SEMITONE;
    }
  }
  pedals.sort((a, b) => a.start - b.start);
  return new NoteSet({
    starts, ends, pitches, velocities, instrumentOf, bendOffsets, bendValues, instruments, pedals,
    frameRate: readBends ? doc.model_frame_rate_hz : 0,
    beats: timeList(doc.beats),
    downbeats: timeList(doc.downbeats),
    duration: Math.max(finite(doc.duration_s) ? doc.duration_s : 0, latest),
    lowestPitch: count ? lowest : 60,
    highestPitch: count ? highest : 72,
    model: text(doc.model),
    tempo: finite(doc.tempo_bpm) ? doc.tempo_bpm : null,
    timeSignature: text(doc.time_signature),
    key: text(doc.key),
  });
}
