/* SPDX-License-Identifier: Apache-2.0 */
/* The names whose calls are graded with their arguments (policy_grade.h). */
#include "policy_grade.h"

#include <string.h>

#include "policy_tables.h"
#include "util.h"

static const struct {
    const char *name;
    grade_kind kind;
} graded[] = {
    {"builtins.getattr", GK_GETATTR},
    {"functools.partial", GK_PARTIAL},
    {"_functools.partial", GK_PARTIAL},
    {"copyreg._reconstructor", GK_RECONSTRUCTOR},
    {"dill._dill._create_array", GK_CREATE_ARRAY},
    {"operator.getitem", GK_GETITEM},
    {"_operator.getitem", GK_GETITEM},
    {"torch.storage._load_from_bytes", GK_LOAD_BYTES},
    {"numpy.random._pickle.__randomstate_ctor", GK_RANDOM_CTOR},
    {"numpy.random._pickle.__generator_ctor", GK_RANDOM_CTOR},
    {"numpy.random._pickle.__bit_generator_ctor", GK_BITGEN_CTOR},
    {"torch._tensor._rebuild_from_type_v2", GK_FROM_TYPE},
    {"dill._dill._load_type", GK_DILL_TYPE},
    {"torch.Tensor", GK_TENSOR_CTOR},
    {"torch.nn.parameter.Parameter", GK_TENSOR_CTOR},
    {"torch.storage.UntypedStorage", GK_TENSOR_CTOR},
    {"torch.storage.TypedStorage", GK_TENSOR_CTOR},
    /* hand-written profiles (transformers, lightning): how real files call
     * each entry (fixtures/hf_standins.py, fixtures/gen_benign.py) */
    {"transformers.training_args.TrainingArguments", GK_NEWOBJ_ONLY},
    {"transformers.training_args_seq2seq.Seq2SeqTrainingArguments", GK_NEWOBJ_ONLY},
    {"transformers.trainer_pt_utils.AcceleratorConfig", GK_NEWOBJ_ONLY},
    {"transformers.generation.configuration_utils.GenerationConfig", GK_NEWOBJ_ONLY},
    {"accelerate.state.PartialState", GK_NEWOBJ_ONLY},
    {"argparse.Namespace", GK_NEWOBJ_ONLY},
    {"lightning.fabric.utilities.data.AttributeDict", GK_NEWOBJ_ONLY},
    {"lightning_fabric.utilities.data.AttributeDict", GK_NEWOBJ_ONLY},
    {"lightning.pytorch.utilities.parsing.AttributeDict", GK_NEWOBJ_ONLY},
    {"pytorch_lightning.utilities.parsing.AttributeDict", GK_NEWOBJ_ONLY},
    {"omegaconf.dictconfig.DictConfig", GK_NEWOBJ_ONLY},
    {"omegaconf.listconfig.ListConfig", GK_NEWOBJ_ONLY},
    {"omegaconf.base.ContainerMetadata", GK_NEWOBJ_ONLY},
    {"omegaconf.base.Metadata", GK_NEWOBJ_ONLY},
    {"omegaconf.nodes.AnyNode", GK_NEWOBJ_ONLY},
    {"omegaconf.nodes.StringNode", GK_NEWOBJ_ONLY},
    {"omegaconf.nodes.IntegerNode", GK_NEWOBJ_ONLY},
    {"omegaconf.nodes.FloatNode", GK_NEWOBJ_ONLY},
    {"omegaconf.nodes.BooleanNode", GK_NEWOBJ_ONLY},
    {"pathlib.Path", GK_PATH_PARTS},
    {"pathlib.PosixPath", GK_PATH_PARTS},
    {"pathlib.WindowsPath", GK_PATH_PARTS},
    {"pathlib.PurePath", GK_PATH_PARTS},
    {"pathlib.PurePosixPath", GK_PATH_PARTS},
    {"pathlib.PureWindowsPath", GK_PATH_PARTS},
    /* enums: EnumClass(value) under Python <= 3.10 */
    {"transformers.training_args.OptimizerNames", GK_DATA_ARGS},
    {"transformers.training_args.ParallelMode", GK_DATA_ARGS},
    {"transformers.trainer_utils.IntervalStrategy", GK_DATA_ARGS},
    {"transformers.trainer_utils.EvaluationStrategy", GK_DATA_ARGS},
    {"transformers.trainer_utils.SaveStrategy", GK_DATA_ARGS},
    {"transformers.trainer_utils.HubStrategy", GK_DATA_ARGS},
    {"transformers.trainer_utils.SchedulerType", GK_DATA_ARGS},
    {"transformers.trainer_utils.ShardedDDPOption", GK_DATA_ARGS},
    {"transformers.trainer_utils.FSDPOption", GK_DATA_ARGS},
    {"transformers.debug_utils.DebugOption", GK_DATA_ARGS},
    {"accelerate.utils.dataclasses.DistributedType", GK_DATA_ARGS},
    {"http.HTTPStatus", GK_DATA_ARGS},
    {"http.HTTPMethod", GK_DATA_ARGS},
};

