/* SPDX-License-Identifier: Apache-2.0 */
/* Static policy data: allowlists, denylist with categories, aliases,
 * CPython's _compat_pickle tables and torch's weights_only allowlist. */
#include "policy_tables.h"

#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "util.h"

/* ---- Allowlists ---------------------------------------------------------- */

#define A(p)                                                                                       \
    {                                                                                              \
        p, CKPT_F_UNKNOWN_IMPORT, 0                                                                \
    }
/* Prefix allow limited to `d` components below the prefix, so that
 * torch.optim.sgd.SGD passes but SGD's methods and module internals do not. */
#define AP(p, d)                                                                                   \
    {                                                                                              \
        p, CKPT_F_UNKNOWN_IMPORT, d                                                                \
    }

/* torch dtypes under their canonical names (what str(dtype) prints, which is
 * how torch's weights_only allowlist spells them). */
/* clang-format off */
#define TORCH_DTYPES(X)                                                                            \
    X("torch.float16")                                                                             \
    X("torch.float32")                                                                             \
    X("torch.float64")                                                                             \
    X("torch.bfloat16")                                                                            \
    X("torch.complex32")                                                                           \
    X("torch.complex64")                                                                           \
    X("torch.complex128")                                                                          \
    X("torch.uint8")                                                                               \
    X("torch.int8")                                                                                \
    X("torch.int16")                                                                               \
    X("torch.int32")                                                                               \
    X("torch.int64")                                                                               \
    X("torch.bool")                                                                                \
    X("torch.qint8")                                                                               \
    X("torch.quint8")                                                                              \
    X("torch.qint32")                                                                              \
    X("torch.quint4x2")                                                                            \
    X("torch.quint2x4")                                                                            \
    X("torch.float8_e4m3fn")                                                                       \
    X("torch.float8_e5m2")                                                                         \
    X("torch.float8_e4m3fnuz")                                                                     \
    X("torch.float8_e5m2fnuz")                                                                     \
    X("torch.float8_e8m0fnu")                                                                      \
    X("torch.uint16")                                                                              \
    X("torch.uint32")                                                                              \
    X("torch.uint64")                                                                              \
    X("torch.bits1x8")                                                                             \
    X("torch.bits2x4")                                                                             \
    X("torch.bits4x2")                                                                             \
    X("torch.bits8")                                                                               \
    X("torch.bits16")
/* clang-format on */

/* Legacy tensor types and storage classes (torch._tensor_classes and
 * torch._storage_classes), CPU and CUDA. */
/* clang-format off */
#define TORCH_LEGACY_TYPES(X)                                                                      \
    X("torch.DoubleTensor")                                                                        \
    X("torch.FloatTensor")                                                                         \
    X("torch.HalfTensor")                                                                          \
    X("torch.BFloat16Tensor")                                                                      \
    X("torch.LongTensor")                                                                          \
    X("torch.IntTensor")                                                                           \
    X("torch.ShortTensor")                                                                         \
    X("torch.CharTensor")                                                                          \
    X("torch.ByteTensor")                                                                          \
    X("torch.BoolTensor")                                                                          \
    X("torch.cuda.DoubleTensor")                                                                   \
    X("torch.cuda.FloatTensor")                                                                    \
    X("torch.cuda.HalfTensor")                                                                     \
    X("torch.cuda.BFloat16Tensor")                                                                 \
    X("torch.cuda.LongTensor")                                                                     \
    X("torch.cuda.IntTensor")                                                                      \
    X("torch.cuda.ShortTensor")                                                                    \
    X("torch.cuda.CharTensor")                                                                     \
    X("torch.cuda.ByteTensor")                                                                     \
    X("torch.cuda.BoolTensor")                                                                     \
    X("torch.DoubleStorage")                                                                       \
    X("torch.FloatStorage")                                                                        \
    X("torch.HalfStorage")                                                                         \
    X("torch.BFloat16Storage")                                                                     \
    X("torch.LongStorage")                                                                         \
    X("torch.IntStorage")                                                                          \
    X("torch.ShortStorage")                                                                        \
    X("torch.CharStorage")                                                                         \
    X("torch.ByteStorage")                                                                         \
    X("torch.BoolStorage")                                                                         \
    X("torch.ComplexFloatStorage")                                                                 \
    X("torch.ComplexDoubleStorage")                                                                \
    X("torch.QInt8Storage")                                                                        \
    X("torch.QUInt8Storage")                                                                       \
    X("torch.QInt32Storage")                                                                       \
    X("torch.QUInt4x2Storage")                                                                     \
    X("torch.QUInt2x4Storage")                                                                     \
    X("torch.cuda.DoubleStorage")                                                                  \
    X("torch.cuda.FloatStorage")                                                                   \
    X("torch.cuda.HalfStorage")                                                                    \
    X("torch.cuda.BFloat16Storage")                                                                \
    X("torch.cuda.LongStorage")                                                                    \
    X("torch.cuda.IntStorage")                                                                     \
    X("torch.cuda.ShortStorage")                                                                   \
    X("torch.cuda.CharStorage")                                                                    \
    X("torch.cuda.ByteStorage")                                                                    \
    X("torch.cuda.BoolStorage")                                                                    \
    X("torch.cuda.ComplexFloatStorage")                                                            \
    X("torch.cuda.ComplexDoubleStorage")                                                           \
    X("torch.storage.TypedStorage")                                                                \
    X("torch.storage.UntypedStorage")
/* clang-format on */

/* clang-format off */
#define TORCH_QSCHEMES(X)                                                                          \
    X("torch.per_tensor_affine")                                                                   \
    X("torch.per_channel_affine")                                                                  \
    X("torch.per_tensor_symmetric")                                                                \
    X("torch.per_channel_symmetric")                                                               \
    X("torch.per_channel_affine_float_qparams")
/* clang-format on */

/* torch._utils._tensor_rebuild_functions() as listed in LOADERS.md 6. */
/* clang-format off */
#define TORCH_REBUILD(X)                                                                           \
    X("torch._utils._rebuild_tensor")                                                              \
    X("torch._utils._rebuild_tensor_v2")                                                           \
    X("torch._utils._rebuild_tensor_v3")                                                           \
    X("torch._utils._rebuild_parameter")                                                           \
    X("torch._utils._rebuild_parameter_with_state")                                                \
    X("torch._utils._rebuild_qtensor")                                                             \
    X("torch._utils._rebuild_sparse_tensor")                                                       \
    X("torch._utils._rebuild_sparse_csr_tensor")                                                   \
    X("torch._utils._rebuild_meta_tensor_no_storage")                                              \
    X("torch._utils._rebuild_nested_tensor")                                                       \
    X("torch._utils._rebuild_wrapper_subclass")                                                    \
    X("torch._utils._rebuild_device_tensor_from_numpy")                                            \
    X("torch._utils._rebuild_device_tensor_from_cpu_tensor")                                       \
    X("torch._tensor._rebuild_from_type_v2")
/* clang-format on */

/* The fixed part of torch's _get_allowed_globals(). */
/* clang-format off */
#define TORCH_WEIGHTS_ONLY_BASE(X)                                                                 \
    X("collections.OrderedDict")                                                                   \
    X("collections.Counter")                                                                       \
    X("torch.nn.parameter.Parameter")                                                              \
    X("torch.serialization._get_layout")                                                           \
    X("torch.Size")                                                                                \
    X("torch.Tensor")                                                                              \
    X("torch.device")                                                                              \
    X("_codecs.encode")                                                                            \
    X("builtins.bytearray")                                                                        \
    X("builtins.set")                                                                              \
    X("builtins.complex")
