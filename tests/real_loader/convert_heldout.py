#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Held-out check of `ckptscan convert` (issue 15): checkpoints saved the way practitioners save
them, none of them a committed fixture, are converted and compared bit for bit with
torch.load; every file of fixtures/attacks is refused with no output. Not a meson test (it
builds torchvision models, ~200 MB of files in a temporary directory, ~1 min); run by hand:

    /usr/bin/python3 tests/real_loader/convert_heldout.py --ckptscan build/cli/ckptscan --repo .

Inputs: torchvision state_dicts (resnet18, mobilenet_v3_small, densenet121, squeezenet1_1,
vit_b_16 with random weights: no download), the same in fp16 and bf16, resnet18 in channels_last,
in the legacy stacked-pickle format and in torch's tar layout (fixtures/gen_convert.py's
writer), a Hugging Face style decoder shard (pytorch_model-00001-of-00001.bin: tied embeddings,
fused qkv chunks sharing one storage, a bool causal mask buffer, rotary inv_freq), a training
checkpoint without optimizer ({"model": ..., "epoch": ..., "config": {...}}), and views
(transposes, slices, expand, channels_last slices) in one dict. Exit 1 on any difference.
"""
import argparse
import collections
import os
import subprocess
import sys
import tempfile

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "fixtures"))
import run_convert_tests as rc  # noqa: E402  (the specification reader and comparison)
from gen_convert import save_tar  # noqa: E402


def hf_shard():
    g = torch.Generator().manual_seed(7)
    d, vocab, layers = 64, 100, 2
    sd = collections.OrderedDict()
    emb = torch.randn(vocab, d, generator=g)
    sd["model.embed_tokens.weight"] = emb
    for i in range(layers):
        qkv = torch.randn(3 * d, d, generator=g)
        q, k, v = qkv.chunk(3)  # three views of one storage
        p = f"model.layers.{i}.self_attn."
        sd[p + "q_proj.weight"], sd[p + "k_proj.weight"], sd[p + "v_proj.weight"] = q, k, v
        sd[p + "o_proj.weight"] = torch.randn(d, d, generator=g)
        sd[p + "rotary_emb.inv_freq"] = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
        sd[f"model.layers.{i}.mlp.up_proj.weight"] = torch.randn(4 * d, d, generator=g).to(
            torch.bfloat16)
        sd[f"model.layers.{i}.input_layernorm.weight"] = torch.ones(d, dtype=torch.float16)
        sd[f"model.layers.{i}.attn.bias"] = torch.tril(torch.ones(16, 16, dtype=torch.bool))
    sd["model.norm.weight"] = torch.ones(d)
    sd["lm_head.weight"] = emb  # tied
    return sd


def views():
    g = torch.Generator().manual_seed(8)
    base = torch.randn(6, 8, generator=g)
    img = torch.randn(2, 3, 4, 5, generator=g).to(memory_format=torch.channels_last)
    return collections.OrderedDict([
        ("base", base), ("t", base.t()), ("rows", base[2:5]), ("cols", base[:, 1:7:3]),
        ("expand", torch.arange(5.0).expand(3, 5)), ("img", img), ("img_slice", img[:, 1:]),
        ("bool_t", (base > 0).t()), ("i8", base.to(torch.int8)[::2]),
    ])


def inputs(tmp):
    torch.manual_seed(0)
    out = {}
    models = {
        "resnet18": torchvision.models.resnet18(),
        "mobilenet_v3_small": torchvision.models.mobilenet_v3_small(),
        "densenet121": torchvision.models.densenet121(),
        "squeezenet1_1": torchvision.models.squeezenet1_1(),
        "vit_b_16": torchvision.models.vit_b_16(),
    }
    for name, m in models.items():
        out[f"{name}.pth"] = ("zip", m.state_dict())
    r18 = models["resnet18"]
    out["resnet18_fp16.pth"] = ("zip", r18.half().state_dict())
    out["resnet18_bf16.pth"] = ("zip", torchvision.models.resnet18().to(torch.bfloat16).state_dict())
    out["resnet18_channels_last.pth"] = (
        "zip", torchvision.models.resnet18().to(memory_format=torch.channels_last).state_dict())
    out["resnet18_legacy.pth"] = ("legacy", torchvision.models.resnet18().state_dict())
    out["resnet18_tar.pth"] = ("tar", torchvision.models.resnet18().state_dict())
    out["mobilenet_fp16_legacy.pth"] = (
        "legacy", torchvision.models.mobilenet_v3_small().half().state_dict())
    out["pytorch_model-00001-of-00001.bin"] = ("zip", hf_shard())
    out["train_ckpt.pt"] = ("zip", {"model": torchvision.models.squeezenet1_1().state_dict(),
                                    "epoch": 12, "best_acc1": 0.71,
                                    "config": {"lr": 0.1, "arch": "squeezenet1_1"}})
    out["views.pt"] = ("zip", views())
    out["views_legacy.pt"] = ("legacy", views())
    out["views_tar.pt"] = ("tar", views())
    paths = {}
    for fname, (kind, obj) in out.items():
        p = os.path.join(tmp, fname)
        if kind == "zip":
            torch.save(obj, p)
        elif kind == "legacy":
            torch.save(obj, p, _use_new_zipfile_serialization=False)
        else:
            save_tar(obj, p)
        paths[fname] = p
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--repo", required=True)
    a = ap.parse_args()
    exe = os.path.abspath(a.ckptscan)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in")
        os.mkdir(src)
        dst = os.path.join(tmp, "out")
        os.mkdir(dst)
        for fname, p in inputs(src).items():
            out = os.path.join(dst, fname + ".safetensors")
            code, stdout, stderr = rc.convert(exe, p, out)
            if rc.check(code == 0 and os.path.exists(out),
                        f"{fname}: exit {code}: {stdout}{stderr}"):
                before = len(rc.failures)
                rc.compare_torch(fname, out, p)
                _, got = rc.read_safetensors(out)
                ok = "ok" if len(rc.failures) == before else "DIFFERS"
                print(f"{fname}: {len(got)} tensors, {os.path.getsize(out)} bytes: {ok}")
        attacks = os.path.join(os.path.abspath(a.repo), "fixtures", "attacks")
        refused = 0
        for f in sorted(os.listdir(attacks)):
            out = os.path.join(dst, "attack.safetensors")
            code, stdout, _ = rc.convert(exe, os.path.join(attacks, f), out)
            left = [x for x in os.listdir(dst) if x.startswith(".")]
            if rc.check(code != 0 and not os.path.exists(out) and not left,
                        f"attacks/{f}: exit {code}, output {os.path.exists(out)}, left {left}"):
                refused += 1
            if os.path.exists(out):
                os.unlink(out)
        print(f"fixtures/attacks: {refused} of {len(os.listdir(attacks))} refused, no output")
    for f in rc.failures:
        print("FAIL:", f)
    print(f"held-out convert: {len(rc.failures)} failure(s)")
    return 1 if rc.failures else 0


if __name__ == "__main__":
    sys.exit(main())
