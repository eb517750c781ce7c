/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the policy-file parser. Invariants: a text is applied
 * whole or not at all (a rejected text leaves classification unchanged),
 * and deny always beats allow for a denylisted name, which stays dangerous. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void classify(const policy *p, const char *m, const char *n, name_class *out)
{
    memset(out, 0, sizeof(*out));
    policy_classify(p, m, n, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    policy *p = policy_new();
    if (!p)
        abort();
    name_class before, after, os;
    classify(p, "mymod", "Thing", &before);
    size_t line = 0;
    int rc = policy_add_text(p, (const char *)data, size, &line);
    classify(p, "mymod", "Thing", &after);
    if (rc == -1 && (line == 0 || before.allowed != after.allowed || before.code != after.code))
        abort();
    /* a user deny may recategorise it (doc/policy.md: no category is exec),
     * but nothing makes it allowed or less than dangerous */
    classify(p, "os", "system", &os);
    if (os.allowed || ckpt_code_severity(os.code) != CKPT_SEV_DANGEROUS)
        abort();
    classify(p, "builtins", "object.__getattribute__", &os);
    if (os.allowed)
        abort();
    policy_free(p);
    return 0;
}