/* clang-format on */

/* clang-format off */
#define TORCH_WEIGHTS_ONLY(X)                                                                      \
    TORCH_WEIGHTS_ONLY_BASE(X)                                                                     \
    TORCH_DTYPES(X)                                                                                \
    TORCH_LEGACY_TYPES(X)                                                                          \
    TORCH_QSCHEMES(X)                                                                              \
    TORCH_REBUILD(X)
/* clang-format on */

static const policy_entry default_allow[] = {
#define X(p) A(p),
    TORCH_WEIGHTS_ONLY(X)
#undef X
    /* dtype aliases: same objects as the canonical names above. */
    A("torch.half"),
    A("torch.float"),
    A("torch.double"),
    A("torch.cfloat"),
    A("torch.cdouble"),
    A("torch.chalf"),
    A("torch.short"),
    A("torch.int"),
    A("torch.long"),
    /* layouts, which torch.serialization._get_layout returns */
    A("torch.strided"),
    A("torch.sparse_coo"),
    A("torch.sparse_csr"),
    A("torch.sparse_csc"),
    A("torch.sparse_bsr"),
    A("torch.sparse_bsc"),
    A("torch._mkldnn"),
    A("torch.jagged"),
    /* numpy array and scalar reconstruction, numpy 1.x and 2.x spellings */
    A("numpy.core.multiarray._reconstruct"),
    A("numpy._core.multiarray._reconstruct"),
    A("numpy.core.multiarray.scalar"),
    A("numpy._core.multiarray.scalar"),
    A("numpy.ndarray"),
    A("numpy.dtype"),
    A("numpy.core.numeric._frombuffer"),
    A("numpy._core.numeric._frombuffer"),
    A("numpy.dtypes.BoolDType"),
    A("numpy.dtypes.Int8DType"),
    A("numpy.dtypes.UInt8DType"),
    A("numpy.dtypes.Int16DType"),
    A("numpy.dtypes.UInt16DType"),
    A("numpy.dtypes.Int32DType"),
    A("numpy.dtypes.UInt32DType"),
    A("numpy.dtypes.Int64DType"),
    A("numpy.dtypes.UInt64DType"),
    A("numpy.dtypes.ByteDType"),
    A("numpy.dtypes.UByteDType"),
    A("numpy.dtypes.ShortDType"),
    A("numpy.dtypes.UShortDType"),
    A("numpy.dtypes.IntDType"),
    A("numpy.dtypes.UIntDType"),
    A("numpy.dtypes.LongDType"),
    A("numpy.dtypes.ULongDType"),
    A("numpy.dtypes.LongLongDType"),
    A("numpy.dtypes.ULongLongDType"),
    A("numpy.dtypes.Float16DType"),
    A("numpy.dtypes.Float32DType"),
    A("numpy.dtypes.Float64DType"),
    A("numpy.dtypes.LongDoubleDType"),
    A("numpy.dtypes.Complex64DType"),
    A("numpy.dtypes.Complex128DType"),
    A("numpy.dtypes.CLongDoubleDType"),
    A("numpy.dtypes.ObjectDType"),
    A("numpy.dtypes.BytesDType"),
    A("numpy.dtypes.StrDType"),
    A("numpy.dtypes.VoidDType"),
    A("numpy.dtypes.DateTime64DType"),
    A("numpy.dtypes.TimeDelta64DType"),
    A("numpy.dtypes.StringDType"),
    A("joblib.numpy_pickle.NumpyArrayWrapper"),
    /* plain containers and scalars (bytearray, set, complex are above) */
    A("builtins.dict"),
    A("builtins.list"),
    A("builtins.tuple"),
    A("builtins.frozenset"),
    A("builtins.bytes"),
    A("builtins.str"),
    A("builtins.int"),
    A("builtins.float"),
    A("builtins.bool"),
    A("builtins.slice"),
    A("builtins.range"),
    /* defaultdict's factory is a separate import, classified on its own */
    A("collections.defaultdict"),
    A("collections.deque"),
    /* constants; object is copyreg._reconstructor's base in protocols 0-1 */
    A("builtins.Ellipsis"),
    A("builtins.NotImplemented"),
    A("builtins.object"),
    /* numpy random state (sklearn estimators); their arguments are checked
     * (vm_grade.c): numpy 2 calls whatever class it is given */
    A("numpy.random._pickle.__randomstate_ctor"),
    A("numpy.random._pickle.__generator_ctor"),
    A("numpy.random._pickle.__bit_generator_ctor"),
    A("numpy.random._mt19937.MT19937"),
    A("numpy.random._pcg64.PCG64"),
    A("numpy.random._pcg64.PCG64DXSM"),
    A("numpy.random._philox.Philox"),
    A("numpy.random._sfc64.SFC64"),
    /* typing aliases (typing.List[int] is getitem(typing.List, int)) */
    A("typing.List"),
    A("typing.Dict"),
    A("typing.Tuple"),
    A("typing.Set"),
    A("typing.FrozenSet"),
    A("typing.Optional"),
    A("typing.Union"),
    A("typing.Any"),
    A("typing.Sequence"),
    A("typing.Mapping"),
    A("typing.Callable"),
    A("typing.Iterable"),
    /* str methods (FunctionTransformer(str.lower) is getattr(str, 'lower')) */
    A("builtins.str.lower"),
    A("builtins.str.upper"),
    A("builtins.str.strip"),
    A("builtins.str.split"),
    A("builtins.str.casefold"),
    A("builtins.str.title"),
    /* TorchScript's list builders and type tags return their argument
     * (torch/jit/_pickle.py); exempt from the torch.jit.* deny */
    A("torch.jit._pickle.build_intlist"),
    A("torch.jit._pickle.build_tensorlist"),
    A("torch.jit._pickle.build_doublelist"),
    A("torch.jit._pickle.build_boollist"),
    A("torch.jit._pickle.build_tensor_from_id"),
    A("torch.jit._pickle.restore_type_tag"),
    /* enums of the standard library that only hold values */
    A("http.HTTPStatus"),
    AP("http.HTTPStatus.*", 1),
    A("http.HTTPMethod"),
    AP("http.HTTPMethod.*", 1),
};

static const policy_entry ml_allow[] = {
    AP("torch.nn.modules.*", 2),
    AP("torch.optim.*", 2),
    A("torch.nn.parameter.UninitializedParameter"),
    A("torch.nn.parameter.UninitializedBuffer"),
    A("torch.nn.parameter.Buffer"),
    /* activations stored as attributes in whole-module pickles */
    A("torch.nn.functional.relu"),
    A("torch.nn.functional.gelu"),
    A("torch.nn.functional.silu"),
    A("torch.nn.functional.tanh"),
    A("torch.nn.functional.sigmoid"),
    A("torch.nn.functional.softmax"),
    A("torch.nn.functional.log_softmax"),
    A("torch.nn.functional.leaky_relu"),
    A("torch.nn.functional.elu"),
    A("torch.nn.functional.dropout"),
    /* bound methods older schedulers keep (getattr(scheduler, name)) */
    A("torch.optim.lr_scheduler.OneCycleLR._annealing_cos"),
    A("torch.optim.lr_scheduler.OneCycleLR._annealing_linear"),
    A("torch.optim.lr_scheduler.CyclicLR._triangular_scale_fn"),
    A("torch.optim.lr_scheduler.CyclicLR._triangular2_scale_fn"),
    A("torch.optim.lr_scheduler.CyclicLR._exp_range_scale_fn"),
};

