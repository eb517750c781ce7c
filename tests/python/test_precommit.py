# SPDX-License-Identifier: Apache-2.0
"""The pre-commit hook (.pre-commit-hooks.yaml) on a scratch repository,
with Debian's pre-commit: a malicious checkpoint fails the hook, a safe one
and files it does not match pass."""
import os
import shutil
import subprocess

import pytest

from conftest import CLI, REPO

PRE_COMMIT = shutil.which("pre-commit")


def run_hook(tmp_path, files):
    env = dict(os.environ, PATH=os.path.dirname(CLI) + os.pathsep + os.environ["PATH"],
               PRE_COMMIT_HOME=str(tmp_path / "cache"), HOME=str(tmp_path))
    repo = tmp_path / "work"
    repo.mkdir(exist_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    for src, name in files:
        shutil.copyfile(src, repo / name)
        subprocess.run(["git", "add", name], cwd=repo, check=True)
    return subprocess.run([PRE_COMMIT, "try-repo", REPO, "ckptscan", "--all-files"], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed")
def test_hook_fails_on_malicious_checkpoint(tmp_path):
    out = run_hook(tmp_path, [(os.path.join(REPO, "fixtures/examples/malicious_model.pt"),
                               "model.pt")])
    assert out.returncode == 1, out.stdout + out.stderr
    assert "model.pt: DANGEROUS" in out.stdout


@pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed")
def test_hook_passes_safe_checkpoint(tmp_path):
    out = run_hook(tmp_path, [(os.path.join(REPO, "fixtures/examples/safe_model.pt"), "ok.pt"),
                              (os.path.join(REPO, "README.md"), "README.md")])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Passed" in out.stdout


def test_pre_commit_is_installed():
    """install-deps.sh installs pre-commit: its absence is a failure, not a skip."""
    assert PRE_COMMIT is not None
