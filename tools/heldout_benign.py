#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Held-out precision check (issue 13, "Done when"): writes a FRESH set of
benign files into a temp dir with other seeds, models, estimators, frames and
options than fixtures/benign/ and tools/gen_profiles.py use, scans them with
ckptscan and checks:

  - no benign file is DANGEROUS;
  - every pure-data file (state dicts, optimizer / scheduler / scaler / RNG
    states, arrays, JSON, text, safetensors, msgpack) is SAFE by default;
  - every object file is SAFE with its library's profile (TorchScript aside:
    SUSPICIOUS, never DANGEROUS);
  - the Hugging Face style repository folder exits 0 (with --profile
    transformers for its training_args.bin).

Prints one line per failing file and the counts. Nothing is loaded; run with
Debian's interpreter (torch, torchvision, sklearn, pandas, dill, cloudpickle,
msgpack):

    /usr/bin/python3 tools/heldout_benign.py --ckptscan build/cli/ckptscan [--keep DIR]
"""
import argparse
import collections
import functools
import io
import json
import os
import pickle
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))

ROWS = []  # (relative path, kind, profiles): kind data / object / torchscript


def out(root, rel, kind, profiles=()):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    ROWS.append((rel, kind, tuple(profiles)))
    return p


def shrink(module):
    with torch.no_grad():
        for m in module.modules():
            for name, p in list(m._parameters.items()):
                if p is not None:
                    m._parameters[name] = torch.nn.Parameter(p.detach().reshape(-1)[:1].clone(),
                                                             requires_grad=p.requires_grad)
            for name, b in list(m._buffers.items()):
                if b is not None:
                    m._buffers[name] = b.reshape(-1)[:1].clone()
    return module


def small_net(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3), torch.nn.GELU(), torch.nn.Flatten(),
                               torch.nn.LayerNorm(16), torch.nn.Linear(16, 3))


# ---- torchvision ---------------------------------------------------------------

def torchvision_files(root):
    import torchvision.models as m
    import torchvision.models.detection as det
    import torchvision.models.segmentation as seg
    import torchvision.transforms as T
    builders = {
        "resnet50": lambda: m.resnet50(weights=None),
        "mobilenet_v3_large": lambda: m.mobilenet_v3_large(weights=None),
        "efficientnet_b1": lambda: m.efficientnet_b1(weights=None),
        "regnet_x_400mf": lambda: m.regnet_x_400mf(weights=None),
        "vgg13": lambda: m.vgg13(weights=None),
        "squeezenet1_0": lambda: m.squeezenet1_0(weights=None),
        "shufflenet_v2_x1_0": lambda: m.shufflenet_v2_x1_0(weights=None),
        "mnasnet1_0": lambda: m.mnasnet1_0(weights=None),
        "convnext_small": lambda: m.convnext_small(weights=None),
        "swin_s": lambda: m.swin_s(weights=None),
        "googlenet_aux": lambda: m.googlenet(weights=None, aux_logits=True, init_weights=False),
        "maskrcnn": lambda: det.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None),
        "keypointrcnn": lambda: det.keypointrcnn_resnet50_fpn(weights=None,
                                                              weights_backbone=None),
        "ssdlite": lambda: det.ssdlite320_mobilenet_v3_large(weights=None,
                                                            weights_backbone=None),
        "fcos": lambda: det.fcos_resnet50_fpn(weights=None, weights_backbone=None),
        "fcn_resnet50": lambda: seg.fcn_resnet50(weights=None, weights_backbone=None),
        "deeplabv3_resnet50": lambda: seg.deeplabv3_resnet50(weights=None,
                                                             weights_backbone=None),
    }
    for name, build in builders.items():
        model = shrink(build())
        torch.save(model, out(root, "torchvision/%s_module.pt" % name, "object",
                              ("ml", "torchvision")))
        torch.save(model.state_dict(), out(root, "torchvision/%s_state_dict.pth" % name, "data"))
        del model
    tf = T.Compose([T.RandomResizedCrop(96), T.RandomHorizontalFlip(), T.ColorJitter(0.2, 0.2),
                    T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    torch.save(tf, out(root, "torchvision/train_transforms.pt", "object", ("ml", "torchvision")))


# ---- training checkpoints --------------------------------------------------------

def train_states(seed, sched_kind):
    model = small_net(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    if sched_kind == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5)
    elif sched_kind == "exp":
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    elif sched_kind == "multistep":
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, [2, 4], gamma=0.5)
    else:
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=2)
    for _ in range(2):
        model(torch.randn(3, 2, 6)).pow(2).mean().backward()
        opt.step()
        if sched_kind == "plateau":
            sched.step(1.0)
        else:
            sched.step()
    return model, opt, sched


def rng_state(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "cpu": torch.get_rng_state()}


def scaler_state(seed):
    return {"scale": 2.0 ** (10 + seed % 6), "growth_factor": 2.0, "backoff_factor": 0.5,
            "growth_interval": 1000, "_growth_tracker": seed % 7}


def training_files(root):
    import argparse as ap
    import pathlib
    # Lightning
    model, opt, sched = train_states(11, "exp")
    ckpt = {"epoch": 7, "global_step": 350, "pytorch-lightning_version": "1.9.5",
            "state_dict": collections.OrderedDict(("net." + k, v)
                                                  for k, v in model.state_dict().items()),
            "optimizer_states": [opt.state_dict()], "lr_schedulers": [sched.state_dict()],
            "callbacks": {"EarlyStopping{'monitor': 'val_acc', 'mode': 'max'}": {
                "wait_count": 1, "stopped_epoch": 0, "best_score": torch.tensor(0.91),
                "patience": 3}},
            "loops": {"fit_loop": {"epoch_loop.state_dict": {"_batches_that_stepped": 350}}},
            "hparams_name": "kwargs",
            "hyper_parameters": {"lr": 0.1, "root": pathlib.PosixPath("/datasets/x"),
                                 "args": ap.Namespace(batch_size=32, layers=[4, 8])}}
    torch.save(ckpt, out(root, "lightning/epoch=7-step=350.ckpt", "object", ("ml", "lightning")))
    weights_only = {k: v for k, v in ckpt.items() if k not in ("hyper_parameters",)}
    weights_only["lr_schedulers"] = []
    torch.save(weights_only, out(root, "lightning/last_weights.ckpt", "data"))
    # accelerate save_state
    for seed, kind in ((3, "cosine"), (5, "multistep")):
        model, opt, sched = train_states(seed, kind)
        d = "accelerate/checkpoint_%d" % seed
        torch.save(model.state_dict(), out(root, d + "/pytorch_model.bin", "data"))
        torch.save(opt.state_dict(), out(root, d + "/optimizer.bin", "data"))
        torch.save(sched.state_dict(), out(root, d + "/scheduler.bin", "data"))
        torch.save(scaler_state(seed), out(root, d + "/scaler.pt", "data"))
        st = rng_state(seed)
        torch.save({"step": seed, "random_state": st["python"], "numpy_random_seed": st["numpy"],
                    "torch_manual_seed": st["cpu"]}, out(root, d + "/random_states_0.pkl", "data"))
    # HF Trainer checkpoint
    import hf_standins as hf
    model, opt, sched = train_states(21, "plateau")
    d = "hf_trainer/checkpoint-1200"
    torch.save(model.state_dict(), out(root, d + "/pytorch_model.bin", "data"))
    torch.save(opt.state_dict(), out(root, d + "/optimizer.pt", "data"))
    torch.save(sched.state_dict(), out(root, d + "/scheduler.pt", "data"))
    torch.save(scaler_state(21), out(root, d + "/scaler.pt", "data"))
    torch.save(rng_state(21), out(root, d + "/rng_state_0.pth", "data"))
    torch.save(hf.training_args(output_dir="run-2", eval_strategy=hf.IntervalStrategy.NO,
                                save_strategy=hf.SaveStrategy.EPOCH,
                                lr_scheduler_type=hf.SchedulerType.REDUCE_ON_PLATEAU,
                                optim=hf.OptimizerNames.ADAMW_TORCH_FUSED,
                                hub_strategy=hf.HubStrategy.ALL_CHECKPOINTS, fp16=True),
               out(root, d + "/training_args.bin", "object", ("transformers",)))
    with open(out(root, d + "/trainer_state.json", "data"), "w") as f:
        json.dump({"best_metric": 0.5, "epoch": 4.0, "global_step": 1200, "is_world_process_zero":
                   True, "log_history": [{"eval_loss": 0.7, "step": 300}]}, f, indent=2)
    # sharded HF .bin with its index, and legacy-format and protocol 4 state dicts
    sd = {("layer.%d.%s" % (i, k)): v.clone() for i in range(3)
          for k, v in small_net(i).state_dict().items()}
    keys = sorted(sd)
    parts = [keys[:5], keys[5:10], keys[10:]]
    wmap = {}
    for n, part in enumerate(parts, 1):
        name = "pytorch_model-%05d-of-%05d.bin" % (n, len(parts))
        torch.save({k: sd[k] for k in part}, out(root, "hf_sharded3/" + name, "data"))
        wmap.update({k: name for k in part})
    with open(out(root, "hf_sharded3/pytorch_model.bin.index.json", "data"), "w") as f:
        json.dump({"metadata": {"total_size": sum(v.numel() * 4 for v in sd.values())},
                   "weight_map": wmap}, f, indent=2)
    torch.save(sd, out(root, "torch/state_dict_legacy.pt", "data"),
               _use_new_zipfile_serialization=False)
    torch.save(sd, out(root, "torch/state_dict_p4.pt", "data"), pickle_protocol=4)
    half = {k: v.half() for k, v in sd.items()}
    half["ids"] = torch.arange(5)
    half["mask"] = torch.tensor([True, False])
    half["bf16"] = torch.ones(2, dtype=torch.bfloat16)
    torch.save(half, out(root, "torch/mixed_dtypes.pt", "data"))
    i = torch.tensor([[0, 2], [1, 0]])
    torch.save({"coo": torch.sparse_coo_tensor(i, torch.tensor([1.0, 2.0]), (3, 3)),
                "csr": torch.eye(4).to_sparse_csr()}, out(root, "torch/sparse2.pt", "data"))
    torch.save(small_net(31), out(root, "torch/whole_net.pt", "object", ("ml",)))
    torch.jit.script(small_net(32)).save(out(root, "torch/scripted.pt", "torchscript", ("ml",)))


# ---- sklearn, pandas, numpy, dill, cloudpickle --------------------------------------

def sklearn_files(root):
    import joblib
    from sklearn import (cluster, decomposition, ensemble, linear_model, naive_bayes,
                         neighbors, pipeline, preprocessing, svm, tree)
    rng = np.random.RandomState(123)
    X = rng.rand(60, 5)
    y = (X[:, 1] + X[:, 2] > 1).astype(int)
    yr = X[:, 3] * 2
    models = {
        "svc_rbf": svm.SVC(C=2.0, gamma=0.5).fit(X, y),
        "logreg_l1": linear_model.LogisticRegression(penalty="l1", solver="liblinear").fit(X, y),
        "ridge": linear_model.Ridge(alpha=0.3).fit(X, yr),
        "rf_clf": ensemble.RandomForestClassifier(n_estimators=4, max_depth=3,
                                                  random_state=7).fit(X, y),
        "gbr": ensemble.GradientBoostingRegressor(n_estimators=3, random_state=9).fit(X, yr),
        "hgb_clf": ensemble.HistGradientBoostingClassifier(max_iter=4).fit(X, y),
        "dtree": tree.DecisionTreeClassifier(max_depth=2).fit(X, y),
        "knn": neighbors.KNeighborsClassifier(n_neighbors=3).fit(X, y),
        "kmeans": cluster.KMeans(n_clusters=3, n_init=2, random_state=1).fit(X),
        "pca": decomposition.PCA(3, random_state=2).fit(X),
        "gnb": naive_bayes.GaussianNB().fit(X, y),
        "pipe_scaled_svc": pipeline.Pipeline([("sc", preprocessing.MinMaxScaler()),
                                              ("svc", svm.SVC())]).fit(X, y),
        "lasso": linear_model.Lasso(alpha=0.01).fit(X, yr),
        "onehot": preprocessing.OneHotEncoder(handle_unknown="ignore").fit([["r"], ["g"], ["b"]]),
    }
    from sklearn import discriminant_analysis, isotonic, mixture
    models.update({
        "bagging": ensemble.BaggingClassifier(n_estimators=2, random_state=3).fit(X, y),
        "extra_trees": ensemble.ExtraTreesClassifier(n_estimators=2).fit(X, y),
        "voting": ensemble.VotingClassifier([("a", linear_model.LogisticRegression()),
                                             ("b", naive_bayes.GaussianNB())]).fit(X, y),
        "stacking": ensemble.StackingClassifier([("a", tree.DecisionTreeClassifier())]).fit(X, y),
        "ada_reg": ensemble.AdaBoostRegressor(n_estimators=2).fit(X, yr),
        "gmm": mixture.GaussianMixture(2, random_state=0).fit(X),
        "nmf": decomposition.NMF(2, max_iter=30).fit(X),
        "quantile": preprocessing.QuantileTransformer(n_quantiles=10).fit(X),
        "multinomial_nb": naive_bayes.MultinomialNB().fit(X, y),
        "ridge_clf": linear_model.RidgeClassifier().fit(X, y),
        "perceptron": linear_model.Perceptron().fit(X, y),
        "lda": discriminant_analysis.LinearDiscriminantAnalysis().fit(X, y),
        "isotonic": isotonic.IsotonicRegression().fit(X[:, 0], yr),
        "minibatch_kmeans": cluster.MiniBatchKMeans(2, n_init=1, random_state=0).fit(X),
        "knr_ball_tree": neighbors.KNeighborsRegressor(algorithm="ball_tree").fit(X, yr),
        "nu_svc": svm.NuSVC().fit(X, y),
    })
    for name, est in models.items():
        joblib.dump(est, out(root, "sklearn/%s.joblib" % name, "object", ("sklearn",)))
    joblib.dump(models["rf_clf"], out(root, "sklearn/rf_clf_lzma.joblib", "object",
                                      ("sklearn",)), compress=("xz", 2))
    joblib.dump(models["gbr"], out(root, "sklearn/gbr_zlib.joblib", "object", ("sklearn",)),
                compress=1)
    for name in ("svc_rbf", "hgb_clf", "knn"):
        with open(out(root, "sklearn/%s.pkl" % name, "object", ("sklearn",)), "wb") as f:
            pickle.dump(models[name], f, protocol=5)
    joblib.dump({"w": X, "labels": y}, out(root, "numpy/arrays.joblib", "data"))
    joblib.dump({"w": X}, out(root, "numpy/arrays_gz.joblib", "data"), compress=("gzip", 3))


def pandas_files(root):
    import pandas as pd
    df = pd.DataFrame({"id": np.arange(5, dtype=np.int32), "score": np.linspace(0, 1, 5),
                       "name": list("vwxyz"),
                       "when": pd.date_range("2023-03-01", periods=5, freq="H"),
                       "grp": pd.Categorical(list("ababa"))})
    df.to_pickle(out(root, "pandas/frame.pkl", "object", ("pandas",)))
    df.set_index("when").to_pickle(out(root, "pandas/frame_time_index.pkl.gz", "object",
                                          ("pandas",)), compression="gzip")
    df["score"].to_pickle(out(root, "pandas/series.pkl", "object", ("pandas",)))
    df.groupby("grp").mean(numeric_only=True).to_pickle(out(root, "pandas/grouped.pkl", "object",
                                                            ("pandas",)))


def misc_files(root):
    import cloudpickle
    import dill
    import msgpack
    arr = np.random.RandomState(5).randn(4, 3).astype(np.float32)
    np.save(out(root, "numpy/weights.npy", "data"), arr)
    np.savez_compressed(out(root, "numpy/weights_c.npz", "data"), w=arr, b=np.zeros(3))
    with open(out(root, "numpy/arrays_p2.pkl", "data"), "wb") as f:
        pickle.dump([arr, np.arange(3, dtype=np.uint8), np.float64(2.5)], f, protocol=2)
    with open(out(root, "dill/data.pkl", "data"), "wb") as f:
        dill.dump({"a": arr, "b": (1, 2.5, "s"), "c": {1, 2}}, f)
    with open(out(root, "cloudpickle/data.pkl", "data"), "wb") as f:
        cloudpickle.dump({"a": arr, "meta": {"k": [None, True]}}, f)
    with open(out(root, "msgpack/stats.msgpack", "data"), "wb") as f:
        f.write(msgpack.packb({"mean": [0.1, 0.2], "std": [1.0, 1.1], "n": 10}))


# ---- a complete HF-style repository folder -------------------------------------

def safetensors_bytes(tensors):
    header, blobs, at = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        raw = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": {torch.float32: "F32", torch.int64: "I64"}[t.dtype],
                        "shape": list(t.shape), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def repo_folder(root):
    import hf_standins as hf
    import msgpack
    d = "repo/models--org--tiny-bert"
    net = small_net(41)
    texts = {
        "README.md": "---\nlanguage: en\nlicense: mit\nlibrary_name: transformers\n---\n\n"
                     "# tiny-bert\n\n| metric | value |\n|---|---|\n| acc | 0.91 |\n",
        ".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n"
                          "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
                          "*.msgpack filter=lfs diff=lfs merge=lfs -text\n",
        "vocab.txt": "".join(w + "\n" for w in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                                 "the", "of", "##s", "hello", "\u00e9t\u00e9"]),
        "merges.txt": "#version: 0.2\n\u0120 t\nh e\n\u0120t he\n",
        "special_tokens_map.json": json.dumps({"cls_token": "[CLS]", "sep_token": "[SEP]"}),
        "sentencepiece.txt": "hello world\n",
    }
    for name, text in texts.items():
        with open(out(root, d + "/" + name, "data"), "w", encoding="utf-8") as f:
            f.write(text)
    jsons = {
        "config.json": {"architectures": ["BertForMaskedLM"], "hidden_size": 8,
                        "num_attention_heads": 2, "vocab_size": 10, "torch_dtype": "float32",
                        "transformers_version": "4.44.0", "layer_norm_eps": 1e-12},
        "tokenizer.json": {"version": "1.0", "model": {"type": "WordPiece",
                                                       "vocab": {"[PAD]": 0, "the": 5}},
                           "normalizer": {"type": "BertNormalizer", "lowercase": True}},
        "tokenizer_config.json": {"do_lower_case": True, "model_max_length": 128,
                                  "tokenizer_class": "BertTokenizer"},
        "generation_config.json": {"transformers_version": "4.44.0", "pad_token_id": 0},
        "model.safetensors.index.json": {"metadata": {"total_size": 100},
                                         "weight_map": {"a": "model.safetensors"}},
    }
    for name, obj in jsons.items():
        with open(out(root, d + "/" + name, "data"), "w") as f:
            json.dump(obj, f, indent=2)
    sd = net.state_dict()
    with open(out(root, d + "/model.safetensors", "data"), "wb") as f:
        f.write(safetensors_bytes(sd))
    torch.save(sd, out(root, d + "/pytorch_model.bin", "data"))
    params = {"bert": {k.replace(".", "_"): v.numpy() for k, v in sd.items()},
              "cls": {"bias": np.zeros(3, np.float32)}}

    def ext(x):
        return msgpack.ExtType(1, msgpack.packb((x.shape, x.dtype.name, x.tobytes()),
                                                use_bin_type=True))
    with open(out(root, d + "/flax_model.msgpack", "data"), "wb") as f:
        f.write(msgpack.packb(params, default=ext, strict_types=True))
    torch.save(hf.training_args(output_dir="tiny-bert", learning_rate=3e-5,
                                lr_scheduler_type=hf.SchedulerType.COSINE),
               out(root, d + "/training_args.bin", "object", ("transformers",)))


# ---- scanning --------------------------------------------------------------------

def scan(exe, root, files, profiles):
    argv = [exe, "--format", "json", "-j", "2"]
    for p in profiles:
        argv += ["--profile", p]
    res = subprocess.run(argv + sorted(files), cwd=root, capture_output=True, timeout=1200)
    return {f["path"]: f for f in json.loads(res.stdout)["files"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--keep", help="write the files here (kept) instead of a temp dir")
    args = ap.parse_args()
    exe = os.path.abspath(args.ckptscan)
    root = args.keep or tempfile.mkdtemp(prefix="ckptscan_heldout_")
    os.makedirs(root, exist_ok=True)
    try:
        for gen in (torchvision_files, training_files, sklearn_files, pandas_files, misc_files,
                    repo_folder):
            gen(root)
        fails = []
        default = scan(exe, root, [r[0] for r in ROWS], [])
        by_prof = collections.defaultdict(list)
        for rel, kind, profs in ROWS:
            if profs and kind != "data":
                by_prof[profs].append(rel)
        with_prof = {}
        for profs, files in by_prof.items():
            with_prof.update(scan(exe, root, files, profs))
        counts = collections.Counter()
        for rel, kind, profs in ROWS:
            rep = default[rel]
            v = rep["verdict"]
            counts[(kind, "default", v)] += 1
            if v == "dangerous":
                fails.append((rel, "DANGEROUS by default", rep))
            if kind == "data" and v != "safe":
                fails.append((rel, "pure data not SAFE by default (%s)" % v, rep))
            if kind != "data":
                w = with_prof[rel]
                counts[(kind, "profile", w["verdict"])] += 1
                want = "suspicious" if kind == "torchscript" else "safe"
                if w["verdict"] != want:
                    fails.append((rel, "with --profile %s: %s, want %s"
                                  % (",".join(profs), w["verdict"], want), w))
        res = subprocess.run([exe, "-q", "--profile", "transformers", "repo"], cwd=root,
                             capture_output=True)
        repo_exit = res.returncode
        for rel, why, rep in fails:
            print("FAIL %s: %s" % (rel, why))
            for f in rep.get("findings", [])[:6]:
                if f["severity"] != "info":
                    print("      %s %s" % (f["code"], f["message"][:150]))
        print("held-out files: %d (%d data, %d object, %d torchscript)" % (
            len(ROWS), sum(r[1] == "data" for r in ROWS), sum(r[1] == "object" for r in ROWS),
            sum(r[1] == "torchscript" for r in ROWS)))
        for key in sorted(counts):
            print("  %-12s %-8s %-10s %d" % (key + (counts[key],)))
        print("repo folder (--profile transformers) exit status: %d" % repo_exit)
        print("%d failure(s)" % (len(fails) + (repo_exit != 0)))
        return 1 if fails or repo_exit else 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