#include "policy_profiles.inc"

/* Hugging Face Trainer's training_args.bin: the arguments dataclass, the enums
 * it holds (members are getattr(Enum, 'NAME') under Python 3.11: one
 * component below the class, no dunders) and accelerate's state it caches.
 * Reproduced from transformers' and accelerate's sources (not in Debian;
 * checked against transformers main: training_args.py, trainer_utils.py,
 * debug_utils.py, trainer_pt_utils.py; accelerate state.py), pickled by
 * fixtures/hf_standins.py. ShardedDDPOption: transformers < 4.35. */
static const policy_entry transformers_allow[] = {
    A("transformers.training_args.TrainingArguments"),
    A("transformers.training_args_seq2seq.Seq2SeqTrainingArguments"),
    A("transformers.trainer_pt_utils.AcceleratorConfig"),
    A("transformers.generation.configuration_utils.GenerationConfig"),
    /* TrainingArguments.distributed_state; its state is a plain dict
     * (accelerate's SharedDict is dict) */
    A("accelerate.state.PartialState"),
    A("transformers.training_args.OptimizerNames"),
    AP("transformers.training_args.OptimizerNames.*", 1),
    A("transformers.training_args.ParallelMode"),
    AP("transformers.training_args.ParallelMode.*", 1),
    A("transformers.trainer_utils.IntervalStrategy"),
    AP("transformers.trainer_utils.IntervalStrategy.*", 1),
    A("transformers.trainer_utils.EvaluationStrategy"),
    AP("transformers.trainer_utils.EvaluationStrategy.*", 1),
    A("transformers.trainer_utils.SaveStrategy"),
    AP("transformers.trainer_utils.SaveStrategy.*", 1),
    A("transformers.trainer_utils.HubStrategy"),
    AP("transformers.trainer_utils.HubStrategy.*", 1),
    A("transformers.trainer_utils.SchedulerType"),
    AP("transformers.trainer_utils.SchedulerType.*", 1),
    A("transformers.trainer_utils.ShardedDDPOption"),
    AP("transformers.trainer_utils.ShardedDDPOption.*", 1),
    A("transformers.trainer_utils.FSDPOption"),
    AP("transformers.trainer_utils.FSDPOption.*", 1),
    A("transformers.debug_utils.DebugOption"),
    AP("transformers.debug_utils.DebugOption.*", 1),
    A("accelerate.utils.dataclasses.DistributedType"),
    AP("accelerate.utils.dataclasses.DistributedType.*", 1),
};

/* Lightning checkpoints: hyperparameter containers (argparse, pathlib,
 * AttributeDict, omegaconf) plus the ml set, since schedulers that keep a
 * bound method pickle their optimizer and themselves whole. */
static const policy_entry lightning_allow[] = {
    A("argparse.Namespace"),
    A("pathlib.Path"),
    A("pathlib.PosixPath"),
    A("pathlib.WindowsPath"),
    A("pathlib.PurePath"),
    A("pathlib.PurePosixPath"),
    A("pathlib.PureWindowsPath"),
    A("lightning.fabric.utilities.data.AttributeDict"),
    A("lightning_fabric.utilities.data.AttributeDict"),
    A("lightning.pytorch.utilities.parsing.AttributeDict"),
    A("pytorch_lightning.utilities.parsing.AttributeDict"),
    A("omegaconf.dictconfig.DictConfig"),
    A("omegaconf.listconfig.ListConfig"),
    A("omegaconf.base.ContainerMetadata"),
    A("omegaconf.base.Metadata"),
    A("omegaconf.nodes.AnyNode"),
    A("omegaconf.nodes.StringNode"),
    A("omegaconf.nodes.IntegerNode"),
    A("omegaconf.nodes.FloatNode"),
    A("omegaconf.nodes.BooleanNode"),
    AP("torch.nn.modules.*", 2),
    AP("torch.optim.*", 2),
    A("torch.optim.lr_scheduler.OneCycleLR._annealing_cos"),
    A("torch.optim.lr_scheduler.OneCycleLR._annealing_linear"),
    A("torch.optim.lr_scheduler.CyclicLR._triangular_scale_fn"),
    A("torch.optim.lr_scheduler.CyclicLR._triangular2_scale_fn"),
    A("torch.optim.lr_scheduler.CyclicLR._exp_range_scale_fn"),
};

static const struct {
    const char *name;
    const policy_entry *entries;
    size_t count;
} profiles[] = {
    {"default", default_allow, ARRAY_LEN(default_allow)},
    {"ml", ml_allow, ARRAY_LEN(ml_allow)},
    {"torchvision", torchvision_allow, ARRAY_LEN(torchvision_allow)},
    {"transformers", transformers_allow, ARRAY_LEN(transformers_allow)},
    {"lightning", lightning_allow, ARRAY_LEN(lightning_allow)},
    {"sklearn", sklearn_allow, ARRAY_LEN(sklearn_allow)},
    {"pandas", pandas_allow, ARRAY_LEN(pandas_allow)},
    {"dill", dill_allow, ARRAY_LEN(dill_allow)},
};

/* ---- Denylist -------------------------------------------------------------
 * Only grades how bad a name outside the allowlist is; it will always miss
 * gadgets. Most specific entry wins, so an exact entry inside a `.*` entry
 * overrides its category (imaplib.IMAP4_stream inside imaplib.*). */

#define EXEC(p)                                                                                    \
    {                                                                                              \
        p, CKPT_F_EXEC, 0                                                                          \
    }
#define CMD(p)                                                                                     \
    {                                                                                              \
        p, CKPT_F_COMMAND, 0                                                                       \
    }
#define NATIVE(p)                                                                                  \
    {                                                                                              \
        p, CKPT_F_NATIVE, 0                                                                        \
    }
#define TRAMP(p)                                                                                   \
    {                                                                                              \
        p, CKPT_F_TRAMPOLINE, 0                                                                    \
    }
#define NEST(p)                                                                                    \
    {                                                                                              \
        p, CKPT_F_NESTED_LOAD, 0                                                                   \
    }
#define FILEIO(p)                                                                                  \
    {                                                                                              \
        p, CKPT_F_FILE_ACCESS, 0                                                                   \
    }
#define FILEW(p)                                                                                   \
    {                                                                                              \
        p, CKPT_F_FILE_WRITE, 0                                                                    \
    }
#define NET(p)                                                                                     \
    {                                                                                              \
        p, CKPT_F_NETWORK, 0                                                                       \
    }
#define DEFER(p)                                                                                   \
    {                                                                                              \
        p, CKPT_F_DEFERRED, 0                                                                      \
    }
#define SABOT(p)                                                                                   \
    {                                                                                              \
        p, CKPT_F_SABOTAGE, 0                                                                      \
    }

