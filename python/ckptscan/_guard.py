# SPDX-License-Identifier: Apache-2.0
"""guard(): make torch.load, pickle.load/loads, numpy.load and joblib.load
scan their input first. The bytes scanned are the bytes loaded: a path or
file object is read once into memory, scanned, and the loader is handed
those same bytes (io.BytesIO), so nothing can change in between."""
import functools
import io
import os
import pickle
import threading

from . import _api

_lock = threading.Lock()
_saved = []  # (owner, attribute, original)


class UnsafeFileError(Exception):
    """A load was refused: `report` says why."""

    def __init__(self, report, what):
        self.report = report
        codes = sorted({f.code for f in report.findings if f.severity != "info"})
        super().__init__(f"ckptscan refused to load {what}: {report.verdict}"
                         + (f" ({', '.join(codes)})" if codes else "")
                         + (f": {report.error}" if report.error else ""))


def _read_source(src):
    """(bytes, name, file object or None) for a path or a readable file."""
    if isinstance(src, (str, bytes, os.PathLike)):
        with open(src, "rb") as f:
            return f.read(), os.fsdecode(src), None
    if hasattr(src, "read"):
        start = src.tell() if _seekable(src) else None
        data = src.read()
        return data, getattr(src, "name", "<file>"), (src, start)
    raise TypeError(f"ckptscan.guard: cannot scan a {type(src).__name__}")


def _seekable(f):
    try:
        return f.seekable()
    except Exception:
        return False


def _checked(data, name, config):
    report = _api.scan_bytes(data, name=str(name), profiles=config["profiles"])
    if report.at_least(config["fail_on"]):
        raise UnsafeFileError(report, name)
    return report


def _rewind(origin, consumed):
    """Leaves a caller's file object where the real loader would have."""
    if origin is not None:
        f, start = origin
        if start is not None:
            f.seek(start + consumed)


def _wrap_file_loader(original, config):
    @functools.wraps(original)
    def guarded(file, *args, **kwargs):
        data, name, origin = _read_source(file)
        _checked(data, name, config)
        buf = io.BytesIO(data)
        try:
            return original(buf, *args, **kwargs)
        finally:
            _rewind(origin, buf.tell())
    guarded.__ckptscan_original__ = original
    return guarded


def _wrap_loads(original, config):
    @functools.wraps(original)
    def guarded(data, *args, **kwargs):
        data = bytes(data)
        _checked(data, "<bytes>", config)
        return original(data, *args, **kwargs)
    guarded.__ckptscan_original__ = original
    return guarded


def _targets():
    """(owner, attribute, wrapper factory) for every loader present."""
    found = [(pickle, "load", _wrap_file_loader), (pickle, "loads", _wrap_loads)]
    for module, attr in (("torch", "load"), ("numpy", "load"), ("joblib", "load")):
        try:
            owner = __import__(module)
        except ImportError:
            continue
        found.append((owner, attr, _wrap_file_loader))
    return found


def guard(*, fail_on="suspicious", profiles=()):
    """Wraps the loaders so each scans its input and raises UnsafeFileError
    for anything at or above `fail_on` ("suspicious" or "dangerous"; a file
    that cannot be read is always refused). Calling it again re-configures."""
    if fail_on not in ("suspicious", "dangerous"):
        raise ValueError("fail_on must be 'suspicious' or 'dangerous'")
    config = {"fail_on": fail_on, "profiles": tuple(profiles)}
    with _lock:
        _unguard_locked()
        for owner, attr, factory in _targets():
            original = getattr(owner, attr)
            _saved.append((owner, attr, original))
            setattr(owner, attr, factory(original, config))


def _unguard_locked():
    while _saved:
        owner, attr, original = _saved.pop()
        setattr(owner, attr, original)


def unguard():
    """Puts the original loaders back."""
    with _lock:
        _unguard_locked()


def guarded():
    """True while guard() is in effect."""
    return bool(_saved)
