#!/usr/bin/env bash
# The Debian packages the tests use, installed with apt-get where they are missing (`make test` and `.ci/run`
# call this): Chromium and ChromeDriver for the explorer's browser tests (a test tool's own browser download
# fails on these machines), FluidSynth and the TimGM6mb sound font for the piano model's rendered clips, and
# MuseScore 3 to engrave the MusicXML score. MuseScore is a check of the score, not a need: where it cannot be
# installed its test says so and skips, and it is not tried again until .venv is made anew.
#
# Installing needs root or sudo without a password. Without either, this says what is missing and how to
# install it, and the tests that need it skip with that message; with --strict (CI) it fails instead.
set -uo pipefail
cd "$(dirname "$0")/.."

strict=0
[ "${1:-}" = "--strict" ] && strict=1

needed=()
{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } || needed+=(chromium chromium-driver)
command -v fluidsynth >/dev/null || needed+=(fluidsynth)
[ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || needed+=(timgm6mb-soundfont)
tried_musescore=.venv/.musescore3-tried
wanted=()
command -v mscore3 >/dev/null || [ -f "$tried_musescore" ] || wanted+=(musescore3)
[ ${#needed[@]} -eq 0 ] && [ ${#wanted[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "system packages: ${needed[*]} ${wanted[*]} missing, and installing them needs root:" >&2
  echo "  sudo apt-get install -y ${needed[*]} ${wanted[*]}" >&2
  if [ $strict -eq 1 ] && [ ${#needed[@]} -gt 0 ]; then exit 1; fi
  echo "  (the tests that need them skip, saying so)" >&2
  [ ${#needed[@]} -gt 0 ] || { mkdir -p .venv && touch "$tried_musescore"; }  # MuseScore alone: say it once
  exit 0
fi

apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
echo "system packages: installing ${needed[*]} ${wanted[*]} with apt-get" >&2
# Other jobs on the machine may be installing too: wait for them rather than fail on dpkg's lock.
flock /tmp/apt.lock "${apt[@]}" update -qq || true
if [ ${#needed[@]} -gt 0 ] && ! flock /tmp/apt.lock "${apt[@]}" install -y -qq "${needed[@]}"; then
  echo "system packages: apt-get could not install ${needed[*]}; the tests that need them skip, saying so" >&2
  [ $strict -eq 1 ] && exit 1
fi
if [ ${#wanted[@]} -gt 0 ] && ! flock /tmp/apt.lock "${apt[@]}" install -y -qq "${wanted[@]}"; then
  echo "system packages: musescore3 could not be installed: the engraving test will skip" >&2
  mkdir -p .venv && touch "$tried_musescore"
fi
exit 0