static const policy_entry deny[] = {
    /* evaluates code */
    EXEC("builtins.eval"),
    EXEC("builtins.exec"),
    EXEC("builtins.compile"),
    EXEC("builtins.breakpoint"),
    EXEC("builtins.execfile"),
    EXEC("builtins.__build_class__"),
    EXEC("runpy.*"),
    EXEC("timeit.*"),
    EXEC("cProfile.*"),
    EXEC("profile.*"),
    EXEC("trace.*"),
    EXEC("bdb.*"),
    EXEC("pdb.*"),
    EXEC("code.*"),
    EXEC("codeop.*"),
    EXEC("doctest.*"),
    EXEC("dataclasses._create_fn"),
    EXEC("typing.get_type_hints"),
    EXEC("typing._eval_type"),
    EXEC("typing.ForwardRef._evaluate"),
    EXEC("types.CodeType"),
    EXEC("types.FunctionType"),
    EXEC("types.LambdaType"),
    EXEC("types.new_class"),
    EXEC("marshal.*"),
    EXEC("numpy.testing._private.utils.runstring"),
    EXEC("numpy.testing._private.utils.run_module_suite"), /* pytest on any file */
    EXEC("numpy.testing.run_module_suite"),
    EXEC("numpy.f2py.*"),
    EXEC("idlelib.*"),
    EXEC("lib2to3.*"),
    EXEC("IPython.*"),
    EXEC("distutils.core.run_setup"),
    EXEC("setuptools.sandbox.*"),
    EXEC("sympy.sympify"),
    EXEC("sympy.parsing.*"),
    EXEC("numexpr.evaluate"),
    EXEC("pandas.eval"),
    EXEC("pandas.core.computation.*"),
    EXEC("_xxsubinterpreters.*"),
    EXEC("torch._dynamo.*"),
    EXEC("torch._dynamo.guards.*"),
    EXEC("torch.jit.*"),
    EXEC("torch.jit.unsupported_tensor_ops.execWrapper"),
    EXEC("torch._inductor.*"),
    EXEC("torch.compile"),
    EXEC("torch.hub.load"),
    EXEC("torch.fx.experimental.symbolic_shapes.ShapeEnv.evaluate_guards_expression"),
    EXEC("torch.fx.graph_module.reduce_graph_module"),
    EXEC("torch.fx.graph_module.reduce_package_graph_module"),
    EXEC("torch.fx.graph_module._deserialize_graph_module"),
    EXEC("torch.fx.graph_module._exec_with_source"),
    EXEC("torch.fx.graph_module._forward_from_src"),
    EXEC("torch.fx.graph_module._method_from_src"),
    EXEC("torch.utils.bottleneck.*"),
    EXEC("torch.utils.bottleneck.__main__.*"),
    EXEC("torch.package.package_importer.*"),

    /* runs operating-system commands */
    CMD("os.*"),
    CMD("posix.*"),
    CMD("nt.*"),
    CMD("subprocess.*"),
    CMD("_posixsubprocess.*"),
    CMD("_winapi.*"),
    CMD("pty.*"),
    CMD("popen2.*"),
    CMD("commands.*"),
    CMD("multiprocessing.*"),
    CMD("distutils.spawn.*"),
    CMD("numpy.distutils.exec_command.*"),
    CMD("pydoc.pipepager"),
    CMD("pydoc.plainpager"),
    CMD("pipes.*"),
    CMD("_pyrepl.pager.*"),
    CMD("_pyrepl.*"),
    CMD("pydoc.tempfilepager"),
    CMD("pydoc.pager"),
    CMD("pydoc.getpager"),
    CMD("imaplib.IMAP4_stream"),
    CMD("uuid._get_command_stdout"),
    CMD("_osx_support.*"),
    CMD("_aix_support.*"),
    CMD("webbrowser.*"),
    CMD("antigravity.*"), /* importing it opens a web browser */
    CMD("setuptools.*"),  /* setup() runs the commands argv names (build, install) */
    CMD("venv.*"),
    CMD("pip.*"),
    CMD("ensurepip.*"),
    CMD("asyncio.*"),
    CMD("platform.*"),
    CMD("pexpect.*"),
    CMD("torch.utils.collect_env.*"),
    CMD("torch._inductor.codecache.compile_file"),
    CMD("torch.multiprocessing.*"),

    /* loads or calls native code */
    NATIVE("ctypes.*"),
    NATIVE("_ctypes.*"),
    NATIVE("numpy.ctypeslib.*"),
    NATIVE("cffi.*"),
    NATIVE("_cffi_backend.*"),
    NATIVE("_imp.*"),
    NATIVE("importlib.machinery.ExtensionFileLoader"),
    NATIVE("_testcapi.*"),
    NATIVE("_testinternalcapi.*"),
    NATIVE("torch.ops.*"),
    NATIVE("torch.ops.load_library"),
    NATIVE("torch._ops.ops.*"),             /* torch.ops itself */
    NATIVE("numpy.core._internal._ctypes"), /* ctypes pointers from an integer address */
    NATIVE("torch.classes.*"),
    NATIVE("torch.utils.cpp_extension.*"),

    /* reaches arbitrary modules, attributes or callables */
    TRAMP("builtins.__import__"),
    TRAMP("builtins.getattr"),
    TRAMP("builtins.setattr"),
    TRAMP("builtins.delattr"),
    TRAMP("builtins.vars"),
    TRAMP("builtins.globals"),
    TRAMP("builtins.locals"),
    TRAMP("builtins.dir"),
    TRAMP("builtins.type"),
    TRAMP("builtins.super"),
    TRAMP("builtins.classmethod"),
    TRAMP("builtins.staticmethod"),
    TRAMP("builtins.property"),
    TRAMP("builtins.apply"),
    TRAMP("builtins.reload"),
    TRAMP("sys.*"),
    TRAMP("importlib.*"),
    TRAMP("pkgutil.*"),
    TRAMP("pydoc.*"),
    TRAMP("inspect.*"),
    TRAMP("operator.*"),
    TRAMP("_operator.*"),
    TRAMP("functools.*"),
    TRAMP("copyreg.*"),
    TRAMP("logging.config.*"),
    TRAMP("string.Formatter"),
    TRAMP("gc.*"),
    TRAMP("site.*"),
    TRAMP("zipimport.*"),
    TRAMP("types.MethodType"),
    TRAMP("unittest.mock.*"),
    /* joblib's nested unpickling and array reads, called directly */
    NEST("joblib.numpy_pickle._unpickle"),
    NEST("joblib.numpy_pickle.NumpyArrayWrapper.read"),
    NEST("joblib.numpy_pickle.NumpyArrayWrapper.read_array"),
    FILEIO("joblib.numpy_pickle_compat.read_zfile"),
    /* a test program: imports the modules its arguments (or argv) name and
     * discovers test files in the working directory */
    TRAMP("unittest.main"),
    TRAMP("unittest.TestProgram"),
    TRAMP("unittest.TestLoader.loadTestsFromName"),
    TRAMP("unittest.TestLoader.loadTestsFromNames"),
    TRAMP("unittest.TestLoader.discover"),
    TRAMP("unittest.defaultTestLoader.loadTestsFromName"),
    TRAMP("unittest.defaultTestLoader.loadTestsFromNames"),
    TRAMP("unittest.defaultTestLoader.discover"),

    /* deserialises another pickle or checkpoint */
    NEST("pickle.*"),
    NEST("_pickle.*"),
    NEST("cPickle.*"),
    NEST("pickletools.*"),
    NEST("dill.*"),
    NEST("cloudpickle.*"),
    NEST("jsonpickle.*"),
    NEST("shelve.*"),
    NEST("joblib.load"),
    NEST("joblib.numpy_pickle.load"),
    NEST("numpy.load"),
    NEST("numpy.lib.npyio.*"),
    NEST("numpy.lib.format.read_array"),
    NEST("pandas.read_pickle"),
    NEST("pandas.io.pickle.*"),
    NEST("yaml.load"),
    NEST("yaml.load_all"),
    NEST("yaml.unsafe_load"),
    NEST("yaml.unsafe_load_all"),
    NEST("yaml.full_load"),
    NEST("yaml.full_load_all"),
    NEST("torch.load"),
    NEST("torch.serialization.load"),
    NEST("torch.storage._load_from_bytes"),
    NEST("torch.utils._config_module.*"),
    NEST("torch.utils.data.datapipes.utils.decoder.*"),
    NEST("torch.package.*"),

    /* opens, writes or deletes files */
    FILEIO("builtins.open"),
    FILEIO("io.*"),
    FILEIO("_io.*"),
    FILEIO("codecs.open"),
    FILEIO("gzip.*"),
    FILEIO("bz2.*"),
    FILEIO("lzma.*"),
    /* pathlib: the path classes only build values (Lightning checkpoints
     * pickle PosixPath hyperparameters: unknown, not denied); their methods,
     * reached by protocol-4 dotted names, touch the filesystem. */
    FILEIO("pathlib.Path.write_text"),
    FILEIO("pathlib.Path.write_bytes"),
    FILEIO("pathlib.Path.touch"),
    FILEIO("pathlib.Path.open"),
    FILEIO("pathlib.Path.unlink"),
    FILEIO("pathlib.Path.rename"),
    FILEIO("pathlib.Path.replace"),
    FILEIO("pathlib.Path.mkdir"),
    FILEIO("pathlib.Path.rmdir"),
    FILEIO("pathlib.Path.symlink_to"),
    FILEIO("pathlib.Path.hardlink_to"),
    FILEIO("pathlib.Path.link_to"),
    FILEIO("pathlib.Path.chmod"),
    FILEIO("pathlib.Path.lchmod"),
    FILEIO("pathlib.Path.read_text"),
    FILEIO("pathlib.Path.read_bytes"),
    FILEIO("pathlib.Path.glob"),
    FILEIO("pathlib.Path.rglob"),
    FILEIO("pathlib.Path.iterdir"),
    FILEIO("pathlib.Path.owner"),
    FILEIO("pathlib.Path.group"),
    FILEIO("pathlib.Path.readlink"),
    FILEIO("pathlib.Path.samefile"),
    FILEIO("pathlib.Path.exists"),
    FILEIO("pathlib.Path.stat"),
    FILEIO("pathlib.Path.lstat"),
    FILEIO("pathlib.Path.is_dir"),
    FILEIO("pathlib.Path.is_file"),
    FILEIO("pathlib.Path.expanduser"),
    FILEIO("pathlib.Path.home"),
    FILEIO("pathlib.Path.cwd"),
    FILEIO("pathlib.Path.resolve"),
    FILEIO("pathlib.Path.absolute"),
    FILEIO("pathlib.PosixPath.write_text"),
    FILEIO("pathlib.PosixPath.write_bytes"),
    FILEIO("pathlib.PosixPath.touch"),
    FILEIO("pathlib.PosixPath.open"),
    FILEIO("pathlib.PosixPath.unlink"),
    FILEIO("pathlib.PosixPath.rename"),
    FILEIO("pathlib.PosixPath.replace"),
    FILEIO("pathlib.PosixPath.mkdir"),
    FILEIO("pathlib.PosixPath.rmdir"),
    FILEIO("pathlib.PosixPath.symlink_to"),
    FILEIO("pathlib.PosixPath.hardlink_to"),
    FILEIO("pathlib.PosixPath.link_to"),
    FILEIO("pathlib.PosixPath.chmod"),
    FILEIO("pathlib.PosixPath.lchmod"),
    FILEIO("pathlib.PosixPath.read_text"),
    FILEIO("pathlib.PosixPath.read_bytes"),
    FILEIO("pathlib.PosixPath.glob"),
    FILEIO("pathlib.PosixPath.rglob"),
    FILEIO("pathlib.PosixPath.iterdir"),
    FILEIO("pathlib.PosixPath.owner"),
    FILEIO("pathlib.PosixPath.group"),
    FILEIO("pathlib.PosixPath.readlink"),
    FILEIO("pathlib.PosixPath.samefile"),
    FILEIO("pathlib.PosixPath.exists"),
    FILEIO("pathlib.PosixPath.stat"),
    FILEIO("pathlib.PosixPath.lstat"),
    FILEIO("pathlib.PosixPath.is_dir"),
    FILEIO("pathlib.PosixPath.is_file"),
    FILEIO("pathlib.PosixPath.expanduser"),
    FILEIO("pathlib.PosixPath.home"),
    FILEIO("pathlib.PosixPath.cwd"),
    FILEIO("pathlib.PosixPath.resolve"),
    FILEIO("pathlib.PosixPath.absolute"),
    FILEIO("pathlib.WindowsPath.write_text"),
    FILEIO("pathlib.WindowsPath.write_bytes"),
    FILEIO("pathlib.WindowsPath.touch"),
    FILEIO("pathlib.WindowsPath.open"),
    FILEIO("pathlib.WindowsPath.unlink"),
    FILEIO("pathlib.WindowsPath.rename"),
    FILEIO("pathlib.WindowsPath.replace"),
    FILEIO("pathlib.WindowsPath.mkdir"),
    FILEIO("pathlib.WindowsPath.rmdir"),
    FILEIO("pathlib.WindowsPath.symlink_to"),
    FILEIO("pathlib.WindowsPath.hardlink_to"),
    FILEIO("pathlib.WindowsPath.link_to"),
    FILEIO("pathlib.WindowsPath.chmod"),
    FILEIO("pathlib.WindowsPath.lchmod"),
    FILEIO("pathlib.WindowsPath.read_text"),
    FILEIO("pathlib.WindowsPath.read_bytes"),
    FILEIO("pathlib.WindowsPath.glob"),
    FILEIO("pathlib.WindowsPath.rglob"),
    FILEIO("pathlib.WindowsPath.iterdir"),
    FILEIO("pathlib.WindowsPath.owner"),
    FILEIO("pathlib.WindowsPath.group"),
    FILEIO("pathlib.WindowsPath.readlink"),
    FILEIO("pathlib.WindowsPath.samefile"),
    FILEIO("pathlib.WindowsPath.exists"),
    FILEIO("pathlib.WindowsPath.stat"),
    FILEIO("pathlib.WindowsPath.lstat"),
    FILEIO("pathlib.WindowsPath.is_dir"),
    FILEIO("pathlib.WindowsPath.is_file"),
    FILEIO("pathlib.WindowsPath.expanduser"),
    FILEIO("pathlib.WindowsPath.home"),
    FILEIO("pathlib.WindowsPath.cwd"),
    FILEIO("pathlib.WindowsPath.resolve"),
    FILEIO("pathlib.WindowsPath.absolute"),
    FILEIO("pathlib._NormalAccessor"),
    FILEIO("pathlib._normal_accessor"),
    FILEIO("shutil.*"),
    FILEIO("tarfile.*"),
    FILEIO("zipfile.*"),
    FILEIO("tempfile.*"),
    FILEIO("sqlite3.*"),
    FILEIO("dbm.*"),
    FILEIO("logging.FileHandler"),
    FILEIO("logging.handlers.*"),
    FILEIO("logging.basicConfig"),
    FILEIO("distutils.file_util.*"),
    FILEIO("linecache.*"),
    FILEIO("fileinput.*"),
    FILEIO("glob.*"),
    FILEIO("filecmp.*"),
    FILEIO("mmap.*"),
    FILEIO("numpy.save"),
    FILEIO("numpy.savez"),
    FILEIO("numpy.savez_compressed"),
    FILEIO("numpy.savetxt"),
    FILEIO("numpy.loadtxt"),
    FILEIO("numpy.genfromtxt"),
    FILEIO("numpy.fromfile"),
    FILEIO("numpy.memmap"),
    FILEIO("numpy.core.memmap.*"),
    FILEIO("numpy._core.memmap.*"),
    FILEIO("numpy.ndarray.tofile"),
    FILEIO("numpy.ndarray.dump"),
    FILEIO("torch.save"),
    FILEIO("torch.serialization.save"),

/* creates, maps or writes files (issue 12, root cause 8) */
#define X(p) FILEW(p ".from_file"),
    TORCH_LEGACY_TYPES(X)
#undef X
        FILEW("torch.from_file"),
    FILEW("torch.UntypedStorage.from_file"),
    FILEW("torch.TypedStorage.from_file"),
    FILEW("torch.storage._StorageBase.from_file"),
    FILEW("torch._C.StorageBase.from_file"),
    FILEW("torch._C._StorageBase.from_file"),
    FILEW("torch._C.PyTorchFileWriter"),
    FILEW("torch.serialization._open_file"),
    FILEW("torch.serialization._open_file_like"),
    FILEW("torch.serialization._open_zipfile_writer"),
    FILEW("torch.serialization._open_zipfile_writer_file"),
    FILEW("torch.serialization._open_zipfile_writer_buffer"),
    FILEW("torch.serialization._open_buffer_writer"),
    FILEW("torch.serialization._opener"),
    FILEW("numpy.lib.format.open_memmap"),
    FILEW("joblib.backports.make_memmap"), /* numpy.memmap of a path, 'w+' creates it */
    FILEW("joblib._memmapping_reducer._strided_from_memmap"),
    FILEW("numpy.lib.format.write_array"),
    FILEW("numpy.lib.format.write_array_header_1_0"),
    FILEW("numpy.lib.format.write_array_header_2_0"),
    FILEW("numpy.core.records.fromfile"),
    FILEW("numpy.rec.fromfile"),
    FILEW("wave.*"),
    FILEW("sunau.*"),
    FILEW("aifc.*"),
    FILEW("mailbox.*"),
    FILEW("py_compile.*"),
    FILEW("compileall.*"),
    FILEW("uu.*"),
    FILEW("joblib.dump"),
    FILEW("joblib.numpy_pickle.dump"),
    FILEW("joblib.numpy_pickle_utils._write_fileobject"),
    FILEW("joblib.Memory"),
    FILEW("joblib.memory.*"),
    FILEW("distutils.dir_util.*"),
    FILEW("distutils.archive_util.*"),
    FILEW("xml.etree.ElementTree.ElementTree.write"),
    FILEIO("xml.etree.ElementTree.ElementTree.parse"),
    FILEIO("xml.etree.ElementTree.parse"),
    FILEIO("xml.etree.ElementTree.iterparse"),
    FILEIO("xml.dom.minidom.parse"),
    FILEIO("xml.sax.*"),
    FILEIO("plistlib.*"),
    FILEIO("netrc.*"),
    FILEIO("configparser.ConfigParser.read"),
    FILEIO("configparser.RawConfigParser.read"),
    FILEW("csv.writer"),
    FILEW("dbm.dumb.*"),
    FILEW("os.open"),
    FILEW("os.fdopen"),
    FILEW("posix.open"),

    /* opens network connections */
    NET("socket.*"),
    NET("_socket.*"),
    NET("ssl.*"),
    NET("http.*"),
    NET("http.server.*"),
    NET("urllib.*"),
    NET("urllib2.*"),
    NET("urllib3.*"),
    NET("httplib.*"),
    NET("requests.*"),
    NET("httpx.*"),
    NET("aiohttp.*"),
    NET("smtplib.*"),
    NET("smtpd.*"),
    NET("ftplib.*"),
    NET("poplib.*"),
    NET("imaplib.*"),
    NET("nntplib.*"),
    NET("telnetlib.*"),
    NET("xmlrpc.*"),
    NET("socketserver.*"),
    NET("asynchat.*"),
    NET("asyncore.*"),
    NET("paramiko.*"),
    NET("numpy.lib._datasource.*"),
    NET("numpy.lib._datasource.DataSource"), /* seeds its re-export numpy.DataSource */
    NET("numpy.lib._datasource.DataSource.open"),
    FILEW("torch.utils.tensorboard.*"), /* SummaryWriter creates its log files */
    NET("torch.hub.*"),
    NET("torch.distributed.*"),

    /* schedules code to run later */
    DEFER("atexit.*"),
    DEFER("threading.*"),
    DEFER("_thread.*"),
    DEFER("signal.*"),
    DEFER("sched.*"),
    DEFER("concurrent.futures.*"),
    DEFER("weakref.finalize"),
    /* global module hooks: a hook registered here runs on every forward */
    DEFER("torch.nn.modules.module.register_module_forward_pre_hook"),
    DEFER("torch.nn.modules.module.register_module_forward_hook"),
    DEFER("torch.nn.modules.module.register_module_backward_hook"),
    DEFER("torch.nn.modules.module.register_module_full_backward_pre_hook"),
    DEFER("torch.nn.modules.module.register_module_full_backward_hook"),
    DEFER("torch.nn.modules.module.register_module_buffer_registration_hook"),
    DEFER("torch.nn.modules.module.register_module_module_registration_hook"),
    DEFER("torch.nn.modules.module.register_module_parameter_registration_hook"),
    DEFER("torch.nn.modules.module._global_backward_pre_hooks"),
    DEFER("torch.nn.modules.module._global_backward_hooks"),
    DEFER("torch.nn.modules.module._global_forward_pre_hooks"),
    DEFER("torch.nn.modules.module._global_forward_hooks"),
    DEFER("torch.nn.modules.module._global_forward_hooks_always_called"),
    DEFER("torch.nn.modules.module._global_forward_hooks_with_kwargs"),
    DEFER("torch.nn.modules.module._global_buffer_registration_hooks"),
    DEFER("torch.nn.modules.module._global_module_registration_hooks"),
    DEFER("torch.nn.modules.module._global_parameter_registration_hooks"),

    /* imports a model scanner (to patch it) */
    SABOT("picklescan.*"),
    SABOT("modelscan.*"),
    SABOT("fickling.*"),
    SABOT("modelaudit.*"),

/* generated by tools/gen_gadgets.py: callables whose source reaches a sink */
#include "policy_gadgets.inc"
/* generated by tools/gen_aliases.py: C callables with a capability, and other
 * names of the callables above */
#include "policy_aliases.inc"
};

