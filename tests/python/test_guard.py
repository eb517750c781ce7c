# SPDX-License-Identifier: Apache-2.0
"""guard(): every malicious fixture is refused by every loader and its
payload never runs; benign files still load exactly as without the guard.
Loads run in a child process with a throwaway cwd, HOME and TMPDIR."""
import json
import os
import subprocess
import sys
import tempfile

import pytest

from conftest import REPO, cli_reports
import check_real_loaders as real

CHILD = r'''
import io, json, os, pickle, sys
sys.path.insert(0, sys.argv[1])
import ckptscan, joblib, numpy, torch
paths = json.loads(sys.argv[2])
ckptscan.guard()
loaders = {
    "torch.load": lambda p: torch.load(p, weights_only=False),
    "torch.load(file)": lambda p: torch.load(open(p, "rb"), weights_only=False),
    "pickle.load": lambda p: pickle.load(open(p, "rb")),
    "pickle.loads": lambda p: pickle.loads(open(p, "rb").read()),
    "numpy.load": lambda p: numpy.load(p, allow_pickle=True),
    "joblib.load": lambda p: joblib.load(p),
}
result = {}
for p in paths:
    for name, load in loaders.items():
        try:
            load(p)
            outcome = "loaded"
        except ckptscan.UnsafeFileError as e:
            outcome = "refused:" + e.report.verdict
        except Exception as e:
            outcome = "failed:" + type(e).__name__
        result[p + " " + name] = outcome
ckptscan.unguard()
assert not ckptscan.guarded() and torch.load.__module__ == "torch.serialization"
print(json.dumps(result))
'''


def run_child(paths):
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HOME=tmp, TMPDIR=tmp)
        out = subprocess.run([sys.executable, "-c", CHILD, os.path.join(REPO, "python"),
                              json.dumps(paths)], cwd=tmp, env=env, capture_output=True,
                             text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


def malicious_samples(fixtures):
    """Dangerous fixtures whose payloads are vetted harmless markers."""
    cli = cli_reports(fixtures)
    chosen = []
    for p in fixtures:
        if cli[p]["verdict"] != "dangerous":
            continue
        why, markers = real.vet(p)
        if why is None:
            chosen.append((p, markers))
    return chosen


def test_malicious_refused_by_every_loader(fixtures):
    samples = malicious_samples(fixtures)
    assert len(samples) >= 20
    markers = sorted({m for _, ms in samples for m in ms})
    real.remove_markers(markers)
    result = run_child([p for p, _ in samples])
    fired = [m for m in markers if os.path.exists(m)]
    real.remove_markers(markers)
    assert fired == []
    bad = {k: v for k, v in result.items() if v != "refused:dangerous"}
    assert bad == {}


# SAFE (nothing in them runs) yet torch.load fails on them: a 128 KiB deflated storage record
# that inflates 4 bytes short of its declared size (the scan sniffs 64 KiB of a tensor record,
# never inflates it whole; ckptscan convert refuses it, fixtures/gen_convert.py).
UNLOADABLE = ("convert/deflated_short_record.pt",)


def test_benign_torch_files_still_load(fixtures):
    cli = cli_reports(fixtures)
    safe = [p for p in fixtures if cli[p]["verdict"] == "safe" and cli[p]["format"] == "torch-zip"
            and not p.endswith(UNLOADABLE)]
    assert len(safe) >= 10
    result = run_child(safe)
    for p in safe:
        assert result[p + " torch.load"] == "loaded", p
        assert result[p + " torch.load(file)"] == "loaded", p


def test_file_object_position_and_same_bytes(tmp_path):
    """pickle.load under guard leaves the file after the first pickle, as
    the real pickle.load does, so the next load reads the next pickle."""
    import pickle
    import ckptscan
    f = tmp_path / "two.pkl"
    with open(f, "wb") as out:
        pickle.dump({"a": 1}, out)
        pickle.dump([2, 3], out)
    ckptscan.guard()
    try:
        with open(f, "rb") as fh, pytest.raises(ckptscan.UnsafeFileError) as e:
            pickle.load(fh)  # the bytes handed over hold a second pickle
        assert [x.code for x in e.value.report.findings] == ["extra-pickle"]
        ckptscan.guard(fail_on="dangerous")
        with open(f, "rb") as fh:
            assert pickle.load(fh) == {"a": 1}
            assert pickle.load(fh) == [2, 3]
            assert fh.read() == b""
        ckptscan.guard()
        assert pickle.loads(pickle.dumps((1, "x"))) == (1, "x")
        with pytest.raises(ckptscan.UnsafeFileError) as e:
            pickle.loads(b"cposix\nsystem\n(S'true'\ntR.")
        assert e.value.report.verdict == "dangerous"
    finally:
        ckptscan.unguard()
    assert not hasattr(pickle.load, "__ckptscan_original__")


def test_fail_on_dangerous_lets_suspicious_through(tmp_path):
    import pickle
    import ckptscan
    data = pickle.dumps(__import__("fractions").Fraction(1, 3))  # not on the allowlist
    assert ckptscan.scan_bytes(data).verdict == "suspicious"
    ckptscan.guard(fail_on="dangerous")
    try:
        assert pickle.loads(data) == __import__("fractions").Fraction(1, 3)
        ckptscan.guard()  # re-configure: suspicious is refused again
        with pytest.raises(ckptscan.UnsafeFileError):
            pickle.loads(data)
    finally:
        ckptscan.unguard()
    with pytest.raises(ValueError):
        ckptscan.guard(fail_on="safe")
