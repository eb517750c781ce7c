# SPDX-License-Identifier: Apache-2.0
"""dask_scan(): scan many files on a Dask distributed cluster. Each task is
a batch of paths scanned by the C library inside the worker; a file that
fails, or a task whose worker died, gives `error` reports for its files
instead of losing the batch."""
import json

from ._report import Report


def _error_report(path, why):
    return json.dumps({"path": path, "format": "unknown", "size": 0, "verdict": "error",
                       "error": why, "findings": [], "imports": [], "pickles": []}).encode()


def _scan_batch(paths, profiles, policy, limits, strict):
    """Runs in a worker: scans each path, never raises. Returns the reports
    as JSON lines, unparsed (cheaper to ship than Python objects)."""
    from . import _api
    out = []
    for p in paths:
        try:
            out.append(_api.scan_json(p, profiles=profiles, policy=policy, limits=limits,
                                      strict=strict))
        except Exception as e:  # one file's failure is that file's report
            out.append(_error_report(p, f"{type(e).__name__}: {e}"))
    return b"\n".join(out)


def _chunks(paths, chunk):
    return [paths[i:i + chunk] for i in range(0, len(paths), chunk)]


def dask_scan(client, paths, *, chunk=256, profiles=(), policy=None, limits=None, strict=False):
    """Scans `paths` on `client`'s cluster, `chunk` paths per task, and
    returns one Report per path in input order."""
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    paths = [str(p) for p in paths]
    batches = _chunks(paths, chunk)
    futures = client.map(_scan_batch, batches, profiles=tuple(profiles), policy=policy,
                         limits=limits, strict=strict, pure=False)
    reports = []
    for batch, fut in zip(batches, futures):
        try:
            lines = fut.result().split(b"\n")
        except Exception as e:  # the task itself failed (worker lost, ...)
            lines = [_error_report(p, f"task failed: {type(e).__name__}: {e}") for p in batch]
        reports.extend(Report(json.loads(line)) for line in lines)
    return reports
