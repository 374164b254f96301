"""Writes static/sounds/new-message.wav, the inbox's new-message sound: two soft sine notes, 0.3 s, 8-bit mono.

Run it again after changing it: ``.venv/bin/python scripts/alert_sound.py``.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

RATE = 11_025
NOTES = ((880.0, 0.0, 0.18), (1318.5, 0.09, 0.3))  # (Hz, start s, end s): A5 then E6
PEAK = 0.35

path = Path(__file__).resolve().parents[1] / "static" / "sounds" / "new-message.wav"
samples = bytearray()
for n in range(int(RATE * max(end for _, _, end in NOTES))):
    t = n / RATE
    value = 0.0
    for frequency, start, end in NOTES:
        if start <= t < end:
            age = t - start
            attack = min(1.0, age / 0.005)
            value += attack * math.exp(-age * 14) * math.sin(2 * math.pi * frequency * age)
    samples.append(max(0, min(255, round(128 + 127 * PEAK * value))))
with wave.open(str(path), "wb") as out:
    out.setnchannels(1)
    out.setsampwidth(1)
    out.setframerate(RATE)
    out.writeframes(bytes(samples))
print(f"{path}: {path.stat().st_size} bytes")