/* Identity helpers inside a denied prefix (torch.jit.*): they return their
 * argument, so only a user deny denies them. */
static const char *const exempt[] = {
    "torch.jit._pickle.build_intlist",
    "torch.jit._pickle.build_tensorlist",
    "torch.jit._pickle.build_doublelist",
    "torch.jit._pickle.build_boollist",
    "torch.jit._pickle.build_tensor_from_id",
    "torch.jit._pickle.restore_type_tag",
    /* enums inside denied modules: the class and its members (Python 3.11
     * pickles a member as getattr(http.HTTPStatus, 'OK')) */
    "http.HTTPStatus",
    "http.HTTPStatus.*",
    "http.HTTPMethod",
    "http.HTTPMethod.*",
    /* the dill profile's type lookup; its argument is checked (vm_grade.c) */
    "dill._dill._load_type",
};

/* module.qualname equals e, or e is "X.*" and it is X.<one component>. */
static int exempt_match(const char *e, const char *module, const char *qualname)
{
    char full[POLICY_NAME_MAX + 2];
    int n = snprintf(full, sizeof(full), "%s.%s", module, qualname);
    if (n < 0 || (size_t)n >= sizeof(full))
        return 0;
    size_t el = strlen(e);
    if (el < 2 || strcmp(e + el - 2, ".*") != 0)
        return strcmp(full, e) == 0;
    const char *rest = full + el - 1;
    return (size_t)n > el - 1 && strncmp(full, e, el - 1) == 0 && !strchr(rest, '.') &&
           !(rest[0] == '_' && rest[1] == '_');
}

