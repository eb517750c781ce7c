#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Call-throughs graded by what they reach (issue 13 item 2) and allowlisted
callables judged with their arguments (issue 12 root cause 9): real files
written by the libraries, and attacks through each relaxed trampoline. Each
case asserts the exact verdict and the exact set of finding codes above
info. Files are written into a temp dir and never loaded."""
import argparse
import collections
import enum
import functools
import http
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import typing
import zipfile


def G(m, n):
    return b"c" + m.encode() + b"\n" + n.encode() + b"\n"


def U(s):
    b = s.encode()
    return b"X" + len(b).to_bytes(4, "little") + b


def B(b):
    return b"B" + len(b).to_bytes(4, "little") + b


P2 = b"\x80\x02"


class Payload:
    """Pickles as os.system('true'); only ever pickled here, never loaded."""

    def __reduce__(self):
        return (os.system, ("true",))


class Color(enum.Enum):
    RED = 1


def torch_bytes(obj, zip_format):
    import torch
    b = io.BytesIO()
    torch.save(obj, b, _use_new_zipfile_serialization=zip_format)
    return b.getvalue()


def load_from_bytes(payload):
    return P2 + G("torch.storage", "_load_from_bytes") + B(payload) + b"\x85R."


def real_cases():
    import numpy as np
    import torch
    import dill
    t = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(t.parameters(), lr=0.1)
    cyc = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    return [
        # enums: getattr(http.HTTPStatus, 'OK') under 3.11, at protocols 2 and 4
        ("enum-http-p2", pickle.dumps({"s": http.HTTPStatus.OK}, 2), None, "safe", []),
        ("enum-http-p4", pickle.dumps({"s": http.HTTPStatus.OK}, 4), None, "safe", []),
        ("enum-own-class", pickle.dumps(Color.RED, 4), None, "suspicious", ["unknown-import"]),
        ("typing-list", pickle.dumps(typing.List[int], 4), None, "safe", []),
        ("typing-dict", pickle.dumps(typing.Dict[str, typing.List[int]], 4), None, "safe", []),
        ("str-lower", pickle.dumps(str.lower, 4), None, "safe", []),
        ("partial-layernorm", pickle.dumps(functools.partial(torch.nn.LayerNorm, eps=1e-6), 2),
         None, "suspicious", ["unknown-import"]),
        ("partial-layernorm-ml", pickle.dumps(functools.partial(torch.nn.LayerNorm, eps=1e-6), 2),
         "ml", "safe", []),
        ("defaultdict-partial", pickle.dumps(collections.defaultdict(functools.partial(list)), 2),
         None, "safe", []),
        ("namespace-p0", pickle.dumps(argparse.Namespace(a=1), 0), None, "suspicious",
         ["unknown-import"]),
        ("namespace-p1", pickle.dumps(argparse.Namespace(a=1), 1), None, "suspicious",
         ["unknown-import"]),
        ("state-dict-p1", pickle.dumps(t.state_dict(), 1), None, "safe", []),
        ("tensor-p2", pickle.dumps(torch.ones(3), 2), None, "safe", []),
        ("tensor-p4", pickle.dumps(torch.ones(3), 4), None, "safe", []),
        ("onecycle-ml", pickle.dumps(cyc.__dict__, 2), "ml", "safe", []),
        ("dill-array", dill.dumps(np.arange(3)), None, "safe", []),
        ("randomstate", pickle.dumps(np.random.RandomState(0), 2), None, "safe", []),
        ("generator", pickle.dumps(np.random.default_rng(0), 2), None, "safe", []),
        ("ellipsis", pickle.dumps([Ellipsis, NotImplemented], 2), None, "safe", []),
        ("sparse-csr", torch_bytes(torch.eye(3).to_sparse_csr(), True), None, "safe", []),
    ]


def torch_module_p1():
    import torch
    b = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), b, pickle_protocol=1)
    return b.getvalue()


def joblib_p(proto, d):
    import joblib
    import numpy as np
    path = os.path.join(d, "a.joblib")
    joblib.dump(np.arange(5), path, protocol=proto)
    with open(path, "rb") as f:
        return f.read()


def archive(members):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        for name, data in members:
            z.writestr(name, data)
    return b.getvalue()


def code_archive_cases():
    """TorchScript (code/ sources, maybe .data/version as torch 1.13 writes
    for some modules) stays SUSPICIOUS; a .py module outside code/ next to
    .data/ is torch.package: DANGEROUS."""
    sd = P2 + b"}."
    return [
        ("torchscript-data-version", archive([("m/data.pkl", sd), ("m/constants.pkl", P2 + b").")
                                              , ("m/code/__torch__/m.py", b"def f(): pass\n"),
                                              ("m/.data/version", b"3\n")]),
         None, "suspicious", ["code-archive"]),
        ("torch-package", archive([("m/data.pkl", sd), ("m/.data/version", b"3\n"),
                                   ("m/models/net.py", b"import os\n")]),
         None, "dangerous", ["code-archive"]),
        ("torch-package-in-code", archive([("m/data.pkl", sd), ("m/constants.pkl", P2 + b")."),
                                           ("m/code/x.py", b"def f(): pass\n"),
                                           ("m/.data/version", b"3\n"),
                                           ("m/lib/evil.py", b"import os\n")]),
         None, "dangerous", ["code-archive"]),
    ]


def attack_cases():
    rebuild_type = G("torch._tensor", "_rebuild_from_type_v2")
    return [
        ("getattr-dunder", P2 + G("builtins", "getattr") + G("builtins", "str") + U("__class__")
         + b"\x86R.", None, "dangerous", ["import-trampoline"]),
        ("getattr-computed-name", P2 + G("builtins", "getattr") + G("builtins", "str")
         + G("builtins", "str") + U("lower") + b"\x85R\x86R.", None, "dangerous",
         ["import-trampoline"]),
        ("getattr-on-constant", P2 + G("builtins", "getattr") + U("abc") + U("upper")
         + b"\x86R.", None, "dangerous", ["import-trampoline"]),
        ("getattr-reaches-os-system", P2 + G("builtins", "getattr") + G("posixpath", "os")
         + U("system") + b"\x86R.", None, "dangerous", ["command", "unknown-import"]),
        ("getattr-not-called", P2 + b"]" + G("builtins", "getattr") + b"a.", None, "dangerous",
         ["import-trampoline"]),
        # one graded use, then the memoised name goes to a pass-through
        ("getattr-memo-passthrough", P2 + G("builtins", "getattr") + b"q\x00" + G("builtins", "str")
         + U("lower") + b"\x86R0" + rebuild_type + b"(h\x00" + G("builtins", "str")
         + G("builtins", "str") + U("__class__") + b"\x86}tR.", None, "dangerous",
         ["import-trampoline", "unsafe-arguments"]),
        ("partial-os-system", P2 + G("functools", "partial") + G("os", "system") + b"\x85R.",
         None, "dangerous", ["command"]),
        ("partial-called", P2 + G("functools", "partial") + G("builtins", "str") + b"\x85R)R.",
         None, "dangerous", ["import-trampoline", "indirect-call"]),
        ("reconstructor-unknown-base", P2 + G("copyreg", "_reconstructor")
         + G("collections", "OrderedDict") + G("mylib", "Base") + b"N\x87R.", None, "dangerous",
         ["import-trampoline", "unknown-import"]),
        ("reconstructor-dangerous-cls", P2 + G("copyreg", "_reconstructor") + G("os", "system")
         + G("builtins", "object") + b"N\x87R.", None, "dangerous", ["command"]),
        ("create-array-eval", P2 + G("dill._dill", "_create_array") + b"(" + G("builtins", "eval")
         + U("1") + b"\x85NNtR.", None, "dangerous", ["exec", "nested-deserialisation"]),
        ("getitem-not-typing", P2 + G("_operator", "getitem") + G("collections", "OrderedDict")
         + b")R" + U("k") + b"\x86R.", None, "dangerous", ["import-trampoline"]),
        ("load-bytes-junk", load_from_bytes(b"not a checkpoint"), None, "dangerous",
         ["nested-deserialisation"]),
        ("load-bytes-legacy-payload", load_from_bytes(torch_bytes(Payload(), False)), None,
         "dangerous", ["command"]),
        ("load-bytes-zip-payload", load_from_bytes(torch_bytes(Payload(), True)), None,
         "dangerous", ["archive-anomaly", "command", "loader-disagreement", "polyglot"]),
        ("randomstate-any-class", P2 + G("numpy.random._pickle", "__randomstate_ctor")
         + G("mylib", "Evil") + b"\x85R.", None, "dangerous",
         ["unknown-import", "unsafe-arguments"]),
        ("randomstate-bad-name", P2 + G("numpy.random._pickle", "__bit_generator_ctor")
         + U("Evil") + b"\x85R.", None, "dangerous", ["unsafe-arguments"]),
        ("storage-allocator", b"\x80\x04" + G("torch.storage", "UntypedStorage") + b")}"
         + U("allocator") + b"J\x00\x10\x00\x00s\x92.", None, "dangerous", ["unsafe-arguments"]),
        ("tensor-cdata", b"\x80\x04" + G("torch", "Tensor") + b")}" + U("cdata")
         + b"J\x00\x10\x00\x00s\x92.", None, "dangerous", ["unsafe-arguments"]),
        ("storage-pointer", P2 + G("torch", "FloatStorage") + b"\x8a\x08\x00\x00\x00\x00\x00\x7f\x00\x00"
         + b"\x85R.", None, "dangerous", ["unsafe-arguments"]),
        ("jit-build-intlist", P2 + G("torch.jit._pickle", "build_intlist") + b"]\x85R.", None,
         "safe", []),
        ("jit-other", P2 + G("torch.jit._pickle", "nope") + b"]\x85R.", None, "dangerous",
         ["exec"]),
        ("http-other", P2 + G("http.client", "HTTPConnection") + U("x") + b"\x85R.", None,
         "dangerous", ["network"]),
    ]


def scan(exe, path, profile):
    cmd = [exe, "--format", "json", "--fail-on", "dangerous"]
    if profile:
        cmd += ["--profile", profile]
    out = subprocess.run(cmd + [path], capture_output=True, text=True)
    doc = json.loads(out.stdout)
    rep = doc["files"][0] if "files" in doc else doc
    codes = sorted({f["code"] for f in rep.get("findings", []) if f.get("severity") != "info"})
    return rep["verdict"], codes, rep


def profile_cases(d):
    """Real saved objects with and without their library's profile."""
    import pathlib
    import numpy as np
    import pandas as pd
    import torch
    import torchvision
    import dill
    from sklearn import ensemble, linear_model, pipeline, preprocessing
    rows = []

    def saved(obj, **kw):
        b = io.BytesIO()
        torch.save(obj, b, **kw)
        return b.getvalue()

    vit = torchvision.models.vit_b_32(weights=None, image_size=64)
    rn = torchvision.models.resnet34(weights=None)
    tf = torchvision.transforms.Compose([torchvision.transforms.Resize(32),
                                         torchvision.transforms.ToTensor()])
    for name, obj in (("tv-vit", vit), ("tv-resnet34", rn), ("tv-transforms", tf)):
        data = saved(obj)
        rows.append((name, data, None, "suspicious", ["unknown-import"]))
        rows.append((name + "-profile", data, "torchvision", "safe", []))
    X = np.random.RandomState(1).rand(30, 3)
    y = (X[:, 0] > 0.5).astype(int)
    gb = ensemble.GradientBoostingClassifier(n_estimators=2).fit(X, y)
    pipe = pipeline.make_pipeline(preprocessing.StandardScaler(),
                                  linear_model.LogisticRegression()).fit(X, y)
    import joblib
    for name, obj in (("sk-gb", gb), ("sk-pipe", pipe)):
        data = pickle.dumps(obj, 4)
        rows.append((name, data, None, "suspicious", ["unknown-import"]))
        rows.append((name + "-profile", data, "sklearn", "safe", []))
        path = os.path.join(d, name + ".joblib")
        joblib.dump(obj, path, compress=3)
        with open(path, "rb") as f:
            rows.append((name + "-joblib", f.read(), "sklearn", "safe", []))
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": pd.Categorical(["p", "q"]),
                       "t": pd.to_datetime(["2021-01-01", "2021-02-01"])})
    rows.append(("pd-frame", pickle.dumps(df, 4), None, "suspicious", ["unknown-import"]))
    rows.append(("pd-frame-profile", pickle.dumps(df, 4), "pandas", "safe", []))
    rows.append(("dill-data", dill.dumps({"x": np.ones(4), "y": [1, 2]}), None, "safe", []))
    rows.append(("dill-type-code", P2 + G("dill._dill", "_load_type") + U("CodeType") + b"\x85R.",
                 "dill", "dangerous", ["unsafe-arguments"]))
    rows.append(("dill-type-code-default", P2 + G("dill._dill", "_load_type") + U("CodeType")
                 + b"\x85R.", None, "dangerous", ["nested-deserialisation"]))
    rows.append(("dill-type-list", P2 + G("dill._dill", "_load_type") + U("list") + b"\x85R.",
                 "dill", "safe", []))
    hp = {"hyper_parameters": argparse.Namespace(lr=0.1, root=pathlib.PosixPath("/data")),
          "state_dict": torch.nn.Linear(2, 2).state_dict(), "epoch": 3}
    rows.append(("lightning-hparams", saved(hp), None, "suspicious", ["unknown-import"]))
    rows.append(("lightning-hparams-profile", saved(hp), "lightning", "safe", []))
    # training_args.bin's shape: a dataclass built by NEWOBJ, its __dict__ by
    # BUILD, enum members as getattr(Enum, 'NAME') (transformers is not installed)
    targs = (b"\x80\x02" + G("transformers.training_args", "TrainingArguments") + b")\x81}("
             + U("output_dir") + U("out") + U("eval_strategy") + G("builtins", "getattr")
             + G("transformers.trainer_utils", "IntervalStrategy") + U("STEPS") + b"\x86R"
             + U("optim") + G("builtins", "getattr") + G("transformers.training_args",
                                                          "OptimizerNames")
             + U("ADAMW_TORCH") + b"\x86R" + U("device") + G("torch", "device") + U("cpu")
             + b"\x85Rub.")
    rows.append(("hf-training-args", targs, None, "suspicious", ["unknown-import"]))
    rows.append(("hf-training-args-profile", targs, "transformers", "safe", []))
    bad = targs.replace(b"STEPS", b"__new")  # not a dunder: a member name that is no member
    rows.append(("hf-enum-unknown-member", bad, "transformers", "safe", []))
    dunder = (b"\x80\x02" + G("builtins", "getattr") + G("transformers.trainer_utils",
                                                        "IntervalStrategy")
              + U("__init__") + b"\x86R.")
    rows.append(("hf-enum-dunder", dunder, "transformers", "dangerous", ["import-trampoline"]))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    args = ap.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        cases = real_cases() + attack_cases() + code_archive_cases()
        cases += [
            ("module-p1", torch_module_p1(), None, "suspicious", ["unknown-import"]),
            ("module-p1-ml", torch_module_p1(), "ml", "safe", []),
            ("joblib-p0", joblib_p(0, d), None, "safe", []),
            ("joblib-p1", joblib_p(1, d), None, "safe", []),
        ]
        cases += profile_cases(d)
        for name, data, profile, verdict, codes in cases:
            path = os.path.join(d, name + ".pkl")
            with open(path, "wb") as f:
                f.write(data)
            got_v, got_c, rep = scan(args.ckptscan, path, profile)
            ok = got_v == verdict and got_c == sorted(codes)
            print("%-4s %-28s %-8s want %s %s, got %s %s" % (
                "ok" if ok else "FAIL", name, profile or "-", verdict, sorted(codes), got_v, got_c))
            if not ok:
                failures += 1
                for f in rep.get("findings", []):
                    print("     ", f["code"], f.get("severity"), f["message"][:140])
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
