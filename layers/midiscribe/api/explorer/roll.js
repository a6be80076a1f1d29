// The piano roll: notes on a canvas (time across, pitch up), a keyboard along the pitch axis, a pedal lane
// and a playhead. Only the notes in view are drawn, batched by colour into one path each, so an hour-long
// result redraws as fast as a short one once zoomed in; the playhead is an element moved on its own.
// Drum hits sit in their General MIDI key rows as diamonds (a hit has a time, not a length); beats and
// bar lines, when the notes file has them, are the vertical grid.

import { SOFT_PEDAL, SUSTAIN_PEDAL } from "./notes.js";

const RULER_PX = 18;
const VELOCITY_SHADES = 8;
const MIN_PITCH_SPAN = 24;
const PITCH_MARGIN = 2;
const HIT_SLOP_PX = 3;
const MIN_SECONDS_PER_PIXEL = 0.0005;
// Roughly half a minute in view when a long result opens: fitting an hour would make every note a dot.
const OPENING_SPAN_S = 30;
const GRID_STEPS_S = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800];
const GRID_MIN_PX = 70;
// One hue per instrument (drums grey); shades from light (soft) to dark (loud) on a white roll.
const HUES = [212, 24, 145, 275, 350, 185, 45, 315];
const BLACK_KEYS = new Set([1, 3, 6, 8, 10]);
const NOTE_NAMES = ["C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B"];

// General MIDI Level 1's percussion map (channel 10), keys 35-81.
const GM_DRUMS = [
  "Acoustic Bass Drum", "Bass Drum 1", "Side Stick", "Acoustic Snare", "Hand Clap", "Electric Snare",
  "Low Floor Tom", "Closed Hi-Hat", "High Floor Tom", "Pedal Hi-Hat", "Low Tom", "Open Hi-Hat", "Low-Mid Tom",
  "Hi-Mid Tom", "Crash Cymbal 1", "High Tom", "Ride Cymbal 1", "Chinese Cymbal", "Ride Bell", "Tambourine",
  "Splash Cymbal", "Cowbell", "Crash Cymbal 2", "Vibraslap", "Ride Cymbal 2", "Hi Bongo", "Low Bongo",
  "Mute Hi Conga", "Open Hi Conga", "Low Conga", "High Timbale", "Low Timbale", "High Agogo", "Low Agogo",
  "Cabasa", "Maracas", "Short Whistle", "Long Whistle", "Short Guiro", "Long Guiro", "Claves",
  "Hi Wood Block", "Low Wood Block", "Mute Cuica", "Open Cuica", "Mute Triangle", "Open Triangle",
];
const FIRST_GM_DRUM = 35;

export function pitchName(pitch) {
  return `${NOTE_NAMES[pitch % 12]}${Math.floor(pitch / 12) - 1}`;
}

// A drum hit's General MIDI name ("Acoustic Snare"), or null for a key outside the percussion map.
export function drumName(key) {
  return GM_DRUMS[key - FIRST_GM_DRUM] ?? null;
}

