# SPDX-License-Identifier: Apache-2.0
"""ckptscan: scan PyTorch checkpoints and Python pickles for code that would
run when they are loaded, without loading them (a binding to the C library).

    import ckptscan
    report = ckptscan.scan("model.pt")          # .verdict, .findings, .imports
    ckptscan.guard()                            # torch/pickle/numpy/joblib loads scan first
"""
from ._api import inspect, inspect_bytes, scan, scan_bytes, scan_json
from ._dask import dask_scan
from ._guard import UnsafeFileError, guard, guarded, unguard
from ._native import CkptError, version
from ._report import Finding, Import, Inspection, Report
from ._state_dict import UnsupportedCheckpointError, load_state_dict

__all__ = ["scan", "scan_bytes", "scan_json", "inspect", "inspect_bytes", "guard", "unguard", "guarded",
           "dask_scan", "load_state_dict", "UnsupportedCheckpointError", "UnsafeFileError", "CkptError", "Report", "Inspection", "Finding",
           "Import", "version"]
