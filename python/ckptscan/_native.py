# SPDX-License-Identifier: Apache-2.0
"""ctypes binding to the C library (include/ckptscan.h): the only place that
touches native code. Nothing here imports or unpickles what it scans."""
import ctypes
import json
import os
import threading

_OK = 0
_lib = None
_lib_lock = threading.Lock()

_WRITE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class CkptError(OSError):
    """The library could not do what was asked (bad argument, policy, memory)."""


def _candidates():
    env = os.environ.get("CKPTSCAN_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "_ckptscan.so")
    yield "libckptscan.so.0"


def _declare(lib):
    vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
    pvp = ctypes.POINTER(ctypes.c_void_p)
    sigs = {
        "ckpt_version": (cp, []),
        "ckpt_strerror": (cp, [ctypes.c_int]),
        "ckpt_scanner_new": (ctypes.c_int, [pvp]),
        "ckpt_scanner_free": (None, [vp]),
        "ckpt_scanner_set_limit": (ctypes.c_int, [vp, ctypes.c_int, ctypes.c_uint64]),
        "ckpt_scanner_set_strict": (None, [vp, ctypes.c_int]),
        "ckpt_scanner_use_profile": (ctypes.c_int, [vp, cp]),
        "ckpt_scanner_add_policy": (ctypes.c_int, [vp, cp, sz, ctypes.POINTER(sz)]),
        "ckpt_scanner_add_policy_file": (ctypes.c_int, [vp, cp, ctypes.POINTER(sz)]),
        "ckpt_limit_from_name": (ctypes.c_int, [cp]),
        "ckpt_scan_file": (ctypes.c_int, [vp, cp, pvp]),
        "ckpt_scan_mem": (ctypes.c_int, [vp, vp, sz, cp, pvp]),
        "ckpt_inspect_file": (ctypes.c_int, [vp, cp, pvp]),
        "ckpt_inspect_mem": (ctypes.c_int, [vp, vp, sz, cp, pvp]),
        "ckpt_report_free": (None, [vp]),
        "ckpt_report_write_json": (ctypes.c_int, [vp, _WRITE_FN, vp]),
        "ckpt_convert_safetensors": (ctypes.c_int, [vp, cp, ctypes.c_uint, _WRITE_FN, vp, pvp]),
        "ckpt_conversion_free": (None, [vp]),
        "ckpt_conversion_outcome": (ctypes.c_int, [vp]),
        "ckpt_conversion_message": (cp, [vp]),
        "ckpt_conversion_report": (vp, [vp]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


def lib():
    """The loaded library (loaded once, on first use)."""
    global _lib
    with _lib_lock:
        if _lib is None:
            errors = []
            for path in _candidates():
                try:
                    _lib = _declare(ctypes.CDLL(path))
                    break
                except OSError as e:
                    errors.append(f"{path}: {e}")
            else:
                raise ImportError("ckptscan: cannot load the C library (" + "; ".join(errors) + ")")
        return _lib


def _check(status, what):
    if status != _OK:
        raise CkptError(f"ckptscan: {what}: {lib().ckpt_strerror(status).decode()}")


class Scanner:
    """A configured native scanner: policy, profiles, limits, strictness."""

    def __init__(self, profiles=(), policy=None, limits=None, strict=False):
        L = lib()
        handle = ctypes.c_void_p()
        _check(L.ckpt_scanner_new(ctypes.byref(handle)), "scanner")
        self._h = handle
        try:
            self._configure(profiles, policy, limits or {}, strict)
        except Exception:
            self.close()
            raise

    def _configure(self, profiles, policy, limits, strict):
        L = lib()
        if isinstance(profiles, str):
            profiles = (profiles,)
        for p in profiles:
            if L.ckpt_scanner_use_profile(self._h, p.encode()) != _OK:
                raise ValueError(f"ckptscan: unknown profile {p!r}")
        if policy is not None:
            self._add_policy(policy)
        for name, value in limits.items():
            which = L.ckpt_limit_from_name(name.encode())
            if which < 0:
                raise ValueError(f"ckptscan: unknown limit {name!r}")
            _check(L.ckpt_scanner_set_limit(self._h, which, int(value)), f"limit {name}")
        L.ckpt_scanner_set_strict(self._h, 1 if strict else 0)

    def _add_policy(self, policy):
        L = lib()
        line = ctypes.c_size_t(0)
        if isinstance(policy, (bytes, bytearray)):
            st = L.ckpt_scanner_add_policy(self._h, bytes(policy), len(policy), ctypes.byref(line))
        else:
            st = L.ckpt_scanner_add_policy_file(self._h, os.fsencode(policy), ctypes.byref(line))
        if st != _OK:
            where = f" (line {line.value})" if line.value else ""
            raise ValueError(f"ckptscan: policy {policy!r}{where}: {L.ckpt_strerror(st).decode()}")

    def close(self):
        if self._h:
            lib().ckpt_scanner_free(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def scan_path(self, path, inspect=False):
        return json.loads(self.scan_path_json(path, inspect))

    def scan_path_json(self, path, inspect=False):
        """The JSON report as bytes, unparsed (for shipping between processes)."""
        fn = lib().ckpt_inspect_file if inspect else lib().ckpt_scan_file
        return self._run(lambda out: fn(self._h, os.fsencode(path), out))

    def scan_bytes(self, data, name="<bytes>", inspect=False):
        fn = lib().ckpt_inspect_mem if inspect else lib().ckpt_scan_mem
        buf, size = _pointer(data)
        return json.loads(self._run(lambda out: fn(self._h, buf, size, os.fsencode(name), out)))

    def _run(self, call):
        """Runs a scan and returns its JSON report (verdict "error" with the
        reason when the input could not be read)."""
        out = ctypes.c_void_p()
        st = call(ctypes.byref(out))
        if not out.value:
            _check(st, "scan")
        try:
            return _report_json(out)
        finally:
            lib().ckpt_report_free(out)


def convert_safetensors(scanner, path):
    """(outcome name, message, report dict, safetensors bytes or None) of
    converting `path` in memory with the library's converter."""
    L = lib()
    chunks = []

    def sink(_ctx, data, n):
        chunks.append(ctypes.string_at(data, n))
        return 0

    conv = ctypes.c_void_p()
    st = L.ckpt_convert_safetensors(scanner._h, os.fsencode(path), 0, _WRITE_FN(sink), None,
                                    ctypes.byref(conv))
    if not conv.value:
        _check(st, "convert")
    try:
        outcome = ("written", "not-safe", "unsupported", "refused")[
            L.ckpt_conversion_outcome(conv)]
        message = (L.ckpt_conversion_message(conv) or b"").decode("utf-8", "replace")
        rep = L.ckpt_conversion_report(conv)
        report = json.loads(_report_json(rep)) if rep else None
        if st != _OK:
            outcome, message = "refused", f"{message} ({L.ckpt_strerror(st).decode()})"
        return outcome, message, report, b"".join(chunks) if outcome == "written" else None
    finally:
        L.ckpt_conversion_free(conv)


def _pointer(data):
    """A pointer to data's bytes without a copy where Python allows it (bytes,
    writable buffers); a read-only non-bytes buffer is copied once."""
    if isinstance(data, bytes):
        return ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p), len(data)
    view = memoryview(data).cast("B")
    if view.readonly:
        return _pointer(view.tobytes())
    return (ctypes.c_char * len(view)).from_buffer(view), len(view)


def _report_json(report):
    chunks = []

    def sink(_ctx, data, n):
        chunks.append(ctypes.string_at(data, n))
        return 0

    _check(lib().ckpt_report_write_json(report, _WRITE_FN(sink), None), "report")
    return b"".join(chunks)


def version():
    return lib().ckpt_version().decode()