int policy_table_exempt(const char *module, const char *qualname)
{
    for (size_t i = 0; i < ARRAY_LEN(exempt); i++)
        if (exempt_match(exempt[i], module, qualname))
            return 1;
    return 0;
}

const policy_entry *policy_table_deny(size_t *count)
{
    *count = ARRAY_LEN(deny);
    return deny;
}

/* (s, len) equals the NUL-terminated t. */
static int span_is(const char *s, size_t len, const char *t)
{
    return strlen(t) == len && memcmp(s, t, len) == 0;
}

int policy_table_profile_index(const char *s, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(profiles); i++)
        if (span_is(s, len, profiles[i].name))
            return (int)i;
    return -1;
}

size_t policy_table_profile_count(void)
{
    return ARRAY_LEN(profiles);
}

const policy_entry *policy_table_profile(int index, size_t *count)
{
    *count = profiles[index].count;
    return profiles[index].entries;
}

char policy_table_call_shape(const char *resolved)
{
    size_t lo = 0, hi = ARRAY_LEN(profile_call_shapes);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(profile_call_shapes[mid].name, resolved);
        if (c == 0)
            return profile_call_shapes[mid].shape;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* C accelerator modules and old spellings that reach the same objects as the
 * module the denylist names; the unaliased name is checked as well. */
static const struct {
    const char *from, *to;
} aliases[] = {
    {"posix", "os"},
    {"nt", "os"},
    {"_io", "io"},
    {"_operator", "operator"},
    {"_pickle", "pickle"},
    {"cPickle", "pickle"},
    {"_ctypes", "ctypes"},
    {"_socket", "socket"},
    {"_thread", "threading"},
    {"__builtin__", "builtins"},
    {"copy_reg", "copyreg"},
    {"commands", "subprocess"},
    {"_codecs", "codecs"},
    {"_signal", "signal"},
    {"_multiprocessing", "multiprocessing"},
    {"_asyncio", "asyncio"},
    {"_ssl", "ssl"},
    {"_sqlite3", "sqlite3"},
    {"_functools", "functools"},
    {"_bz2", "bz2"},
    {"_lzma", "lzma"},
    {"_frozen_importlib", "importlib"},
    {"_frozen_importlib_external", "importlib"},
};

const char *policy_table_alias(const char *s, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(aliases); i++)
        if (span_is(s, len, aliases[i].from))
            return aliases[i].to;
    return NULL;
}

