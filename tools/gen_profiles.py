#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Builds the `torchvision`, `sklearn`, `pandas` and `dill` policy profiles from
real saved objects: each object is pickled (protocols 2 and 4, as torch.save,
joblib.dump and pickle.dumps write them) by a recording pickler that notes
every global it writes, and every dotted name a getattr reduce reaches (3.11
pickles enum members and bound methods that way). Nothing is ever loaded.
Writes the C tables to stdout; run with /usr/bin/python3 (Debian's torch,
torchvision, sklearn, pandas, dill):

    /usr/bin/python3 tools/gen_profiles.py > src/policy/policy_profiles.inc
"""
import io
import pickle
import pickletools
import sys
import warnings

warnings.filterwarnings("ignore")


def globals_of(data):
    """(module.name) of every GLOBAL / STACK_GLOBAL in a pickle, by opcode."""
    out, strs, memo = set(), [], {}
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL":
            out.add(arg.replace(" ", "."))
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            strs.append(arg)
            continue
        elif op.name == "MEMOIZE" and strs:
            memo[len(memo)] = strs[-1]
            continue
        elif op.name == "MEMOIZE":
            memo[len(memo)] = None
        elif op.name in ("BINGET", "LONG_BINGET", "GET") and memo.get(arg) is not None:
            strs.append(memo[arg])
            continue
        elif op.name == "STACK_GLOBAL" and len(strs) >= 2:
            out.add("%s.%s" % (strs[-2], strs[-1]))
        strs = []
    return out


class Recorder(pickle._Pickler):
    """Pure-Python pickler that notes the dotted names getattr reduces reach."""

    def __init__(self, f, proto, seen, persist=False):
        super().__init__(f, proto)
        self.seen = seen
        self.persist = persist

    def persistent_id(self, obj):
        import torch
        if self.persist and isinstance(obj, (torch.storage.TypedStorage, torch.UntypedStorage)):
            return ("storage", 0)  # torch.save writes storages as persistent ids
        return None

    def save_reduce(self, func, args, *rest, **kw):
        if func is getattr and len(args) == 2 and isinstance(args[1], str):
            owner = args[0] if isinstance(args[0], type) else type(args[0])
            mod = pickle.whichmodule(owner, owner.__qualname__)
            self.seen.add("%s.%s.%s" % (mod, owner.__qualname__, args[1]))
        elif getattr(func, "__name__", "") in ("__newobj__", "__newobj_ex__") and args:
            NEWOBJ.add(dotted(args[0]))  # written as NEWOBJ: cls.__new__, no __init__
        else:
            REDUCED.add(dotted(func))  # written as REDUCE: func(*args)
        return super().save_reduce(func, args, *rest, **kw)


# How real saved objects use each name: rebuilt by NEWOBJ, or called by REDUCE
NEWOBJ, REDUCED = set(), set()


def dotted(obj):
    qual = getattr(obj, "__qualname__", getattr(obj, "__name__", ""))
    return "%s.%s" % (pickle.whichmodule(obj, qual), qual)


def resolve(name):
    """The object a dotted name denotes (its longest importable module, then
    attributes), or None."""
    import importlib
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except Exception:
            continue
        try:
            for a in parts[i:]:
                obj = getattr(obj, a)
            return obj
        except AttributeError:
            return None
    return None


def call_kind(name, profile):
    """'n': real files only rebuild it by NEWOBJ (cls.__new__, no __init__):
    torch modules and torchvision classes, the same in every version; 'c':
    anything else, whose calls must pass data only (sklearn and pandas change
    how they reduce across versions; an Enum class is called by REDUCE under
    Python <= 3.10: EnumClass(value))."""
    import enum
    if name in REDUCED or isinstance(resolve(name), enum.EnumMeta):
        return "c"
    obj = resolve(name)
    if profile == "torchvision" and name in NEWOBJ and isinstance(obj, type):
        return "n"
    return "c"


def record(objs, persist=False, dill_mode=False):
    seen = set()
    for o in objs:
        for proto in (2, 4):
            if dill_mode:
                import dill
                data = dill.dumps(o, protocol=proto)
            else:
                f = io.BytesIO()
                Recorder(f, proto, seen, persist).dump(o)
                data = f.getvalue()
            seen |= globals_of(data)
    return seen


# Builders left out: the largest of a family whose classes a smaller sibling
# already writes (the same module, the same blocks).
TV_TOO_BIG = {"vit_h_14", "vit_l_16", "vit_l_32", "regnet_y_128gf", "regnet_y_32gf",
              "regnet_y_16gf", "regnet_x_32gf", "regnet_x_16gf", "efficientnet_b6",
              "efficientnet_b7", "efficientnet_v2_l", "resnext101_64x4d",
              "quantized_resnext101_64x4d", "quantized_resnext101_32x8d", "resnet152",
              "wide_resnet101_2", "convnext_large", "swin_v2_b", "swin_b", "vgg19_bn",
              "densenet201", "deeplabv3_resnet101", "fcn_resnet101"}


def torchvision_objects():
    """Every model builder torchvision lists (list_models(): classification,
    detection, segmentation, video, optical flow, quantizable), each
    transform class, with every interpolation mode and augment policy."""
    import torch
    import torchvision.models as m
    import torchvision.transforms as T
    from torchvision.transforms import autoaugment as A
    for name in m.list_models():
        if name in TV_TOO_BIG:
            continue
        kw = {}
        if name.startswith(("googlenet", "inception_v3")):
            kw = {"init_weights": False}
        if "rcnn" in name or "retinanet" in name or "fcos" in name or "ssd" in name or \
                name.startswith(("deeplabv3", "fcn", "lraspp")):
            kw["weights_backbone"] = None
        model = m.get_model(name, weights=None, **kw)
        yield model
        if name in ("googlenet", "inception_v3"):
            yield m.get_model(name, weights=None, aux_logits=True, init_weights=False)
        del model
    I = T.InterpolationMode
    yield [T.Resize(8, interpolation=mode) for mode in I]
    yield [T.RandomResizedCrop(8, interpolation=I.BICUBIC), T.RandomRotation(10),
           T.RandomAffine(5, interpolation=I.BILINEAR), T.RandomPerspective(),
           T.ElasticTransform()]
    yield T.Compose([
        T.ToTensor(), T.PILToTensor(), T.ConvertImageDtype(torch.float32), T.ToPILImage(),
        T.Normalize([0.5] * 3, [0.5] * 3), T.CenterCrop(8), T.Pad(2),
        T.RandomApply([T.RandomCrop(8)], p=0.3), T.RandomOrder([T.RandomHorizontalFlip()]),
        T.RandomChoice([T.RandomVerticalFlip()]), T.FiveCrop(4), T.TenCrop(4),
        T.LinearTransformation(torch.eye(3), torch.zeros(3)), T.ColorJitter(0.1, 0.1, 0.1, 0.1),
        T.Grayscale(), T.RandomGrayscale(), T.RandomErasing(), T.GaussianBlur(3),
        T.RandomInvert(), T.RandomPosterize(4), T.RandomSolarize(0.5),
        T.RandomAdjustSharpness(2), T.RandomAutocontrast(), T.RandomEqualize(),
        T.RandAugment(), T.TrivialAugmentWide(), T.AugMix()])
    yield [A.AutoAugment(policy) for policy in A.AutoAugmentPolicy]


def sklearn_objects():
    import numpy as np
    from sklearn import (cluster, compose, decomposition, ensemble, feature_extraction,
                         impute, linear_model, naive_bayes, neighbors, neural_network,
                         pipeline, preprocessing, svm, tree)
    X = np.random.RandomState(0).rand(40, 4)
    y = (X[:, 0] > 0.5).astype(int)
    yr = X[:, 1]
    est = [linear_model.LogisticRegression(), linear_model.LinearRegression(),
           linear_model.Ridge(), linear_model.SGDClassifier(), svm.SVC(), svm.LinearSVC(),
           tree.DecisionTreeClassifier(), ensemble.RandomForestClassifier(n_estimators=3),
           ensemble.GradientBoostingClassifier(n_estimators=3),
           ensemble.HistGradientBoostingClassifier(max_iter=3),
           ensemble.IsolationForest(n_estimators=3), ensemble.ExtraTreesRegressor(n_estimators=3),
           neighbors.KNeighborsClassifier(), naive_bayes.GaussianNB(),
           neural_network.MLPClassifier(max_iter=5), cluster.KMeans(n_clusters=2, n_init=1)]
    objs = []
    for e in est:
        n = type(e).__name__
        if n in ("KMeans", "IsolationForest"):
            e.fit(X)
        else:
            regressor = n in ("LinearRegression", "Ridge", "ExtraTreesRegressor")
            e.fit(X, yr if regressor else y)
        objs.append(e)
    objs.append(ensemble.GradientBoostingRegressor(n_estimators=3).fit(X, yr))
    objs.append(decomposition.PCA(2).fit(X))
    objs.append(preprocessing.StandardScaler().fit(X))
    objs.append(preprocessing.MinMaxScaler().fit(X))
    objs.append(preprocessing.OneHotEncoder().fit([["a"], ["b"]]))
    objs.append(preprocessing.LabelEncoder().fit(["a", "b"]))
    objs.append(impute.SimpleImputer().fit(X))
    objs.append(pipeline.make_pipeline(preprocessing.StandardScaler(),
                                       linear_model.LogisticRegression()).fit(X, y))
    objs.append(feature_extraction.text.TfidfVectorizer().fit(["alpha beta gamma", "beta gamma delta"]))
    objs.append(feature_extraction.text.CountVectorizer().fit(["alpha beta gamma", "beta gamma delta"]))
    objs.append(preprocessing.FunctionTransformer(np.log1p).fit(X))
    objs.append(preprocessing.FunctionTransformer(str.lower))
    objs.append(preprocessing.PolynomialFeatures(2).fit(X))
    objs.append(preprocessing.RobustScaler().fit(X))
    objs.append(preprocessing.OrdinalEncoder().fit([["a"], ["b"]]))
    objs.append(linear_model.Lasso().fit(X, yr))
    objs.append(linear_model.ElasticNet().fit(X, yr))
    objs.append(svm.SVR().fit(X, yr))
    objs.append(ensemble.RandomForestRegressor(n_estimators=3).fit(X, yr))
    objs.append(ensemble.AdaBoostClassifier(n_estimators=3).fit(X, y))
    objs.append(decomposition.TruncatedSVD(2).fit(X))
    objs.append(cluster.DBSCAN().fit(X))
    objs.append(neighbors.NearestNeighbors().fit(X))
    objs.append(neighbors.KNeighborsRegressor(algorithm="ball_tree").fit(X, yr))
    objs.append(neighbors.NearestNeighbors(algorithm="ball_tree", metric="manhattan").fit(X))
    ct = compose.ColumnTransformer([("s", preprocessing.StandardScaler(), [0, 1])])
    objs.append(ct.fit(X))
    objs += list(all_sklearn_estimators(X, y, yr))
    return objs


def all_sklearn_estimators(X, y, yr):
    """Every estimator sklearn lists (utils.all_estimators), fitted on small
    data where it can be (meta-estimators around a logistic regression or a
    ridge), else unfitted: its class and what fitting stores."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.utils import all_estimators
    Xp = abs(X) + 0.1  # some need positive input
    for name, cls in all_estimators():
        inner = LogisticRegression() if "Classifier" in name or "OneVsOne" in name or \
            "OneVsRest" in name or "OutputCode" in name else Ridge()
        est = None
        for kw in ({}, {"estimator": inner}, {"base_estimator": inner},
                   {"estimators": [("a", inner), ("b", Ridge() if inner.__class__ is Ridge
                                                  else LogisticRegression(C=2.0))]},
                   {"transformers": [("s", "passthrough", [0])]},
                   {"steps": [("m", inner)]}, {"transformer_list": [("m", "passthrough")]}):
            try:
                est = cls(**kw)
                break
            except Exception:
                continue
        if est is None:
            continue
        for data in ((X, y), (X, yr), (Xp, y), (X,), (Xp,), (X[:, 0], yr)):
            try:
                est.fit(*data)
                break
            except Exception:
                continue
        yield est


