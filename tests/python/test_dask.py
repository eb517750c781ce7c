# SPDX-License-Identifier: Apache-2.0
"""dask_scan() on a real LocalCluster with two worker processes: a
generated mirror of 1,000+ files gets the same verdicts as the CLI's -j 2
run, in input order; a failing file is that file's error report."""
import os
import shutil

import pytest

import ckptscan
from conftest import cli_reports

distributed = pytest.importorskip("distributed")


def make_mirror(root, fixtures, copies):
    paths = []
    for i in range(copies):
        d = root / f"shard{i:02d}"
        d.mkdir()
        for src in fixtures:
            dst = d / (src.replace(os.sep, "_")[-60:])
            shutil.copyfile(src, dst)
            paths.append(str(dst))
    return paths


def test_local_cluster_matches_cli(tmp_path, fixtures):
    copies = -(-1000 // len(fixtures))
    paths = make_mirror(tmp_path, fixtures, copies)
    paths.append(str(tmp_path / "missing.pt"))
    assert len(paths) >= 1000
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        reports = ckptscan.dask_scan(client, paths, chunk=64)
    assert [r.path for r in reports] == paths
    cli = cli_reports(paths)
    for r in reports:
        assert r.verdict == cli[r.path]["verdict"], r.path
    assert reports[-1].verdict == "error" and reports[-1].error == "no such file"
    verdicts = {r.verdict for r in reports}
    assert {"safe", "suspicious", "dangerous", "error"} <= verdicts


def test_chunk_must_be_positive():
    with pytest.raises(ValueError):
        ckptscan.dask_scan(None, [], chunk=0)
