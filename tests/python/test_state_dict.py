# SPDX-License-Identifier: Apache-2.0
"""load_state_dict() equals torch.load on every SAFE torch zip fixture,
never unpickles, maps stored records in place, and refuses what is not SAFE."""
import glob
import os

import numpy as np
import pytest
import torch

import ckptscan
from conftest import REPO, cli_reports


def flatten(obj, prefix=""):
    """Tensors of a loaded object under the inventory's dotted key paths."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from flatten(v, f"{prefix}.{i}" if prefix else str(i))


def torch_fixtures():
    return sorted(glob.glob(os.path.join(REPO, "fixtures", "torch", "*.pt")))


def reference(path):
    """torch.load's tensors: weights_only=True where torch accepts the file;
    else (protocol 4/5 pickles) the full loader, on our own SAFE fixtures."""
    try:
        return dict(flatten(torch.load(path, weights_only=True)))
    except Exception:
        return dict(flatten(torch.load(path, weights_only=False)))


def test_equals_torch_load_bit_for_bit():
    cli = cli_reports(torch_fixtures())
    safe_zip = [p for p, r in cli.items() if r["verdict"] == "safe" and r["format"] == "torch-zip"]
    assert len(safe_zip) >= 12
    for path in safe_zip:
        ours = ckptscan.load_state_dict(path)
        ref = reference(path)
        assert set(ours) == set(ref), path
        for key, t in ours.items():
            r = ref[key]
            assert (t.dtype, t.shape, t.stride()) == (r.dtype, r.shape, r.stride()), (path, key)
            assert torch.equal(t.view(torch.uint8) if t.dtype == torch.bool else t,
                               r.view(torch.uint8) if r.dtype == torch.bool else r), (path, key)


def test_every_dtype_and_numpy_framework():
    path = os.path.join(REPO, "fixtures", "torch", "dtypes.pt")
    ours = ckptscan.load_state_dict(path)
    assert {str(t.dtype) for t in ours.values()} >= {"torch.bfloat16", "torch.complex64",
                                                      "torch.bool", "torch.float16"}
    arrays = ckptscan.load_state_dict(path, framework="numpy")
    ref = reference(path)
    for key, a in arrays.items():
        assert isinstance(a, np.ndarray)
        if ref[key].dtype == torch.bfloat16:
            assert np.array_equal(a, ref[key].view(torch.int16).numpy().view(np.uint16))
        else:
            assert np.array_equal(a, ref[key].numpy()), key


def test_zero_copy_and_file_untouched():
    path = os.path.join(REPO, "fixtures", "torch", "views_shared_storage.pt")
    before = open(path, "rb").read()
    ours = ckptscan.load_state_dict(path, framework="numpy")
    a = next(iter(ours.values()))
    base = a
    while getattr(base, "base", None) is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)  # mapped from the file, not copied
    a.flat[0] = 123  # copy-on-write: the file never changes
    assert open(path, "rb").read() == before


def test_refuses_what_is_not_safe_and_never_unpickles(tmp_path):
    bad = os.path.join(REPO, "fixtures", "examples", "malicious_model.pt")
    with pytest.raises(ckptscan.UnsafeFileError) as e:
        ckptscan.load_state_dict(bad)
    assert e.value.report.verdict == "dangerous"
    module = os.path.join(REPO, "fixtures", "torch", "module_sequential.pt")
    with pytest.raises(ckptscan.UnsafeFileError):
        ckptscan.load_state_dict(module)
    assert ckptscan.load_state_dict(module, profiles=("ml",))  # SAFE with its profile
    legacy = os.path.join(REPO, "fixtures", "torch", "legacy_dtypes.pt")
    with pytest.raises(ckptscan.UnsupportedCheckpointError, match="complex64"):
        ckptscan.load_state_dict(legacy)  # safetensors has no complex dtype
    with pytest.raises(ValueError):
        ckptscan.load_state_dict(legacy, framework="jax")


def test_legacy_checkpoints_through_the_converter():
    """Legacy stacked-pickle checkpoints are read by the library's converter
    (in memory) and still equal torch.load, in the same key order."""
    for name in ("legacy_sd_linear.pt", "legacy_sd_batchnorm2d.pt"):
        path = os.path.join(REPO, "fixtures", "torch", name)
        ours = ckptscan.load_state_dict(path)
        ref = reference(path)
        assert list(ours) == list(ref), name
        for key, t in ours.items():
            assert t.dtype == ref[key].dtype and torch.equal(t, ref[key]), (name, key)
