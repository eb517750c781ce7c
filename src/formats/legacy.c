/* SPDX-License-Identifier: Apache-2.0 */
/* torch's legacy stacked-pickle format: five pickles, then raw storage bytes.
 *
 * Which streams are legacy. torch.load unpickles pickle 1 whatever it is and
 * only then compares the result with the magic number, so a call may compute
 * the magic (`builtins.eval('0x1950...')`). The rule here: a stream is legacy
 * when pickle 1 is the plain integer constant 0x1950A86A20F9469CFC6C, or when
 * pickle 1 (whatever it computes) is directly followed by a pickle that is the
 * plain integer constant 1001 (the protocol version). In the second case the
 * magic not being a plain constant is itself an anomaly. Every other stream
 * goes to the generic pickle path, which walks every consecutive pickle
 * anyway; only the check of the raw storage region is lost there. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "inventory.h"
#include "opcodes.h"
#include "torch_dtypes.h"
#include "util.h"
#include "value.h"

#define LEGACY_PROTOCOL 1001
#define MAGIC_DEC       "119547037146038801333356"
#define KEY_SHOWN       64 /* bytes of a storage key quoted in a message */

static const uint8_t magic_le[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

/* A storage key as Python compares it: str, bytes and int keys differ. */
typedef struct skey {
    const char *p;
    uint32_t n;
    char kind; /* 's' str, 'b' bytes, 'i' int (decimal text) */
} skey;

typedef struct stor {
    skey key;
    uint32_t elsize; /* 0: storage type unknown */
    int64_t numel;   /* -1: not an integer */
    uint32_t reads;  /* times pickle 5 names it */
    uint8_t used;
} stor;

typedef struct legacy {
    scan_ctx *ctx;
    const char *member;
    arena mem; /* copies of keys */
    stor *tab;
    size_t cap, count;
    int table_full;
    /* what the last STOP returned */
    uint8_t kind;
    int int_ok;
    int64_t int_val;
    /* storages whose tuple or type torch cannot use */
    size_t bad_pids, bad_types, conflicts;
    char bad_type[96];
    /* pickle 5 */
    int want_keys;
    skey *keys;
    size_t nkeys;
    const char *keys_problem; /* NULL: keys usable */
} legacy;

static void note(legacy *L, ckpt_code code, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void note(legacy *L, ckpt_code code, uint64_t off, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctx_finding(L->ctx, code, L->member, off, msg);
}

/* ---- recognising the format without scanning ---- */

/* Offset after the first STOP of the pickle at `pos`, decoding opcode
 * arguments only (no stack): a cheap filter. SIZE_MAX when there is none. */
static size_t skim_end(const uint8_t *b, size_t len, size_t pos)
{
    return pickle_skim_stop(b, len, pos);
}

/* An integer constant as a pickle writes it. */
typedef struct int_const {
    int magic; /* equals torch's magic number */
    int fits;  /* val holds it */
    int64_t val;
} int_const;

static void le_int(const uint8_t *p, size_t n, int_const *c)
{
    while (n > 1 && p[n - 1] == (p[n - 2] & 0x80 ? 0xff : 0x00))
        n--; /* redundant sign bytes do not change the value */
    c->magic = n == sizeof(magic_le) && memcmp(p, magic_le, n) == 0;
    c->fits = n <= 8;
    if (!c->fits)
        return;
    uint64_t u = n && (p[n - 1] & 0x80) ? UINT64_MAX : 0;
    for (size_t i = n; i-- > 0;)
        u = (u << 8) | p[i];
    c->val = (int64_t)u;
}

/* Decimal text without leading zeros (what picklers write); 0 otherwise. */
static int text_int(const uint8_t *p, size_t n, int long_op, int_const *c)
{
    if (long_op && n > 0 && p[n - 1] == 'L')
        n--;
    int neg = n > 0 && p[0] == '-';
    size_t d = (size_t)neg;
    if (d >= n || (p[d] == '0' && n - d > 1))
        return 0;
    for (size_t i = d; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    c->magic = !neg && n - d == strlen(MAGIC_DEC) && memcmp(p + d, MAGIC_DEC, n - d) == 0;
    c->fits = n - d <= 18;
    c->val = 0;
    for (size_t i = d; c->fits && i < n; i++)
        c->val = c->val * 10 + (p[i] - '0');
    if (neg)
        c->val = -c->val;
    return 1;
}

/* The first newline at or after `from` (NULL: none to the end): queries
 * at rising offsets reuse it, so a scan that asks at every candidate of a
 * buffer (find_protocol) reads it once, not once per candidate. */
typedef struct nl_cache {
    size_t from;
    const uint8_t *found;
    int valid;
} nl_cache;

static const uint8_t *next_newline(const uint8_t *b, size_t len, size_t p, nl_cache *nc)
{
    if (nc && nc->valid && p >= nc->from && (!nc->found || nc->found >= b + p))
        return nc->found;
    const uint8_t *nl = memchr(b + p, '\n', len - p);
    if (nc)
        *nc = (nl_cache){p, nl, 1};
    return nl;
}

/* Reads the integer opcode at *pos; 0 when it is not one. */
static int int_opcode(const uint8_t *b, size_t len, size_t *pos, int_const *c, nl_cache *nc)
{
    uint8_t op = b[(*pos)++];
    size_t p = *pos;
    if (op == OP_INT || op == OP_LONG) {
        const uint8_t *nl = next_newline(b, len, p, nc);
        if (!nl || !text_int(b + p, (size_t)(nl - b) - p, op == OP_LONG, c))
            return 0;
        *pos = (size_t)(nl - b) + 1;
        return 1;
    }
    unsigned width = op == OP_BININT1 ? 1 : op == OP_BININT2 ? 2 : op == OP_BININT ? 4 : 0;
    if (width) {
        if (!range_fits(p, width, len))
            return 0;
        uint8_t tmp[5] = {0};
        memcpy(tmp, b + p, width);
        le_int(tmp, width == 4 ? 4 : width + 1, c); /* BININT1/2 are unsigned */
        *pos = p + width;
        return 1;
    }
    if (op != OP_LONG1 && op != OP_LONG4)
        return 0;
    size_t hdr = op == OP_LONG1 ? 1 : 4;
    if (!range_fits(p, hdr, len))
        return 0;
    uint64_t n = op == OP_LONG1 ? b[p] : load_le32(b + p);
    if (n > INT32_MAX || !range_fits(p + hdr, n, len))
        return 0;
    le_int(b + p + hdr, (size_t)n, c);
    *pos = p + hdr + (size_t)n;
    return 1;
}

/* End of a pickle at `pos` that is exactly one integer constant
 * (PROTO? FRAME? int memo-put? STOP), or 0. */
static size_t plain_int(const uint8_t *b, size_t len, size_t pos, int_const *c, nl_cache *nc)
{
    memset(c, 0, sizeof(*c));
    if (pos < len && b[pos] == OP_PROTO)
        pos += 2;
    if (pos < len && b[pos] == OP_FRAME)
        pos += 9;
    if (pos >= len || !int_opcode(b, len, &pos, c, nc) || pos >= len)
        return 0;
    if (b[pos] == OP_MEMOIZE)
        pos += 1;
    else if (b[pos] == OP_BINPUT)
        pos += 2;
    else if (b[pos] == OP_LONG_BINPUT)
        pos += 5;
    return pos < len && b[pos] == OP_STOP ? pos + 1 : 0;
}

/* 1 when the pickle at `end` is the integer constant 1001. */
static int protocol_follows(const uint8_t *buf, size_t len, size_t end, nl_cache *nc)
{
    int_const c;
    return end != SIZE_MAX && plain_int(buf, len, end, &c, nc) && c.fits &&
           c.val == LEGACY_PROTOCOL;
}

/* 1 when the integer opcode at q is that of a pickle 2 that is the
 * protocol constant: one starting right after a STOP, at q or before the
 * PROTO and FRAME that plain_int() skips. */
static int protocol_pickle_at(const uint8_t *b, size_t len, size_t q, nl_cache *nc)
{
    static const size_t back[] = {0, 2, 9, 11};
    for (size_t i = 0; i < sizeof(back) / sizeof(back[0]); i++) {
        size_t s = q - back[i];
        if (q > back[i] && b[s - 1] == OP_STOP && protocol_follows(b, len, s, nc))
            return 1;
    }
    return 0;
}

/* Tries protocol_pickle_at() at p - d for every byte `byte` at p and
 * every d in deltas (0-terminated after the first). */
static int find_protocol(const uint8_t *b, size_t len, int byte, const uint8_t deltas[3])
{
    nl_cache nc = {0, NULL, 0};
    for (const uint8_t *p = b; (p = memchr(p, byte, len - (size_t)(p - b))); p++) {
        size_t at = (size_t)(p - b);
        for (size_t i = 0; i < 3 && (i == 0 || deltas[i]); i++)
            if (deltas[i] <= at && protocol_pickle_at(b, len, at - deltas[i], &nc))
                return 1;
    }
    return 0;
}

/* 0 when no pickle 2 in buf could be the protocol constant, so pickle 1's
 * end does not matter. Every encoding of 1001 has its opcode byte (INT,
 * LONG) or e9 (BININT2 / BININT: one after the opcode; LONG1: two; LONG4:
 * five): memchr over those costs far less than skimming pickle 1 to its
 * end when it is big. */
static int may_hold_protocol(const uint8_t *b, size_t len)
{
    static const uint8_t text[3] = {0, 0, 0}, binary[3] = {1, 2, 5};
    return find_protocol(b, len, OP_INT, text) || find_protocol(b, len, OP_LONG, text) ||
           find_protocol(b, len, 0xe9, binary);
}

#define LEGACY_SKIM_WINDOW (1u << 20)

/* The rule in the file comment; end1 is where pickle 1 ends when the
 * caller has walked it (SIZE_MAX: find it here, unless no pickle 2 could
 * be the protocol constant). */
static int looks_legacy(const uint8_t *buf, size_t len, size_t end1, int *plain_magic)
{
    int_const c;
    *plain_magic = plain_int(buf, len, 0, &c, NULL) != 0 && c.magic;
    if (*plain_magic)
        return 1;
    if (end1 != SIZE_MAX)
        return protocol_follows(buf, len, end1, NULL);
    /* A skim of the first bytes settles most inputs (a zip's 'P' is soon
     * followed by a byte that is no opcode) without touching the rest of
     * a big file; only a long run of opcodes pays for the scan below. */
    int ran_out;
    size_t window = len < LEGACY_SKIM_WINDOW ? len : LEGACY_SKIM_WINDOW;
    end1 = pickle_skim_stop_ex(buf, window, 0, &ran_out);
    if (end1 != SIZE_MAX || !ran_out || window == len)
        return protocol_follows(buf, len, end1, NULL);
    if (!may_hold_protocol(buf, len))
        return 0;
    return protocol_follows(buf, len, skim_end(buf, len, 0), NULL);
}

/* ---- storage table, filled from the main pickle's persistent ids ---- */

static uint64_t key_hash(const skey *k)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)k->kind;
    for (uint32_t i = 0; i < k->n; i++)
        h = (h ^ (uint8_t)k->p[i]) * 1099511628211ull;
    return h;
}

static int key_eq(const skey *a, const skey *b)
{
    return a->kind == b->kind && a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

/* A value as a key (copied into the arena); 0 for kinds torch's writer
 * never uses or for strings kept truncated. */
static int make_key(legacy *L, const value *v, skey *out)
{
    char num[24];
    const char *p = v->u.s;
    size_t n = v->len;
    if (v->kind == V_INT && !(v->flags & VF_BIGINT)) {
        n = (size_t)snprintf(num, sizeof(num), "%lld", (long long)v->u.i);
        p = num;
        out->kind = 'i';
    } else if ((v->kind == V_STR || v->kind == V_BYTES) && !(v->flags & VF_TRUNCATED)) {
        out->kind = v->kind == V_STR ? 's' : 'b';
    } else {
        return 0;
    }
    char *copy = arena_strndup(&L->mem, p, n);
    if (!copy)
        return 0;
    out->p = copy;
    out->n = (uint32_t)n;
    return 1;
}

static stor *find_slot(stor *tab, size_t cap, const skey *k)
{
    size_t i = (size_t)key_hash(k) & (cap - 1);
    while (tab[i].used && !key_eq(&tab[i].key, k))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static int grow_table(legacy *L)
{
    size_t cap = L->cap ? L->cap * 2 : 64;
    stor *tab = calloc(cap, sizeof(*tab));
    if (!tab)
        return 0;
    for (size_t i = 0; i < L->cap; i++)
        if (L->tab[i].used)
            *find_slot(tab, cap, &L->tab[i].key) = L->tab[i];
    free(L->tab);
    L->tab = tab;
    L->cap = cap;
    return 1;
}

static stor *lookup(legacy *L, const skey *k)
{
    if (!L->cap)
        return NULL;
    stor *s = find_slot(L->tab, L->cap, k);
    return s->used ? s : NULL;
}

/* Element size of a legacy storage class: torch maps the name alone
 * (whatever the module) to a dtype; 0 when it does not know it (the
 * torch_dtypes.c table, its legacy entries). Shared with tar_torch.c. */
uint32_t legacy_storage_elsize(const value *t)
{
    if (t->kind != V_GLOBAL)
        return 0;
    const gref *g = &t->u.n->u.g;
    const char *dot = memrchr(g->name, '.', g->name_len);
    const char *name = dot ? dot + 1 : g->name;
    size_t n = g->name_len - (size_t)(name - g->name);
    return torch_legacy_elsize(name, n);
}

static int is_tag(const value *v, const char *tag)
{
    size_t n = strlen(tag);
    return (v->kind == V_STR || v->kind == V_BYTES) && v->len == n && memcmp(v->u.s, tag, n) == 0;
}

static void remember_bad_type(legacy *L, const value *t)
{
    if (L->bad_types++ || t->kind != V_GLOBAL) {
        if (!L->bad_type[0])
            snprintf(L->bad_type, sizeof(L->bad_type), "%s", v_kind_name((vkind)t->kind));
        return;
    }
    snprintf(L->bad_type, sizeof(L->bad_type), "%s", t->u.n->u.g.resolved);
}

/* ('storage', storage_type, root_key, location, numel, view_metadata):
 * the first reference to a root key decides its type and size. */
/* 1 when the report holds a global-mutation finding. */
static int mutated_globals(const ckpt_report *r)
{
    for (size_t i = 0; i < r->nfindings; i++)
        if (r->findings[i].code == CKPT_F_GLOBAL_MUTATION)
            return 1;
    return 0;
}

/* ('module', container_type, source_file, source): with both source
 * fields set, torch's _check_container_source compares the source and,
 * when the class's dump_patches is set, appends a diff to
 * '<class __name__>.patch' (a name and content the stream can choose once
 * it has mutated the class). */
static void module_pid(legacy *L, const value *pid)
{
    const seq *s = &pid->u.n->u.s;
    if (s->count != 4 || s->kept < 4)
        return;
    const value *file = &s->items[2], *src = &s->items[3];
    int truthy = (file->kind == V_STR || file->kind == V_BYTES) && file->len > 0 &&
                 (src->kind == V_STR || src->kind == V_BYTES) && src->len > 0;
    if (!truthy || !mutated_globals(L->ctx->rep))
        return;
    ctx_finding(L->ctx, CKPT_F_FILE_ACCESS, L->member, 0,
                "a legacy 'module' persistent id with source after a global-state mutation: "
                "torch's source check writes '<class name>.patch' when the class's dump_patches "
                "is set");
}

static void on_persid(void *hctx, const value *pid)
{
    legacy *L = hctx;
    if (pid->kind == V_TUPLE && pid->u.n->u.s.kept >= 1 &&
        is_tag(&pid->u.n->u.s.items[0], "module")) {
        module_pid(L, pid);
        return;
    }
    if (pid->kind != V_TUPLE || pid->u.n->u.s.kept < 1 ||
        !is_tag(&pid->u.n->u.s.items[0], "storage"))
        return;
    const seq *s = &pid->u.n->u.s;
    skey k;
    if (s->count != 6 || s->kept < 6 || !make_key(L, &s->items[2], &k)) {
        L->bad_pids++;
        return;
    }
    uint32_t elsize = legacy_storage_elsize(&s->items[1]);
    if (!elsize)
        remember_bad_type(L, &s->items[1]);
    const value *numel = &s->items[4];
    int64_t n = numel->kind == V_INT && !(numel->flags & VF_BIGINT) ? numel->u.i : -1;
    stor *old = lookup(L, &k);
    if (old) {
        L->conflicts += old->elsize != elsize || old->numel != n;
        return;
    }
    if (L->count >= ctx_limit(L->ctx, CKPT_LIMIT_MEMBERS) ||
        ((L->count + 1) * 4 > L->cap * 3 && !grow_table(L))) {
        L->table_full = 1;
        return;
    }
    *find_slot(L->tab, L->cap, &k) = (stor){k, elsize, n, 0, 1};
    L->count++;
}

/* ---- what each STOP returned ---- */

static void keep_keys(legacy *L, const value *res)
{
    if (res->kind != V_LIST && res->kind != V_TUPLE) {
        L->keys_problem = "the key list (pickle 5) is not a list";
        return;
    }
    const seq *s = &res->u.n->u.s;
    if (s->count > s->kept) {
        L->keys_problem = "the key list (pickle 5) is longer than ckptscan keeps (max-members)";
        return;
    }
    L->keys = calloc(s->kept ? s->kept : 1, sizeof(*L->keys));
    if (!L->keys) {
        L->keys_problem = "out of memory for the key list";
        return;
    }
    for (uint32_t i = 0; i < s->kept; i++)
        if (!make_key(L, &s->items[i], &L->keys[L->nkeys++])) {
            L->keys_problem = "a key in pickle 5 is not a str, bytes or int";
            return;
        }
}

static void on_stop(void *hctx, const value *res)
{
    legacy *L = hctx;
    L->kind = res->kind;
    L->int_ok = res->kind == V_INT && !(res->flags & VF_BIGINT);
    L->int_val = res->u.i;
    if (L->want_keys)
        keep_keys(L, res);
}

/* ---- the five pickles ---- */

/* Pickle 5 may hold thousands of keys: scan it with room for all of them
 * (bounded by max-members) so the region can be checked exactly. */
static void scan_keys(legacy *L, const uint8_t *buf, size_t len, size_t pos, const pickle_hooks *h,
                      pickle_result *res)
{
    ckpt_scanner wide = *L->ctx->sc;
    uint64_t members = wide.limits[CKPT_LIMIT_MEMBERS];
    if (wide.limits[CKPT_LIMIT_ITEMS] < members)
        wide.limits[CKPT_LIMIT_ITEMS] = members;
    scan_ctx sub = *L->ctx;
    sub.sc = &wide;
    L->want_keys = 1;
    pickle_scan_one_hooked(&sub, L->member, buf, len, pos, h, res);
    L->want_keys = 0;
    /* the copyreg registry lives on in the caller's context */
    L->ctx->ext = sub.ext;
    L->ctx->next = sub.next;
    L->ctx->ext_cap = sub.ext_cap;
}

static void check_magic(legacy *L, int plain_magic)
{
    if (plain_magic)
        return;
    note(L, L->kind == V_CALL ? CKPT_F_ANOMALY : CKPT_F_ARCHIVE_ANOMALY, 0,
         "legacy torch file whose first pickle is not the plain magic-number constant (it "
         "returns %s%s%s): torch.load runs it before it compares the result with the magic",
         L->kind == V_CALL ? "the result of a call" : v_kind_article((vkind)L->kind),
         L->kind == V_CALL ? "" : " ", L->kind == V_CALL ? "" : v_kind_name((vkind)L->kind));
}

static void check_result(legacy *L, int i, size_t start)
{
    if (i == 1 && L->kind == V_CALL)
        note(L, CKPT_F_ANOMALY, start,
             "legacy torch file whose protocol version is computed by a call");
    else if (i == 1 && !(L->int_ok && L->int_val == LEGACY_PROTOCOL))
        note(L, CKPT_F_ARCHIVE_ANOMALY, start,
             "legacy torch protocol version is not %d: torch.load raises after running it",
             LEGACY_PROTOCOL);
    else if (i == 2 && L->kind != V_DICT)
        note(L, CKPT_F_ARCHIVE_ANOMALY, start,
             "legacy torch sys_info (pickle 3) is %s %s, not a dict",
             v_kind_article((vkind)L->kind), v_kind_name((vkind)L->kind));
}

static void check_storages(legacy *L, size_t start)
{
    if (L->bad_pids)
        note(L, CKPT_F_ARCHIVE_ANOMALY, start,
             "%zu storage persistent id(s) are not ('storage', type, key, location, numel, "
             "view): torch.load fails on them",
             L->bad_pids);
    if (L->bad_types)
        note(L, CKPT_F_ARCHIVE_ANOMALY, start,
             "%zu storage(s) have a type that is not a legacy storage class (first: %s): "
             "their element size is unknown",
             L->bad_types, L->bad_type);
    if (L->conflicts)
        note(L, CKPT_F_ARCHIVE_ANOMALY, start,
             "%zu persistent id(s) give an earlier storage key another type or size: "
             "torch keeps the first",
             L->conflicts);
    if (L->table_full)
        ctx_report_limit(L->ctx->rep, CKPT_LIMIT_MEMBERS, ctx_limit(L->ctx, CKPT_LIMIT_MEMBERS));
}

/* ---- the raw storage region ---- */

static const char *key_text(const skey *k, int *n)
{
    *n = k->n > KEY_SHOWN ? KEY_SHOWN : (int)k->n;
    return k->p;
}

/* One storage record at *pos: int64 element count, then its bytes. */
static int walk_one(legacy *L, const uint8_t *buf, size_t len, size_t *pos, const skey *k)
{
    int kn;
    const char *kt = key_text(k, &kn);
    stor *s = lookup(L, k);
    if (!s) {
        note(L, CKPT_F_ARCHIVE_ANOMALY, *pos,
             "storage key '%.*s' in pickle 5 is not a storage of the main pickle: torch.load "
             "fails here",
             kn, kt);
        return 0;
    }
    if (++s->reads == 2)
        note(L, CKPT_F_ARCHIVE_ANOMALY, *pos, "storage key '%.*s' is listed twice", kn, kt);
    if (!s->elsize) {
        note(L, CKPT_F_ARCHIVE_ANOMALY, *pos,
             "storage '%.*s' has an unknown type: its data cannot be skipped", kn, kt);
        return 0;
    }
    if (!range_fits(*pos, 8, len)) {
        note(L, CKPT_F_TRUNCATED, *pos, "the file ends before storage '%.*s'", kn, kt);
        return 0;
    }
    int64_t count = (int64_t)load_le64(buf + *pos);
    if (count != s->numel)
        note(L, CKPT_F_ARCHIVE_ANOMALY, *pos,
             "storage '%.*s' holds %lld elements but its persistent id says %lld: torch.load "
             "raises 'storage has wrong byte size'",
             kn, kt, (long long)count, (long long)s->numel);
    uint64_t nbytes;
    if (count < 0 || mul_overflows((uint64_t)count, s->elsize, &nbytes)) {
        note(L, CKPT_F_ARCHIVE_ANOMALY, *pos, "storage '%.*s' has an impossible element count", kn,
             kt);
        return 0;
    }
    *pos += 8;
    insp_where w = {*pos, nbytes, 0}; /* at the top level, buf is the file */
    insp_add_storage_record(L->ctx, k->p, k->n, nbytes, *L->member ? NULL : &w);
    if (!range_fits(*pos, nbytes, len)) {
        note(L, CKPT_F_TRUNCATED, *pos,
             "storage '%.*s' runs past the end of the file (%llu bytes, %zu left)", kn, kt,
             (unsigned long long)nbytes, len - *pos);
        return 0;
    }
    *pos += (size_t)nbytes; /* skipped by arithmetic: cost does not grow with tensor bytes */
    return 1;
}

static void check_unread(legacy *L, size_t pos)
{
    size_t unread = 0;
    for (size_t i = 0; i < L->cap; i++)
        unread += L->tab[i].used && !L->tab[i].reads;
    if (unread)
        note(L, CKPT_F_ARCHIVE_ANOMALY, pos,
             "%zu storage(s) of the main pickle have no data in the file", unread);
}

/* Bytes after the region: torch.load never reads them, other tools may. */
static void check_trailing(legacy *L, const uint8_t *buf, size_t len, size_t pos)
{
    if (pos >= len)
        return;
    note(L, CKPT_F_TRAILING_DATA, pos,
         "%zu bytes follow the storage region; torch.load never reads them", len - pos);
    if (!pickle_probe_prefix(L->ctx, buf + pos, len - pos))
        return;
    note(L, CKPT_F_EXTRA_PICKLE, pos, "the bytes after the storage region are a pickle: scanned");
    pickle_scan_all_hooked(L->ctx, L->member, buf, len, pos, 1, NULL);
}

static void walk_region(legacy *L, const uint8_t *buf, size_t len, size_t pos)
{
    if (L->keys_problem) {
        note(L, CKPT_F_ARCHIVE_ANOMALY, pos, "%s: the storage region cannot be checked",
             L->keys_problem);
        /* torch.load stops there; pickle.load called again reads on */
        if (pos < len && opcode_table[buf[pos]].name)
            pickle_scan_all_hooked(L->ctx, L->member, buf, len, pos, 1, NULL);
        return;
    }
    for (size_t i = 0; i < L->nkeys; i++)
        if (!walk_one(L, buf, len, &pos, &L->keys[i]))
            return;
    check_unread(L, pos);
    check_trailing(L, buf, len, pos);
}

/* A pickle that did not complete: torch.load stops there. Pickles the
 * other unpicklers might still find after it are scanned best-effort. */
static void after_failure(legacy *L, const uint8_t *buf, size_t len, int i, size_t start)
{
    size_t next = skim_end(buf, len, start);
    note(L, CKPT_F_ARCHIVE_ANOMALY, start,
         "legacy torch pickle %d does not complete: torch.load stops there%s", i + 1,
         next < len ? "; the pickles after it were scanned too" : "");
    if (next < len && opcode_table[buf[next]].name)
        pickle_scan_all_hooked(L->ctx, L->member, buf, len, next, 1, NULL);
}

static void release(legacy *L)
{
    arena_release(&L->mem);
    free(L->tab);
    free(L->keys);
}

int read_torch_legacy_at(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                         size_t end1)
{
    int plain_magic;
    if (!looks_legacy(buf, len, end1, &plain_magic))
        return 0;
    legacy L;
    memset(&L, 0, sizeof(L));
    L.ctx = ctx;
    L.member = member;
    arena_init(&L.mem, ctx_limit(ctx, CKPT_LIMIT_MEMORY));
    insp_set_layout(ctx, "legacy");
    const pickle_hooks plain = {.on_stop = on_stop, .hctx = &L};
    const pickle_hooks main_obj = {.on_persid = on_persid, .on_stop = on_stop, .hctx = &L};
    size_t pos = 0;
    for (int i = 0; i < 5; i++) {
        pickle_result res;
        L.kind = V_EMPTY;
        if (i == 3)
            insp_expect_main(ctx, pos);
        if (i == 4)
            scan_keys(&L, buf, len, pos, &plain, &res);
        else
            pickle_scan_one_hooked(ctx, member, buf, len, pos, i == 3 ? &main_obj : &plain, &res);
        if (i == 3)
            check_storages(&L, pos);
        if (!res.complete) {
            after_failure(&L, buf, len, i, pos);
            release(&L);
            return 1;
        }
        if (i == 0)
            check_magic(&L, plain_magic);
        check_result(&L, i, pos);
        /* torch reads from a buffered file: the next load() starts at STOP
         * + 1 when peek() served the frame, at the frame's end otherwise */
        pickle_scan_frame_chain(ctx, member, buf, len, &res, 1, NULL);
        pos = res.end;
    }
    walk_region(&L, buf, len, pos);
    release(&L);
    return 1;
}
