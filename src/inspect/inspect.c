/* SPDX-License-Identifier: Apache-2.0 */
/* The inspection's life: attached to a report with its walker and
 * destructor, and each pickle's result taken as the main object or not. */
#include "inspect.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect_torch.h"
#include "util.h"

static void collect_pickle(struct insp *in, const char *member, uint64_t offset, int protocol,
                           const value *root);

int insp_attach(ckpt_report *r, uint64_t budget)
{
    r->insp = calloc(1, sizeof(*r->insp));
    if (!r->insp)
        return 0;
    r->insp->rep = r;
    r->insp->budget = budget;
    r->insp->expect_main_at = UINT64_MAX;
    r->insp->torch = (ckpt_torch_info){"", "", "", 0, 0, "", 0};
    r->insp->on_pickle = collect_pickle;
    r->insp_free = insp_free;
    return 1;
}

void insp_free(struct insp *in)
{
    if (!in)
        return;
    free(in->members);
    free(in->tensors);
    free(in->entries);
    free(in->records);
    free(in->import_usage);
    free(in->dtypes);
    free(in->tar_storages);
    free(in->tar_tensors);
    free(in);
}

static int main_priority(const struct insp *in, const char *member, uint64_t offset)
{
    size_t n = strlen(member);
    if (offset == in->expect_main_at || (in->main_now && offset == 0))
        return 3;
    if (n >= 8 && strcmp(member + n - 8, "data.pkl") == 0 && (n == 8 || member[n - 9] == '/'))
        return 2;
    if (strcmp(in->torch.layout, "tar") == 0 && strcmp(member, "pickle") == 0)
        return 2;
    return 1;
}

/* Entries of an earlier, less likely main pickle give way. */
static void drop_entries(struct insp *in)
{
    for (size_t i = 0; i < in->ntensors; i++)
        if (in->tensors[i].pickle_seq == in->entries_seq)
            in->tensors[i].entry = SIZE_MAX;
    in->nentries = 0;
}

/* The value a pickle of the inspected file returned (in->on_pickle): the
 * most likely main object gives the top-level entries. */
static void collect_pickle(struct insp *in, const char *member, uint64_t offset, int protocol,
                           const value *root)
{
    unsigned pseq = ++in->pickle_seq;
    int prio = main_priority(in, member, offset);
    /* a pickle nested in another (joblib's object arrays) stops first */
    int main = prio > in->main_prio ||
               (prio == in->main_prio && strcmp(member, in->torch.main_member) == 0 &&
                offset < in->main_offset);
    if (main) {
        in->main_offset = offset;
        drop_entries(in);
        in->main_prio = prio;
        in->entries_seq = pseq;
        in->torch.protocol = protocol;
        in->torch.main_member = report_strdup(in->rep, member);
    }
    const char *order = torch_sys_info_byteorder(root);
    if (order && strcmp(in->torch.layout, "legacy") == 0)
        in->torch.byteorder = order;
    if (!insp_walk(in, member, pseq, root, main))
        in->torch.walk_incomplete = 1;
}
