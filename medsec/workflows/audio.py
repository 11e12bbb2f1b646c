"""A dictation's audio: what it is, how long, converted to what transcribers take, not silent.

`dictation add` hands every transcriber a 16 kHz mono 16-bit signed PCM WAV file
(medsec.plugin_types.Transcriber). This module gets there from what a recorder writes:

- `sniff(path)`: the format from the file's first bytes (RIFF/WAVE, fLaC, MP3 with an ID3 tag
  or an MPEG frame sync), not from its name; anything else is bad input.
- `duration(path, fmt)`: seconds, from the WAV header with the stdlib `wave` module (a damaged
  or truncated header is bad input), from FLAC's STREAMINFO block, or `soxi -D` for MP3.
- `keep_copy(path, folder)`: the file read once (a regular file within the attachment limit,
  medsec.inputs) into the private folder, hashed as it is copied; everything after reads the copy,
  so a file changed meanwhile cannot make what was stored differ from what was transcribed.
- `convert(audio, folder, limit)`: sox into a private folder, never more than `limit` seconds of
  it (a header that says less than the file holds is caught by the length of the result); a WAV
  already in the wanted format is copied as it is (no sox needed). sox missing: an environment
  failure naming the Debian package.
- `is_silent(wav)`: the RMS of the converted samples (with `array`) below SILENCE_RMS.

Every subprocess runs with a timeout, without a shell.
"""

import os
import shutil
import subprocess
import sys
import wave
from array import array
from typing import NamedTuple

from medsec.errors import EnvironmentFailure, InvalidInput
from medsec.inputs import ATTACHMENT, open_input
from medsec.text import shown

RATE, CHANNELS, WIDTH = 16_000, 1, 2  # what transcribers are given: 16 kHz, mono, 16-bit signed PCM
FORMATS = ("wav", "flac", "mp3")
SILENCE_RMS = 40.0  # of 32,768: about -58 dBFS; sox's dither is ~1, a quiet voice some hundreds
SNIFF_BYTES = 4096
_DEBIAN = {"wav": "sox", "flac": "sox", "mp3": "sox and libsox-fmt-mp3"}


class Audio(NamedTuple):
    """A dictation's file as given: its format (FORMATS) and length in seconds."""

    path: str
    format: str
    seconds: float


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(SNIFF_BYTES)
    except IsADirectoryError:
        raise InvalidInput(f"{shown(path)} is a folder, not an audio file") from None
    except FileNotFoundError:
        raise InvalidInput(f"{shown(path)} does not exist") from None
    except OSError as e:
        raise InvalidInput(f"{shown(path)} cannot be read: {e.strerror or e}") from None


def _mpeg_sync(head: bytes) -> bool:
    """An MPEG audio frame header at the start: 11 sync bits, a known version, layer III/II/I,
    a bitrate index that is neither free (0) nor bad (15), a sample rate index that is not 3."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


def sniff(path: str) -> str:
    """"wav", "flac" or "mp3", from the file's bytes; InvalidInput for anything else."""
    if not os.path.isfile(path) and os.path.exists(path):
        raise InvalidInput(f"{shown(path)} is not a regular file")
    head = _head(path)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3" or _mpeg_sync(head):
        return "mp3"
    raise InvalidInput(f"{shown(path)} is not audio (WAV, FLAC or MP3)")


def _wav_info(path: str) -> tuple[int, int, int, int, float] | None:
    """(channels, sample width, rate, frames, seconds) from a PCM WAV header; None for a WAV
    `wave` cannot read but sox may (float samples, WAVE_FORMAT_EXTENSIBLE); InvalidInput when
    the header is damaged or the data is shorter than it says."""
    size = os.path.getsize(path)
    try:
        with open(path, "rb") as f, wave.open(f, "rb") as w:
            start = f.tell()
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
    except wave.Error as e:
        if "unknown format" in str(e):
            return None
        raise InvalidInput(f"{shown(path)} is a damaged WAV file ({e})") from None
    except (EOFError, ValueError, OSError) as e:
        raise InvalidInput(f"{shown(path)} is a damaged WAV file "
                           f"(its header is cut short: {e or 'end of file'})") from None
    if rate <= 0 or channels <= 0 or width <= 0:
        raise InvalidInput(f"{shown(path)} is a damaged WAV file (a sample rate of {rate} Hz)")
    if size - start < frames * channels * width:
        raise InvalidInput(f"{shown(path)} is a damaged WAV file (truncated: its header promises "
                           f"{frames * channels * width:,} bytes of sound, it holds {max(size - start, 0):,})")
    return channels, width, rate, frames, frames / rate


def _flac_seconds(path: str) -> float | None:
    """Seconds from FLAC's STREAMINFO block (the first metadata block); None when it does not say."""
    with open(path, "rb") as f:
        head = f.read(42)
    if len(head) < 42 or head[4] & 0x7F != 0:
        raise InvalidInput(f"{shown(path)} is a damaged FLAC file (no STREAMINFO block)")
    info = int.from_bytes(head[18:26], "big")
    rate, samples = info >> 44, info & ((1 << 36) - 1)
    return samples / rate if rate and samples else None