static const ckpt_code categories[] = {
    CKPT_F_EXEC,        CKPT_F_COMMAND, CKPT_F_NATIVE,   CKPT_F_TRAMPOLINE, CKPT_F_NESTED_LOAD,
    CKPT_F_FILE_ACCESS, CKPT_F_NETWORK, CKPT_F_DEFERRED, CKPT_F_SABOTAGE,   CKPT_F_FILE_WRITE,
};

/* Stable names straight from the header's list, so they cannot drift. */
static const char *const code_names[] = {
#define X(id, name, sev, text) name,
    CKPT_FINDING_LIST(X)
#undef X
};

int policy_table_category(const char *s, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(categories); i++)
        if (span_is(s, len, code_names[categories[i]]))
            return (int)categories[i];
    return -1;
}

/* ---- _compat_pickle (CPython 3.11.7, Lib/_compat_pickle.py) ----------------
 * IMPORT_MAPPING and NAME_MAPPING after the module's own updates; the tables
 * for the 3 -> 2 direction are not needed by an unpickler. */
static const struct {
    const char *from, *to;
} import_mapping[] = {
    {"BaseHTTPServer", "http.server"},
    {"CGIHTTPServer", "http.server"},
    {"ConfigParser", "configparser"},
    {"Cookie", "http.cookies"},
    {"Dialog", "tkinter.dialog"},
    {"DocXMLRPCServer", "xmlrpc.server"},
    {"FileDialog", "tkinter.filedialog"},
    {"HTMLParser", "html.parser"},
    {"Queue", "queue"},
    {"ScrolledText", "tkinter.scrolledtext"},
    {"SimpleDialog", "tkinter.simpledialog"},
    {"SimpleHTTPServer", "http.server"},
    {"SimpleXMLRPCServer", "xmlrpc.server"},
    {"SocketServer", "socketserver"},
    {"StringIO", "io"},
    {"Tix", "tkinter.tix"},
    {"Tkconstants", "tkinter.constants"},
    {"Tkdnd", "tkinter.dnd"},
    {"Tkinter", "tkinter"},
    {"UserDict", "collections"},
    {"UserList", "collections"},
    {"UserString", "collections"},
    {"__builtin__", "builtins"},
    {"_abcoll", "collections.abc"},
    {"_elementtree", "xml.etree.ElementTree"},
    {"_winreg", "winreg"},
    {"anydbm", "dbm"},
    {"cPickle", "pickle"},
    {"cStringIO", "io"},
    {"commands", "subprocess"},
    {"cookielib", "http.cookiejar"},
    {"copy_reg", "copyreg"},
    {"dbhash", "dbm.bsd"},
    {"dbm", "dbm.ndbm"},
    {"dumbdbm", "dbm.dumb"},
    {"dummy_thread", "_dummy_thread"},
    {"gdbm", "dbm.gnu"},
    {"htmlentitydefs", "html.entities"},
    {"httplib", "http.client"},
    {"markupbase", "_markupbase"},
    {"repr", "reprlib"},
    {"robotparser", "urllib.robotparser"},
    {"test.test_support", "test.support"},
    {"thread", "_thread"},
    {"tkColorChooser", "tkinter.colorchooser"},
    {"tkCommonDialog", "tkinter.commondialog"},
    {"tkFileDialog", "tkinter.filedialog"},
    {"tkFont", "tkinter.font"},
    {"tkMessageBox", "tkinter.messagebox"},
    {"tkSimpleDialog", "tkinter.simpledialog"},
    {"ttk", "tkinter.ttk"},
    {"urllib2", "urllib.request"},
    {"urlparse", "urllib.parse"},
    {"whichdb", "dbm"},
    {"xmlrpclib", "xmlrpc.client"},
};

