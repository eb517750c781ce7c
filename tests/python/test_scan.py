# SPDX-License-Identifier: Apache-2.0
"""scan(), scan_bytes() and inspect() agree with the CLI."""
import os

import pytest

import ckptscan
from conftest import REPO, cli_reports

SAFE = os.path.join(REPO, "fixtures", "examples", "safe_model.pt")
BAD = os.path.join(REPO, "fixtures", "examples", "malicious_model.pt")


def test_every_fixture_same_verdict_as_cli(fixtures):
    cli = cli_reports(fixtures)
    assert len(cli) == len(fixtures)
    for path in fixtures:
        report = ckptscan.scan(path)
        assert report.verdict == cli[path]["verdict"], path
        assert report.to_dict() == cli[path], path
        assert [f.code for f in report.findings] == [f["code"] for f in cli[path]["findings"]]


def test_every_fixture_same_verdict_from_bytes(fixtures):
    cli = cli_reports(fixtures)
    for path in fixtures:
        with open(path, "rb") as f:
            data = f.read()
        for buf in (data, bytearray(data), memoryview(data)):
            assert ckptscan.scan_bytes(buf, name=path).verdict == cli[path]["verdict"], path


def test_report_fields():
    r = ckptscan.scan(BAD)
    assert r.verdict == "dangerous" and r.format == "torch-zip" and not r.safe
    assert r.at_least("suspicious") and r.at_least("dangerous")
    assert any(f.code == "command" and f.severity == "dangerous" for f in r.findings)
    assert any(i.resolved == "posix.system" and not i.allowed for i in r.imports)
    s = ckptscan.scan(SAFE)
    assert s.verdict == "safe" and s.safe and s.findings == [] and not s.at_least("suspicious")


def test_missing_file_is_an_error_report(tmp_path):
    r = ckptscan.scan(tmp_path / "nope.pt")
    assert r.verdict == "error" and r.error == "no such file"
    assert r.at_least("dangerous")


def test_profiles_policy_and_limits(tmp_path):
    module = os.path.join(REPO, "fixtures", "torch", "module_sequential.pt")
    assert ckptscan.scan(module).verdict == "suspicious"
    assert ckptscan.scan(module, profiles=("ml",)).verdict == "safe"
    assert ckptscan.scan(module, profiles="ml").verdict == "safe"
    with pytest.raises(ValueError, match="unknown profile"):
        ckptscan.scan(module, profiles=("nope",))
    with pytest.raises(ValueError, match="unknown limit"):
        ckptscan.scan(SAFE, limits={"max-nothing": 1})
    r = ckptscan.scan(SAFE, limits={"max-opcodes": 10})
    assert r.verdict == "suspicious" and any(f.code == "limit" for f in r.findings)
    assert ckptscan.scan(BAD, strict=True).verdict == "dangerous"
    policy = tmp_path / "p.policy"
    policy.write_text("deny torch._utils._rebuild_tensor_v2 exec\n")
    assert ckptscan.scan(SAFE, policy=str(policy)).verdict == "dangerous"
    assert ckptscan.scan(SAFE, policy=policy.read_bytes()).verdict == "dangerous"
    bad_policy = tmp_path / "bad.policy"
    bad_policy.write_text("frobnicate everything\n")
    with pytest.raises(ValueError, match="line 1"):
        ckptscan.scan(SAFE, policy=str(bad_policy))


def test_inspect_inventory_matches_cli():
    insp = ckptscan.inspect(SAFE)
    cli = cli_reports([SAFE])
    assert insp.verdict == "safe"
    assert len(insp.tensors) == 9 and insp.tensors[0]["path"] == "0.weight"
    assert insp.tensors[0]["shape"] == [4, 1, 3, 3] and insp.tensors[0]["dtype"] == "float32"
    assert insp.torch["layout"] == "zip"
    assert ckptscan.inspect_bytes(open(SAFE, "rb").read()).tensors == insp.tensors
    assert cli[SAFE]["verdict"] == insp.verdict


def test_version_matches_cli():
    import subprocess
    from conftest import CLI
    out = subprocess.run([CLI, "--version"], capture_output=True, text=True).stdout
    assert ckptscan.version() in out