export function formatTime(seconds) {
  const whole = Math.max(0, seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = (whole % 60).toFixed(whole < 60 ? 1 : 0).padStart(whole < 60 ? 4 : 2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

export function instrumentColour(index, isDrum, velocity = 127) {
  const shade = Math.min(VELOCITY_SHADES - 1, Math.floor((velocity / 128) * VELOCITY_SHADES));
  const lightness = 78 - shade * 6; // 78 % (softest) … 36 % (loudest)
  return isDrum ? `hsl(0 0% ${lightness - 8}%)` : `hsl(${HUES[index % HUES.length]} 70% ${lightness}%)`;
}

export class PianoRoll {
  constructor({ canvas, keyboard, pedals, playhead, onNote, onSeek, onTogglePlay, onViewChange }) {
    Object.assign(this, { canvas, keyboard, pedalCanvas: pedals, playhead, onNote, onSeek, onTogglePlay, onViewChange });
    this.notes = null;
    this.start = 0;
    this.secondsPerPixel = 0.01;
    this.playheadTime = 0;
    this.selected = -1;
    this.pending = false;
    this.drag = null;
    new ResizeObserver(() => this.requestDraw()).observe(canvas);
    canvas.addEventListener("wheel", (event) => this.onWheel(event), { passive: false });
    canvas.addEventListener("pointerdown", (event) => this.onPointerDown(event));
    canvas.addEventListener("pointermove", (event) => this.onPointerMove(event));
    canvas.addEventListener("pointerup", (event) => this.onPointerUp(event));
    canvas.addEventListener("keydown", (event) => this.onKey(event));
  }

  get width() { return this.canvas.clientWidth || 1; }
  get duration() { return this.notes ? Math.max(this.notes.duration, 1) : 1; }
  get span() { return this.width * this.secondsPerPixel; }

  setNotes(notes) {
    this.notes = notes;
    this.selected = -1;
    this.playheadTime = 0;
    const low = Math.max(0, notes.lowestPitch - PITCH_MARGIN);
    const high = Math.min(127, Math.max(notes.highestPitch + PITCH_MARGIN, low + MIN_PITCH_SPAN - 1));
    this.lowPitch = Math.max(0, Math.min(low, high - MIN_PITCH_SPAN + 1));
    this.highPitch = high;
    this.pedalCanvas.hidden = notes.pedals.length === 0;
    this.canvas.dataset.noteCount = String(notes.count);
    this.canvas.dataset.state = "ready";
    this.fit(Math.min(this.duration, OPENING_SPAN_S));
  }

  clear() {
    this.notes = null;
    this.selected = -1;
    this.pedalCanvas.hidden = true;
    this.playhead.hidden = true;
    this.canvas.dataset.noteCount = "0";
    this.canvas.dataset.state = "empty";
    this.canvas.setAttribute("aria-label", "Piano roll (empty)");
    this.requestDraw();
  }

  fit(span = this.duration) {
    this.secondsPerPixel = span / this.width;
    this.start = 0;
    this.changed();
  }

  zoom(factor, anchorX = this.width / 2) {
    const anchorTime = this.start + anchorX * this.secondsPerPixel;
    const widest = (this.duration * 1.05) / this.width;
    this.secondsPerPixel = Math.min(widest, Math.max(MIN_SECONDS_PER_PIXEL, this.secondsPerPixel * factor));
    this.start = anchorTime - anchorX * this.secondsPerPixel;
    this.changed();
  }

  scrollTo(start) {
    this.start = start;
    this.changed();
  }

  // Where the view is, as a fraction of how far it can go (for the position slider).
  get position() {
    const room = this.duration - this.span;
    return room > 0 ? Math.min(1, Math.max(0, this.start / room)) : 0;
  }

  set position(fraction) {
    this.scrollTo(Math.max(0, this.duration - this.span) * fraction);
  }

  setPlayhead(time, follow) {
    this.playheadTime = time;
    if (follow && (time < this.start || time > this.start + this.span)) {
      this.scrollTo(time - this.span * 0.1);
    }
    this.placePlayhead();
  }

  changed() {
    const room = Math.max(0, this.duration - this.span);
    this.start = Math.min(Math.max(this.start, 0), room);
    this.requestDraw();
    this.onViewChange?.(this);
  }

  requestDraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  // ---------------------------------------------------------------- geometry

  rowHeight(height) { return (height - RULER_PX) / (this.highPitch - this.lowPitch + 1); }
  xOf(time) { return (time - this.start) / this.secondsPerPixel; }

  eventPosition(event) {
    const box = this.canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  // A note's rectangle in CSS pixels of the roll: {x, y, width, height}.
  noteBox(index) {
    const row = this.rowHeight(this.canvas.clientHeight);
    const { starts, ends, pitches } = this.notes;
    return {
      x: this.xOf(starts[index]),
      y: RULER_PX + (this.highPitch - pitches[index]) * row,
      width: Math.max(1, (ends[index] - starts[index]) / this.secondsPerPixel),
      height: row,
    };
  }

  // Select (and play) the next or previous note from the selected one: the roll's notes for a keyboard.
  step(direction) {
    const count = this.notes.count;
    if (!count) return;
    const from = this.selected >= 0 ? this.selected : direction > 0 ? this.notes.range(this.start, this.start)[0] - 1 : count;
    this.select(Math.min(count - 1, Math.max(0, from + direction)));
    const box = this.noteBox(this.selected);
    if (box.x < 0 || box.x > this.width) this.scrollTo(this.notes.starts[this.selected] - this.span * 0.1);
  }

  select(index) {
    this.selected = index;
    this.requestDraw();
    this.onNote?.(index);
  }

  hit(x, y) {
    if (!this.notes || y < RULER_PX) return -1;
    const pitch = this.highPitch - Math.floor((y - RULER_PX) / this.rowHeight(this.canvas.clientHeight));
    const time = this.start + x * this.secondsPerPixel;
    const slop = HIT_SLOP_PX * this.secondsPerPixel;
    const [first, last] = this.notes.range(time - slop, time + slop);
    for (let i = last - 1; i >= first; i--) {
      if (this.notes.pitches[i] === pitch && this.notes.ends[i] >= time - slop) return i;
    }
    return -1;
  }

  // ---------------------------------------------------------------- drawing

  sized(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    return [context, width, height];
  }

  draw() {
    const [context, width, height] = this.sized(this.canvas);
    if (!this.notes) {
      this.canvas.dataset.drawnCount = "0";
      this.canvas.dataset.beatLines = "0";
      this.sized(this.keyboard);
      context.fillStyle = "#4a5260";
      context.font = "15px system-ui, sans-serif";
      context.textAlign = "center";
      context.fillText("The piano roll of a transcription appears here.", width / 2, height / 2);
      context.textAlign = "start";
      return;
    }
    const row = this.rowHeight(height);
    this.drawRows(context, width, row);
    this.drawGrid(context, width, height);
    const drawn = this.drawNotes(context, width, row);
    this.canvas.dataset.drawnCount = String(drawn);
    this.drawKeyboard(row);
    if (!this.pedalCanvas.hidden) this.drawPedals();
    this.placePlayhead();
  }

  drawRows(context, width, row) {
    for (let pitch = this.lowPitch; pitch <= this.highPitch; pitch++) {
      const y = RULER_PX + (this.highPitch - pitch) * row;
      if (BLACK_KEYS.has(pitch % 12)) {
        context.fillStyle = "#eef0f3";
        context.fillRect(0, y, width, row);
      }
      if (pitch % 12 === 0) {
        context.fillStyle = "#c9ced6";
        context.fillRect(0, y + row - 1, width, 1);
      }
    }
  }

  drawGrid(context, width, height) {
    const end = this.start + width * this.secondsPerPixel;
    context.fillStyle = "#f7f8fa";
    context.fillRect(0, 0, width, RULER_PX);
    context.font = "11px system-ui, sans-serif";
    context.textBaseline = "middle";
    const { beats, downbeats } = this.notes;
    let lines = 0;
    if (beats.length > 1 && meanSpacing(beats) / this.secondsPerPixel >= 4) {
      const bar = new Set(downbeats);
      for (const beat of beats) {
        if (beat < this.start || beat > end) continue;
        lines++;
        const x = Math.round(this.xOf(beat)) + 0.5;
        context.fillStyle = bar.has(beat) ? "#9aa3af" : "#dde1e6";
        context.fillRect(x, RULER_PX, 1, height - RULER_PX);
      }
    }
    const step = GRID_STEPS_S.find((candidate) => candidate / this.secondsPerPixel >= GRID_MIN_PX) ?? 3600;
    for (let time = Math.floor(this.start / step) * step; time <= end; time += step) {
      const x = Math.round(this.xOf(time)) + 0.5;
      context.fillStyle = "#c9ced6";
      context.fillRect(x, beats.length ? 0 : RULER_PX, 1, beats.length ? RULER_PX : height - RULER_PX);
      context.fillStyle = "#3b4350";
      context.fillText(formatTime(time), x + 3, RULER_PX / 2);
    }
    this.canvas.dataset.beatLines = String(lines);
  }

  drawNotes(context, width, row) {
    const notes = this.notes;
    const t0 = this.start;
    const t1 = this.start + width * this.secondsPerPixel;
    const [first, last] = notes.range(t0, t1);
    const paths = new Map();
    const bends = new Path2D();
    const wideEnough = notes.frameRate > 0 && 1 / (notes.frameRate * this.secondsPerPixel) >= 0.5;
    let drawn = 0;
    for (let i = first; i < last; i++) {
      const pitch = notes.pitches[i];
      if (notes.ends[i] < t0 || pitch < this.lowPitch || pitch > this.highPitch) continue;
      drawn++;
      const instrument = notes.instrumentOf[i];
      const isDrum = notes.instruments[instrument].isDrum;
      const key = instrument * VELOCITY_SHADES + Math.floor((notes.velocities[i] / 128) * VELOCITY_SHADES);
      let path = paths.get(key);
      if (!path) paths.set(key, (path = { path: new Path2D(), colour: instrumentColour(instrument, isDrum, notes.velocities[i]) }));
      const x = this.xOf(notes.starts[i]);
      const y = RULER_PX + (this.highPitch - pitch) * row;
      if (isDrum) {
        diamond(path.path, x, y + row / 2, Math.max(2, row / 2 + 1));
        continue;
      }
      const w = Math.max(1, (notes.ends[i] - notes.starts[i]) / this.secondsPerPixel);
      path.path.rect(x, y + 0.5, w, Math.max(1, row - 1));
      if (wideEnough) {
        const values = notes.bendsOf(i);
        if (values) {
          const frame = 1 / notes.frameRate / this.secondsPerPixel;
          bends.moveTo(x, y + row / 2 - values[0] * row);
          values.forEach((value, step) => bends.lineTo(x + step * frame, y + row / 2 - value * row));
        }
      }
    }
    for (const { path, colour } of paths.values()) {
      context.fillStyle = colour;
      context.fill(path);
    }
    if (row >= 4 && (t1 - t0) < 120) {
      context.strokeStyle = "rgb(20 24 31 / 0.55)";
      context.lineWidth = 1;
      for (const { path } of paths.values()) context.stroke(path);
    }
    context.strokeStyle = "#111";
    context.lineWidth = 1.5;
    context.stroke(bends);
    if (this.selected >= 0 && this.selected < notes.count) {
      const box = this.noteBox(this.selected);
      context.strokeStyle = "#000";
      context.lineWidth = 2;
      context.strokeRect(box.x, box.y, Math.max(2, box.width), box.height);
    }
    return drawn;
  }

  drawKeyboard(row) {
    const [context, width] = this.sized(this.keyboard);
    context.font = `${Math.min(11, Math.max(8, row * 1.6))}px system-ui, sans-serif`;
    context.textBaseline = "middle";
    for (let pitch = this.lowPitch; pitch <= this.highPitch; pitch++) {
      const y = RULER_PX + (this.highPitch - pitch) * row;
      const black = BLACK_KEYS.has(pitch % 12);
      context.fillStyle = black ? "#1f2329" : "#ffffff";
      context.fillRect(0, y, black ? width * 0.62 : width, row);
      context.fillStyle = "#aab1bb";
      context.fillRect(0, y + row - 0.5, width, 0.5);
      if (pitch % 12 === 0 && row * 12 >= 12) {
        context.fillStyle = "#1f2329";
        context.fillText(pitchName(pitch), width * 0.64, y + row / 2);
      }
    }
  }

  // Sustain and soft pedal presses in a lane each; a multi-track result's pedals in their track's colour.
  drawPedals() {
    const [context, width, height] = this.sized(this.pedalCanvas);
    const t1 = this.start + width * this.secondsPerPixel;
    const lanes = [[SUSTAIN_PEDAL, "Sustain", "#4b5563"], [SOFT_PEDAL, "Soft", "#9ca3af"]];
    const lane = height / lanes.length;
    const { instruments } = this.notes;
    const tracked = instruments.length > 1;
    let drawn = 0;
    context.font = "10px system-ui, sans-serif";
    context.textBaseline = "middle";
    lanes.forEach(([controller, label, colour], index) => {
      for (const pedal of this.notes.pedals) {
        if (pedal.controller !== controller || pedal.end < this.start || pedal.start > t1) continue;
        const track = pedal.instrument;
        context.fillStyle = tracked && track >= 0 ? instrumentColour(track, instruments[track].isDrum, 100) : colour;
        const x = this.xOf(pedal.start);
        context.fillRect(x, index * lane + 2, Math.max(1, (pedal.end - pedal.start) / this.secondsPerPixel), lane - 4);
        drawn++;
      }
      context.fillStyle = "rgb(255 255 255 / 0.85)";
      context.fillRect(2, index * lane + 2, context.measureText(label).width + 6, lane - 4);
      context.fillStyle = "#1f2329";
      context.fillText(label, 5, index * lane + lane / 2);
    });
    this.pedalCanvas.dataset.drawnCount = String(drawn);
  }

  placePlayhead() {
    const x = this.xOf(this.playheadTime);
    const inView = this.notes && x >= 0 && x <= this.width;
    this.playhead.hidden = !inView;
    this.playhead.style.transform = `translateX(${Math.round(x)}px)`;
    this.playhead.dataset.time = this.playheadTime.toFixed(3);
  }

  // ---------------------------------------------------------------- input

  onWheel(event) {
    if (!this.notes) return;
    event.preventDefault();
    const [x] = this.eventPosition(event);
    if (event.ctrlKey || event.metaKey) {
      this.zoom(Math.exp(event.deltaY * 0.002), x);
    } else {
      const delta = Math.abs(event.deltaX) > Math.abs(event.deltaY) ? event.deltaX : event.deltaY;
      this.scrollTo(this.start + delta * this.secondsPerPixel);
    }
  }

  onPointerDown(event) {
    if (!this.notes || event.button !== 0) return;
    const [x] = this.eventPosition(event);
    this.drag = { x, start: this.start, moved: false };
    this.canvas.setPointerCapture(event.pointerId);
  }

  onPointerMove(event) {
    if (!this.drag) return;
    const [x] = this.eventPosition(event);
    if (Math.abs(x - this.drag.x) > 3) this.drag.moved = true;
    if (this.drag.moved) this.scrollTo(this.drag.start - (x - this.drag.x) * this.secondsPerPixel);
  }

  onPointerUp(event) {
    const drag = this.drag;
    this.drag = null;
    if (!drag || drag.moved) return;
    const [x, y] = this.eventPosition(event);
    const index = this.hit(x, y);
    if (index >= 0) {
      this.select(index);
    } else {
      this.onSeek?.(Math.max(0, this.start + x * this.secondsPerPixel));
    }
  }

  onKey(event) {
    if (!this.notes) return;
    const page = this.span;
    const actions = {
      ArrowLeft: () => this.scrollTo(this.start - page * 0.1),
      ArrowRight: () => this.scrollTo(this.start + page * 0.1),
      PageUp: () => this.scrollTo(this.start - page),
      PageDown: () => this.scrollTo(this.start + page),
      Home: () => this.scrollTo(0),
      End: () => this.scrollTo(this.duration),
      "+": () => this.zoom(0.5),
      "=": () => this.zoom(0.5),
      "-": () => this.zoom(2),
      "0": () => this.fit(),
      " ": () => this.onTogglePlay?.(),
      n: () => this.step(1),
      p: () => this.step(-1),
    };
    const action = actions[event.key];
    if (action && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      action();
    }
  }
}

function diamond(path, x, y, half) {
  path.moveTo(x, y - half);
  path.lineTo(x + half, y);
  path.lineTo(x, y + half);
  path.lineTo(x - half, y);
  path.closePath();
}

function meanSpacing(sorted) {
  return (sorted[sorted.length - 1] - sorted[0]) / (sorted.length - 1);
}