/* Python 2 exception names that keep their name in builtins. */
/* clang-format off */
#define PY2_EXCEPTIONS(X)                                                                          \
    X(ArithmeticError)                                                                             \
    X(AssertionError)                                                                              \
    X(AttributeError)                                                                              \
    X(BaseException)                                                                               \
    X(BufferError)                                                                                 \
    X(BytesWarning)                                                                                \
    X(DeprecationWarning)                                                                          \
    X(EOFError)                                                                                    \
    X(EnvironmentError)                                                                            \
    X(Exception)                                                                                   \
    X(FloatingPointError)                                                                          \
    X(FutureWarning)                                                                               \
    X(GeneratorExit)                                                                               \
    X(IOError)                                                                                     \
    X(ImportError)                                                                                 \
    X(ImportWarning)                                                                               \
    X(IndentationError)                                                                            \
    X(IndexError)                                                                                  \
    X(KeyError)                                                                                    \
    X(KeyboardInterrupt)                                                                           \
    X(LookupError)                                                                                 \
    X(MemoryError)                                                                                 \
    X(NameError)                                                                                   \
    X(NotImplementedError)                                                                         \
    X(OSError)                                                                                     \
    X(OverflowError)                                                                               \
    X(PendingDeprecationWarning)                                                                   \
    X(ReferenceError)                                                                              \
    X(RuntimeError)                                                                                \
    X(RuntimeWarning)                                                                              \
    X(StopIteration)                                                                               \
    X(SyntaxError)                                                                                 \
    X(SyntaxWarning)                                                                               \
    X(SystemError)                                                                                 \
    X(SystemExit)                                                                                  \
    X(TabError)                                                                                    \
    X(TypeError)                                                                                   \
    X(UnboundLocalError)                                                                           \
    X(UnicodeDecodeError)                                                                          \
    X(UnicodeEncodeError)                                                                          \
    X(UnicodeError)                                                                                \
    X(UnicodeTranslateError)                                                                       \
    X(UnicodeWarning)                                                                              \
    X(UserWarning)                                                                                 \
    X(ValueError)                                                                                  \
    X(Warning)                                                                                     \
    X(ZeroDivisionError)
/* clang-format on */

static const struct {
    const char *module, *name, *to_module, *to_name;
} name_mapping[] = {
    {"UserDict", "IterableUserDict", "collections", "UserDict"},
    {"UserDict", "UserDict", "collections", "UserDict"},
    {"UserList", "UserList", "collections", "UserList"},
    {"UserString", "UserString", "collections", "UserString"},
    {"__builtin__", "basestring", "builtins", "str"},
    {"__builtin__", "intern", "sys", "intern"},
    {"__builtin__", "long", "builtins", "int"},
    {"__builtin__", "reduce", "functools", "reduce"},
    {"__builtin__", "unichr", "builtins", "chr"},
    {"__builtin__", "unicode", "builtins", "str"},
    {"__builtin__", "xrange", "builtins", "range"},
    {"_multiprocessing", "Connection", "multiprocessing.connection", "Connection"},
    {"_socket", "fromfd", "socket", "fromfd"},
#define X(e) {"exceptions", #e, "builtins", #e},
    PY2_EXCEPTIONS(X)
#undef X
    /* only added by CPython on Windows; mapping it everywhere is harmless */
    {"exceptions", "WindowsError", "builtins", "WindowsError"},
    {"exceptions", "StandardError", "builtins", "Exception"},
    {"itertools", "ifilter", "builtins", "filter"},
    {"itertools", "ifilterfalse", "itertools", "filterfalse"},
    {"itertools", "imap", "builtins", "map"},
    {"itertools", "izip", "builtins", "zip"},
    {"itertools", "izip_longest", "itertools", "zip_longest"},
    {"multiprocessing", "AuthenticationError", "multiprocessing.context", "AuthenticationError"},
    {"multiprocessing", "BufferTooShort", "multiprocessing.context", "BufferTooShort"},
    {"multiprocessing", "ProcessError", "multiprocessing.context", "ProcessError"},
    {"multiprocessing", "TimeoutError", "multiprocessing.context", "TimeoutError"},
    {"multiprocessing.forking", "Popen", "multiprocessing.popen_fork", "Popen"},
    {"multiprocessing.process", "Process", "multiprocessing.context", "Process"},
    {"socket", "_socketobject", "socket", "SocketType"},
    {"urllib", "ContentTooShortError", "urllib.error", "ContentTooShortError"},
    {"urllib", "getproxies", "urllib.request", "getproxies"},
    {"urllib", "pathname2url", "urllib.request", "pathname2url"},
    {"urllib", "quote", "urllib.parse", "quote"},
    {"urllib", "quote_plus", "urllib.parse", "quote_plus"},
    {"urllib", "unquote", "urllib.parse", "unquote"},
    {"urllib", "unquote_plus", "urllib.parse", "unquote_plus"},
    {"urllib", "url2pathname", "urllib.request", "url2pathname"},
    {"urllib", "urlcleanup", "urllib.request", "urlcleanup"},
    {"urllib", "urlencode", "urllib.parse", "urlencode"},
    {"urllib", "urlopen", "urllib.request", "urlopen"},
    {"urllib", "urlretrieve", "urllib.request", "urlretrieve"},
    {"urllib2", "HTTPError", "urllib.error", "HTTPError"},
    {"urllib2", "URLError", "urllib.error", "URLError"},
    {"whichdb", "whichdb", "dbm", "whichdb"},
};

/* Same order as _pickle.c's find_class: the (module, name) pair first, then
 * the module alone. */
int policy_compat_map(const char *module, const char *name, const char **out_module,
                      const char **out_name)
{
    *out_module = module;
    *out_name = name;
    if (!module || !name)
        return 0;
    for (size_t i = 0; i < ARRAY_LEN(name_mapping); i++) {
        if (strcmp(module, name_mapping[i].module) == 0 &&
            strcmp(name, name_mapping[i].name) == 0) {
            *out_module = name_mapping[i].to_module;
            *out_name = name_mapping[i].to_name;
            return 1;
        }
    }
    for (size_t i = 0; i < ARRAY_LEN(import_mapping); i++) {
        if (strcmp(module, import_mapping[i].from) == 0) {
            *out_module = import_mapping[i].to;
            return 1;
        }
    }
    return 0;
}

/* ---- torch weights_only ---------------------------------------------------- */

static const char *const weights_only[] = {
#define X(p) p,
    TORCH_WEIGHTS_ONLY(X)
#undef X
};

/* full == module + "." + name, without building the concatenation. */
static int dotted_equals(const char *full, const char *module, const char *name)
{
    size_t m = strlen(module);
    return strncmp(full, module, m) == 0 && full[m] == '.' && strcmp(full + m + 1, name) == 0;
}

int policy_weights_only_global(const char *module, const char *name)
{
    if (!module || !name)
        return 0;
    for (size_t i = 0; i < ARRAY_LEN(weights_only); i++)
        if (dotted_equals(weights_only[i], module, name))
            return 1;
    return 0;
}