def pandas_objects():
    import numpy as np
    import pandas as pd
    df = pd.DataFrame({"i": [1, 2], "f": [0.5, 1.5], "s": ["a", "b"],
                       "c": pd.Categorical(["x", "y"]), "b": [True, False],
                       "t": pd.to_datetime(["2020-01-01", "2020-01-02"]),
                       "tz": pd.to_datetime(["2020-01-01", "2020-01-02"]).tz_localize("UTC"),
                       "d": pd.to_timedelta([1, 2], unit="s"),
                       "n": pd.array([1, None], dtype="Int64"),
                       "st": pd.array(["a", None], dtype="string"),
                       "bo": pd.array([True, None], dtype="boolean"),
                       "p": pd.period_range("2020-01", periods=2, freq="M"),
                       "iv": pd.interval_range(0, 2)})
    objs = [df, df.set_index(["i", "s"]), df["f"], pd.Series([1, 2], index=pd.RangeIndex(2)),
            pd.date_range("2020", periods=3, freq="D"), pd.CategoricalIndex(["a", "b"]),
            pd.Series(pd.arrays.SparseArray([0, 1, 0])), pd.Timestamp("2020-01-01"),
            pd.Timedelta(1, "s"), pd.Series([1.0], dtype="Float64"),
            df.groupby("s").sum(numeric_only=True)]
    return objs


