"""kie.ai's MIDI generation shapes as JSON Schema, written from kie.ai's documentation (not from our models).

Seed 003 documents POST /api/v1/midi/generate's request and answer; kie.ai's "MIDI Generation
Callbacks" page the callback (``{"task_id", "code": 200, "msg": "success", "data": {"state": "complete",
"instruments": [{"name": "Drums", "notes": [{"pitch": 73, "start": 0.036, "end": 0.182, "velocity": 1}]}]}}``),
and its "Get MIDI Generation Details" page record-info's ``data`` (taskId, recordTaskId, audioId,
callbackUrl, completeTime, midiData, successFlag, createTime, errorCode, errorMessage). Instruments
are named by their General MIDI program, or "Drums"; velocity is a number from 0 to 1.
"""

from __future__ import annotations

# General MIDI level 1's program names (the GM 1 specification's table), and kie.ai's name for the kit.
GM_PROGRAMS = """Acoustic Grand Piano|Bright Acoustic Piano|Electric Grand Piano|Honky-tonk Piano|Electric Piano 1|
Electric Piano 2|Harpsichord|Clavinet|Celesta|Glockenspiel|Music Box|Vibraphone|Marimba|Xylophone|Tubular Bells|
Dulcimer|Drawbar Organ|Percussive Organ|Rock Organ|Church Organ|Reed Organ|Accordion|Harmonica|Tango Accordion|
Acoustic Guitar (nylon)|Acoustic Guitar (steel)|Electric Guitar (jazz)|Electric Guitar (clean)|
Electric Guitar (muted)|Overdriven Guitar|Distortion Guitar|Guitar Harmonics|Acoustic Bass|Electric Bass (finger)|
Electric Bass (pick)|Fretless Bass|Slap Bass 1|Slap Bass 2|Synth Bass 1|Synth Bass 2|Violin|Viola|Cello|Contrabass|
Tremolo Strings|Pizzicato Strings|Orchestral Harp|Timpani|String Ensemble 1|String Ensemble 2|Synth Strings 1|
Synth Strings 2|Choir Aahs|Voice Oohs|Synth Voice|Orchestra Hit|Trumpet|Trombone|Tuba|Muted Trumpet|French Horn|
Brass Section|Synth Brass 1|Synth Brass 2|Soprano Sax|Alto Sax|Tenor Sax|Baritone Sax|Oboe|English Horn|Bassoon|
Clarinet|Piccolo|Flute|Recorder|Pan Flute|Blown Bottle|Shakuhachi|Whistle|Ocarina|Lead 1 (square)|
Lead 2 (sawtooth)|Lead 3 (calliope)|Lead 4 (chiff)|Lead 5 (charang)|Lead 6 (voice)|Lead 7 (fifths)|
Lead 8 (bass + lead)|Pad 1 (new age)|Pad 2 (warm)|Pad 3 (polysynth)|Pad 4 (choir)|Pad 5 (bowed)|Pad 6 (metallic)|
Pad 7 (halo)|Pad 8 (sweep)|FX 1 (rain)|FX 2 (soundtrack)|FX 3 (crystal)|FX 4 (atmosphere)|FX 5 (brightness)|
FX 6 (goblins)|FX 7 (echoes)|FX 8 (sci-fi)|Sitar|Banjo|Shamisen|Koto|Kalimba|Bag pipe|Fiddle|Shanai|Tinkle Bell|
Agogo|Steel Drums|Woodblock|Taiko Drum|Melodic Tom|Synth Drum|Reverse Cymbal|Guitar Fret Noise|Breath Noise|
Seashore|Bird Tweet|Telephone Ring|Helicopter|Applause|Gunshot""".replace("\n", "").split("|")
INSTRUMENT_NAMES = [*GM_PROGRAMS, "Drums"]

NOTE = {
    "type": "object",
    "required": ["pitch", "start", "end", "velocity"],
    "properties": {
        "pitch": {"type": "integer", "minimum": 0, "maximum": 127},
        "start": {"type": "number", "minimum": 0},
        "end": {"type": "number", "minimum": 0},
        "velocity": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "additionalProperties": False,
}
INSTRUMENT = {
    "type": "object",
    "required": ["name", "notes"],
    "properties": {"name": {"enum": INSTRUMENT_NAMES}, "notes": {"type": "array", "items": NOTE}},
    "additionalProperties": False,
}
MIDI_DATA = {
    "type": "object",
    "required": ["state", "instruments"],
    "properties": {"state": {"enum": ["pending", "complete", "failed"]},
                   "instruments": {"type": "array", "items": INSTRUMENT}},
}
# Seed 003's 200 answer.
GENERATE_ANSWER = {
    "type": "object",
    "required": ["code", "msg", "data"],
    "properties": {"code": {"const": 200}, "msg": {"type": "string"},
                   "data": {"type": "object", "required": ["taskId"], "properties": {"taskId": {"type": "string"}}}},
}
CALLBACK = {
    "type": "object",
    "required": ["task_id", "code", "msg", "data"],
    "properties": {"task_id": {"type": "string"}, "code": {"const": 200}, "msg": {"const": "success"},
                   "data": {**MIDI_DATA, "properties": {**MIDI_DATA["properties"], "state": {"const": "complete"}}}},
}
RECORD_INFO = {
    "type": "object",
    "required": ["code", "msg", "data"],
    "properties": {
        "code": {"const": 200},
        "msg": {"type": "string"},
        "data": {
            "type": "object",
            "required": ["taskId", "recordTaskId", "audioId", "callbackUrl", "completeTime", "midiData",
                         "successFlag", "createTime", "errorCode", "errorMessage"],
            "properties": {
                "taskId": {"type": "string"},
                "recordTaskId": {"type": "integer"},
                "audioId": {"type": "string"},
                "callbackUrl": {"type": "string"},
                "completeTime": {"type": ["integer", "null"]},
                "midiData": MIDI_DATA,
                "successFlag": {"enum": [0, 1, 3]},
                "createTime": {"type": ["integer", "null"]},
                "errorCode": {"type": ["string", "integer", "null"]},
                "errorMessage": {"type": ["string", "null"]},
            },
        },
    },
}


def validate(document, schema) -> None:
    import jsonschema

    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