def _tool(name: str, fmt: str) -> str:
    found = shutil.which(name)
    if not found:
        raise EnvironmentFailure(f"{name} is not installed: it is needed to read {fmt.upper()} audio",
                                 hint=f"install the Debian package {_DEBIAN[fmt]}")
    return found


def _run(argv: list[str], fmt: str, path: str, timeout: float) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise EnvironmentFailure(f"{os.path.basename(argv[0])} took more than {timeout:.0f} s "
                                 f"on {shown(path)}") from None
    if done.returncode != 0:
        said = " ".join((done.stderr or done.stdout).split())[:300]
        if "no handler" in said or "not supported" in said.lower():
            raise EnvironmentFailure(f"sox cannot read {fmt.upper()} here: {said}",
                                     hint=f"install the Debian package {_DEBIAN[fmt]}")
        raise InvalidInput(f"{shown(path)} could not be read as {fmt.upper()} audio: {said or 'sox failed'}")
    return done.stdout


def _linked(path: str, fmt: str, folder: str) -> str:
    """A name with the format's extension for sox (which goes by names) in the private folder."""
    link = os.path.join(folder, f"input.{fmt}")
    if os.path.lexists(link):
        if os.readlink(link) == os.path.abspath(path):
            return link
        os.remove(link)
    os.symlink(os.path.abspath(path), link)
    return link


def duration(path: str, fmt: str, folder: str) -> float:
    """The audio's length in seconds (see the module's docstring)."""
    if fmt == "wav":
        info = _wav_info(path)
        if info is not None:
            return info[4]
    elif fmt == "flac":
        seconds = _flac_seconds(path)
        if seconds is not None:
            return seconds
    soxi = _tool("soxi", fmt)
    said = _run([soxi, "-D", _linked(path, fmt, folder)], fmt, path, timeout=60).strip()
    try:
        return float(said)
    except ValueError:
        raise InvalidInput(f"{shown(path)}: its length cannot be read ({said[:80]!r})") from None


def check(path: str, max_minutes: float, folder: str) -> Audio:
    """The file's format and length, refused when it is not audio or longer than `max_minutes`."""
    fmt = sniff(path)
    seconds = duration(path, fmt, folder)
    if seconds > max_minutes * 60:
        raise InvalidInput(f"{shown(path)} is {_clock(seconds)} long; dictations are limited to "
                           f"{max_minutes:g} minutes (dictation.yaml max_minutes)")
    return Audio(path, fmt, seconds)


def keep_copy(path: str, folder: str) -> tuple[str, str, int]:
    """`path` copied into the private `folder`, read once through medsec.inputs (a regular file
    within the attachment limit, else InvalidInput) and hashed as it is copied: (copy, sha256, size)."""
    import hashlib

    copy = os.path.join(folder, "original")
    digest, size = hashlib.sha256(), 0
    with open_input(path, ATTACHMENT) as source, \
            os.fdopen(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
            out.write(block)
    return copy, digest.hexdigest(), size


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def convert(audio: Audio, folder: str, max_minutes: float, name: str | None = None) -> tuple[str, float]:
    """The audio as 16 kHz mono 16-bit signed PCM WAV in `folder` (private): (its path, its seconds).
    At most `max_minutes` of it are converted: longer (its header said less) is InvalidInput naming
    `name`."""
    name = name or audio.path
    out = os.path.join(folder, "audio-16k.wav")
    if audio.format == "wav":
        info = _wav_info(audio.path)
        if info is not None and info[:3] == (CHANNELS, WIDTH, RATE):
            shutil.copyfile(audio.path, out)
            os.chmod(out, 0o600)
            return out, audio.seconds
    sox = _tool("sox", audio.format)
    limit = max_minutes * 60
    # a minute of audio converts in well under a second; a generous bound for slow disks, whatever
    # the header says (sox stops at the limit and a second)
    _run([sox, "-q", _linked(audio.path, audio.format, folder), "-r", str(RATE), "-c", str(CHANNELS),
          "-b", "16", "-e", "signed-integer", out, "trim", "0", f"{limit + 1:.0f}"], audio.format, name,
         timeout=60 + limit)
    os.chmod(out, 0o600)
    with wave.open(out, "rb") as w:
        seconds = w.getnframes() / RATE
    if seconds > limit:  # cut at the limit and a second: longer than its header says
        raise InvalidInput(f"{shown(name)} is over {_clock(limit)} long (its header says {_clock(audio.seconds)}); "
                           f"dictations are limited to {max_minutes:g} minutes (dictation.yaml max_minutes)")
    return out, seconds


def rms(wav_path: str) -> float:
    """The root mean square of a 16-bit mono WAV's samples (0 for no samples)."""
    total, count = 0, 0
    with wave.open(wav_path, "rb") as w:
        while True:
            chunk = w.readframes(RATE * 10)
            if not chunk:
                break
            samples = array("h")
            samples.frombytes(chunk[: len(chunk) // 2 * 2])
            if sys.byteorder == "big":
                samples.byteswap()  # WAV is little-endian
            total += sum(s * s for s in samples)
            count += len(samples)
    return (total / count) ** 0.5 if count else 0.0


def refuse_silence(wav_path: str, name: str) -> None:
    if rms(wav_path) < SILENCE_RMS:
        raise InvalidInput(f"{shown(name)} holds no speech (silence)")