/* f(cls, ...) helpers of the generated profiles that rebuild the class
 * they are given. */
static int class_first(const char *s)
{
    const char *dot = strrchr(s, '.');
    const char *last = dot ? dot + 1 : s;
    return strcmp(last, "newObj") == 0 || strcmp(last, "_new_Index") == 0 ||
           strcmp(last, "_new_DatetimeIndex") == 0 || strncmp(last, "__pyx_unpickle_", 15) == 0;
}

static grade_kind shape_kind(const char *resolved)
{
    switch (policy_table_call_shape(resolved)) {
    case 'c': return class_first(resolved) ? GK_CLASS_FIRST : GK_DATA_ARGS;
    case 'n': return GK_NEWOBJ_ONLY;
    default: return GK_NONE;
    }
}

/* torch.XTensor, torch.XStorage and their torch.cuda twins. */
static int legacy_tensor_class(const char *s)
{
    if (strncmp(s, "torch.cuda.", 11) == 0)
        s += 11;
    else if (strncmp(s, "torch.", 6) == 0)
        s += 6;
    else
        return 0;
    if (strchr(s, '.'))
        return 0;
    size_t n = strlen(s);
    return (n > 6 && strcmp(s + n - 6, "Tensor") == 0) ||
           (n > 7 && strcmp(s + n - 7, "Storage") == 0);
}

grade_kind policy_grade_kind(const char *resolved)
{
    for (size_t i = 0; i < ARRAY_LEN(graded); i++)
        if (strcmp(resolved, graded[i].name) == 0)
            return graded[i].kind;
    return legacy_tensor_class(resolved) ? GK_TENSOR_CTOR : shape_kind(resolved);
}

static const char *const bit_generators[] = {"MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"};
static const char *const bit_generator_classes[] = {"numpy.random._mt19937.MT19937",
                                                    "numpy.random._pcg64.PCG64",
                                                    "numpy.random._pcg64.PCG64DXSM",
                                                    "numpy.random._philox.Philox",
                                                    "numpy.random._sfc64.SFC64",
                                                    "numpy.random.MT19937",
                                                    "numpy.random.PCG64",
                                                    "numpy.random.PCG64DXSM",
                                                    "numpy.random.Philox",
                                                    "numpy.random.SFC64"};

int policy_bit_generator_class(const char *resolved)
{
    for (size_t i = 0; i < ARRAY_LEN(bit_generator_classes); i++)
        if (strcmp(resolved, bit_generator_classes[i]) == 0)
            return 1;
    return 0;
}

int policy_bit_generator_name(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(bit_generators); i++)
        if (strlen(bit_generators[i]) == len && memcmp(name, bit_generators[i], len) == 0)
            return 1;
    return 0;
}

static const char *const dill_data_types[] = {
    "bool",      "bytearray", "bytes",  "complex",  "dict",         "float",
    "frozenset", "int",       "list",   "range",    "set",          "slice",
    "str",       "tuple",     "object", "NoneType", "EllipsisType", "NotImplementedType"};

int policy_dill_data_type(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(dill_data_types); i++)
        if (strlen(dill_data_types[i]) == len && memcmp(name, dill_data_types[i], len) == 0)
            return 1;
    return 0;
}
