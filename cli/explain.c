/* SPDX-License-Identifier: Apache-2.0 */
/* What to do about each finding code: the one-line advice under a report
 * in text output, --explain CODE, and the SARIF rules' help text. */
#include <string.h>

#include "cli.h"

#define DONT_LOAD "Do not load this file: "
#define CONVERT                                                                                    \
    "If you need the weights, ask the publisher for safetensors, or load with "                    \
    "torch.load(weights_only=True) in a throwaway environment."
#define REFETCH "Fetch the file again and compare its checksum with the publisher's."

static const struct {
    const char *code, *todo;
} advice[] = {
    {"unknown-import",
     "Check the imported names (ckptscan inspect FILE). Stock torch layers: --profile ml. A "
     "class you trust: allow it in a policy file (--policy). Otherwise load with "
     "torch.load(weights_only=True) or convert the weights to safetensors."},
    {"exec", DONT_LOAD "loading it evaluates code. " CONVERT},
    {"command", DONT_LOAD "loading it runs an operating-system command. Report it to where you "
                          "got it."},
    {"native-code", DONT_LOAD "loading it loads or calls native code. " CONVERT},
    {"import-trampoline", DONT_LOAD
     "it can reach any module, attribute or function (getattr, importlib, ...). " CONVERT},
    {"nested-deserialisation",
     DONT_LOAD "it deserialises another pickle or checkpoint, out of this scan's sight. " CONVERT},
    {"file-access", DONT_LOAD "loading it opens, writes or deletes files. " CONVERT},
    {"network", DONT_LOAD "loading it opens network connections. " CONVERT},
    {"deferred-execution",
     DONT_LOAD "loading it schedules code to run later (threads, signals, exit hooks). " CONVERT},
    {"scanner-sabotage",
     DONT_LOAD "it imports a model scanner, likely to tamper with it. " CONVERT},
    {"dynamic-import",
     DONT_LOAD "the name it imports is computed while loading, so no allowlist can vouch "
               "for it. " CONVERT},
    {"global-mutation",
     DONT_LOAD "loading it changes module or class state for the whole process. " CONVERT},
    {"indirect-call",
     "Look at the call (ckptscan dis FILE): it calls a value that is not an imported name. "
     "Load with torch.load(weights_only=True) or convert the weights."},
    {"container-call",
     "A container method runs on an object that is not a plain container: look at it "
     "(ckptscan dis FILE); load with torch.load(weights_only=True) or convert."},
    {"extension-code", "The real loaders fail here (an unregistered EXT code): a corrupt or "
                       "crafted file. " REFETCH},
    {"persistent-id", "Nothing by itself: torch resolves these ids to tensor storages."},
    {"truncated", "The pickle ends early: a partial download or a damaged file. " REFETCH},
    {"bad-opcode", "These bytes are not a valid pickle: a damaged or disguised file. " REFETCH},
    {"stack-error", "The real unpickler stops here: a damaged or crafted file. " REFETCH},
    {"memo-error", "The real unpickler stops here: a damaged or crafted file. " REFETCH},
    {"malformed", "The real unpickler rejects this: a damaged or crafted file. " REFETCH},
    {"limit", "The rest of the file is unscanned. If the file is legitimately large, raise the "
              "limit (--limit NAME=N, see --list-limits) and scan again."},
    {"frame-straddle", "C and Python unpicklers read this differently: a crafted file. Do not "
                       "load it; ask the publisher."},
    {"extra-pickle", "Another pickle follows the first one; loaders differ on reading it. Ask the "
                     "publisher why, and do not load it with a custom loader."},
    {"trailing-data", "Bytes follow the last pickle. " REFETCH},
    {"protocol-change", "A PROTO opcode mid-stream changes how names resolve: crafted. Do not "
                        "load it; ask the publisher."},
    {"anomaly", "No pickler writes this: look at the finding (ckptscan dis FILE) and ask the "
                "publisher."},
    {"loader-disagreement", "Loaders read these bytes differently (every reading was scanned). "
                            "Load it only with the loader it was made for, or convert it."},
    {"embedded-pickle", "A constant holds another pickle (it was scanned too): find out why the "
                        "file carries one."},
    {"empty", "The file is empty: a failed download? " REFETCH},
    {"unknown-format",
     "Not a format ckptscan names, and no pickle, torch, numpy or joblib loader can run it: "
     "nothing before its first import or persistent id parses. Nothing to do."},
    {"unscanned-member", "A member could not be read (encrypted, unsupported compression) and is "
                         "unscanned: ask for a plain archive."},
    {"polyglot", "The bytes are valid as several formats: crafted. Do not load it; ask the "
                 "publisher."},
    {"archive-anomaly", "The archive is built in a way loaders read differently. " REFETCH
                        " If it persists, ask the publisher."},
    {"code-archive",
     "The archive carries code a loader compiles or runs (TorchScript, torch.package, .mar): "
     "load it only from a publisher you trust, or ask for a state_dict in safetensors."},
    {"dunder-attribute",
     DONT_LOAD "a dotted name walks a dunder attribute to reach interpreter internals. " CONVERT},
    {"undetermined-bytes",
     DONT_LOAD "the loader would unpickle memory the file does not fill (a broken compressed "
               "stream), which an attacker can prepare. " REFETCH},
};

const char *code_advice(ckpt_code code)
{
    const char *name = ckpt_code_name(code);
    for (size_t i = 0; name && i < sizeof(advice) / sizeof(advice[0]); i++)
        if (strcmp(advice[i].code, name) == 0)
            return advice[i].todo;
    return "Look at the finding (ckptscan dis FILE) before loading the file.";
}

/* The finding the advice is about: the first of the highest severity. */
int report_worst_code(const ckpt_report *r)
{
    int worst = -1, sev = -1;
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        if (ckpt_report_finding(r, i, &f) == CKPT_OK && (int)f.severity > sev) {
            sev = (int)f.severity;
            worst = (int)f.code;
        }
    }
    return sev > (int)CKPT_SEV_INFO ? worst : -1;
}

int explain(const char *name)
{
    int c = ckpt_code_from_name(name);
    if (c < 0) {
        fprintf(stderr, "ckptscan: unknown finding code '%s' (see --list-codes)\n", name);
        return 2;
    }
    printf("%s (%s)\n  %s\nWhat to do:\n  %s\n", ckpt_code_name((ckpt_code)c),
           ckpt_severity_name(ckpt_code_severity((ckpt_code)c)),
           ckpt_code_description((ckpt_code)c), code_advice((ckpt_code)c));
    return 0;
}
