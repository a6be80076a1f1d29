// The original recording and the sonified MIDI under one playhead, and single notes played on demand.
// One recording plays at a time (starting one pauses the other), so the playhead always follows the one
// being heard; seeking moves both, so switching between them keeps the place.

const NOTE_SECONDS_MIN = 0.15;
const NOTE_SECONDS_MAX = 1.5;

export class Player {
  constructor({ original, sonified, onTime }) {
    this.audios = [original, sonified];
    this.onTime = onTime;
    this.current = sonified;
    this.frame = 0;
    this.context = null;
    for (const audio of this.audios) {
      audio.addEventListener("play", () => this.started(audio));
      for (const name of ["pause", "ended", "seeked"]) {
        audio.addEventListener(name, () => { if (audio === this.current) this.onTime(audio.currentTime, false); });
      }
    }
  }

  setSources(originalUrl, sonifiedUrl) {
    [originalUrl, sonifiedUrl].forEach((url, index) => {
      const audio = this.audios[index];
      audio.pause();
      if (url) audio.src = url;
      else audio.removeAttribute("src");
      audio.load();
    });
    this.current = sonifiedUrl ? this.audios[1] : this.audios[0];
  }

  started(audio) {
    for (const other of this.audios) if (other !== audio) other.pause();
    this.current = audio;
    cancelAnimationFrame(this.frame);
    const follow = () => {
      this.onTime(audio.currentTime, true);
      if (!audio.paused && !audio.ended) this.frame = requestAnimationFrame(follow);
    };
    follow();
  }

  seek(time) {
    for (const audio of this.audios) {
      if (audio.getAttribute("src")) audio.currentTime = time;
    }
    this.onTime(time, false);
  }

  toggle() {
    const audio = this.current;
    if (!audio.getAttribute("src")) return;
    if (audio.paused) audio.play().catch(() => {});
    else audio.pause();
  }

  // A short tone at the note's pitch, as loud as its velocity (an oscillator: no samples to fetch).
  playNote(pitch, velocity, seconds) {
    this.context ??= new AudioContext();
    const context = this.context;
    const now = context.currentTime;
    const length = Math.min(NOTE_SECONDS_MAX, Math.max(NOTE_SECONDS_MIN, seconds));
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = "triangle";
    oscillator.frequency.value = 440 * 2 ** ((pitch - 69) / 12);
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.05 + 0.3 * (velocity / 127), now + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + length);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(now);
    oscillator.stop(now + length + 0.05);
  }
}