def dill_objects():
    import collections
    import numpy as np
    return [np.arange(3), {"a": [1, 2.0, "x"]}, {1, 2}, np.float32(1.5),
            collections.OrderedDict(a=1), np.zeros((2, 2), dtype=np.float16)]


# Names the default profile already holds, and call-throughs, which are
# graded by what they reach and never allowed (doc/policy.md).
SKIP_PREFIXES = ("__builtin__.", "builtins.", "_codecs.", "collections.", "functools.",
                 "copyreg.", "copy_reg.", "numpy.core.multiarray.", "numpy.random._pickle.",
                 "torch._utils.", "dill._dill._create_array")
SKIP_EXACT = {"numpy.dtype", "numpy.ndarray"}

HEADER = """/* GENERATED by tools/gen_profiles.py from real saved objects (torchvision
 * models and transforms, fitted sklearn estimators, pandas frames and arrays,
 * dill data): every name their pickles import or reach, exactly, and how
 * they call it. Do not edit; rerun the generator. Included by
 * policy_tables.c. */
"""


def main():
    profiles = {
        "torchvision": record(torchvision_objects(), persist=True),
        "sklearn": record(sklearn_objects()),
        "pandas": record(pandas_objects()),
        "dill": record(dill_objects(), dill_mode=True),
    }
    out = [HEADER]
    for name, seen in profiles.items():
        keep = sorted(n for n in seen if not n.startswith(SKIP_PREFIXES) and n not in SKIP_EXACT)
        out.append("static const policy_entry %s_allow[] = {" % name)
        out += ['    A("%s"),' % n for n in keep]
        if name == "dill" and "dill._dill._load_type" not in keep:
            out.append('    A("dill._dill._load_type"), /* its argument is checked */')
        out.append("};\n")
    kinds = {}
    for name, seen in profiles.items():
        for n in seen:
            if not n.startswith(SKIP_PREFIXES) and n not in SKIP_EXACT and name != "dill":
                kinds[n] = "c" if kinds.get(n) == "c" else call_kind(n, name)
    out.append("/* How real files call each generated entry (policy_grade.c): 'n' only\n"
               " * rebuilt by NEWOBJ, 'c' called with data (no class or function). */")
    # names are held in char[POLICY_ENTRY_MAX] (104), with a byte to spare
    too_long = [n for n in kinds if len(n) > 102]
    if too_long:
        sys.exit("gen_profiles: names longer than POLICY_ENTRY_MAX allows: %s" % too_long)
    out.append("static const policy_call_shape profile_call_shapes[] = {")
    out += ['    {"%s", \'%s\'},' % (n, kinds[n]) for n in sorted(kinds)]
    out.append("};\n")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
