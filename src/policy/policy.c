/* SPDX-License-Identifier: Apache-2.0 */
/* The import policy object: built-in and user rules, profiles, and the
 * classification of a global as allowed, denied (with a category) or unknown. */
#include "policy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "policy_internal.h"
#include "policy_tables.h"
#include "util.h"

/* Rule texts and user keys; a policy file is at most a few MiB. */
#define POLICY_MEMORY_CAP ((uint64_t)1 << 30)
/* Bytes of a path kept for matching: the longest key plus the '.' after it. */
#define PATH_KEEP (POLICY_NAME_MAX + 2)

/* A rule's string: a pointer for rules added at run time; for the built-in
 * rules an offset into builtin_text, which keeps their table (gen_rules.c)
 * free of pointers: nothing of it is relocated when a process starts. */
typedef union rstr {
    const char *ptr;
    uint32_t off;
} rstr;

/* gen_rules.c writes the built-in rules in this field order. */
typedef struct rule {
    rstr key;   /* fixed part, not terminated: "os" for "os.*" */
    rstr text;  /* "deny os.*", handed out as name_class.rule */
    size_t seq; /* insertion order: the later rule wins a full tie */
    uint32_t len;
    ckpt_code code;
    unsigned char deny, prefix, depth, user;
    unsigned char builtin; /* key and text are offsets into builtin_text */
} rule;

/* Rules are kept sorted by key, so all rules for one dotted prefix of a
 * name are found with one binary search, and keys sharing a prefix are
 * contiguous (which lets a walk stop as soon as no key continues). */
struct policy {
    arena mem;
    const rule *rules; /* builtin_rules until a rule is added, then own */
    rule *own;
    size_t count, cap;
    size_t seq;
    size_t max_key;    /* longest key, bounds what a path copy must keep */
    unsigned profiles; /* bit i: built-in profile i already added */
};

/* The denylist then the default profile, sorted at build time (builtin_rules,
 * their strings builtin_text, BUILTIN_MAX_KEY): what policy_new starts from
 * without copying. */
#include "policy_rules.inc"

static const char *rule_key(const rule *r)
{
    return r->builtin ? builtin_text + r->key.off : r->key.ptr;
}

static const char *rule_text_of(const rule *r)
{
    return r->builtin ? builtin_text + r->text.off : r->text.ptr;
}

/* ---- Building ------------------------------------------------------------ */

/* Room for `extra` more rules in p->own (a copy of the built-in rules the
 * first time). */
static int reserve(policy *p, size_t extra)
{
    if (extra > SIZE_MAX / sizeof(rule) - p->count)
        return -2;
    size_t need = p->count + extra;
    if (need <= p->cap && p->own)
        return 0;
    size_t cap = p->cap > 64 ? p->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / sizeof(rule) / 2 ? need : cap * 2;
    rule *v = realloc(p->own, cap * sizeof(*v));
    if (!v)
        return -2;
    if (!p->own && p->count)
        memcpy(v, p->rules, p->count * sizeof(*v));
    p->rules = p->own = v;
    p->cap = cap;
    return 0;
}

/* "deny " + pattern (+ " (policy)" for user entries), in the arena. */
static const char *rule_text(policy *p, const char *pattern, size_t n, int deny, int user)
{
    const char *head = deny ? "deny " : "allow ";
    const char *tail = user ? " (policy)" : "";
    size_t hn = strlen(head), tn = strlen(tail);
    char *t = arena_alloc(&p->mem, hn + n + tn + 1); /* n <= POLICY_NAME_MAX */
    if (t) {
        memcpy(t, head, hn);
        memcpy(t + hn, pattern, n);
        memcpy(t + hn + n, tail, tn + 1);
    }
    return t;
}

/* Fills *r from a validated pattern. Built-in patterns are static and used in
 * place; user patterns live in the caller's text and are copied. */
static int make_rule(policy *p, rule *r, const char *pattern, size_t n, int deny, int user)
{
    memset(r, 0, sizeof(*r));
    r->prefix = n > 2 && memcmp(pattern + n - 2, ".*", 2) == 0;
    r->len = (uint32_t)(r->prefix ? n - 2 : n); /* n <= POLICY_NAME_MAX */
    r->key.ptr = user ? arena_strndup(&p->mem, pattern, r->len) : pattern;
    r->text.ptr = rule_text(p, pattern, n, deny, user);
    r->deny = (unsigned char)deny;
    r->user = (unsigned char)user;
    return r->key.ptr && r->text.ptr ? 0 : -2;
}

static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int rule_order(const void *x, const void *y)
{
    const rule *a = x, *b = y;
    int c = key_cmp(rule_key(a), a->len, rule_key(b), b->len);
    if (c)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Makes the `added` rules staged after `count` live. Only called once every
 * staged rule is complete, so a failed add leaves the policy as it was. */
static void commit(policy *p, size_t added)
{
    for (size_t i = p->count; i < p->count + added; i++) {
        p->own[i].seq = p->seq++;
        if (p->own[i].len > p->max_key)
            p->max_key = p->own[i].len;
    }
    p->count += added;
    qsort(p->own, p->count, sizeof(rule), rule_order);
}

/* Stages built-in entries at rules[count + *at ...]; advances *at. */
static int stage_entries(policy *p, const policy_entry *e, size_t n, int deny, size_t *at)
{
    for (size_t i = 0; i < n; i++, (*at)++) {
        rule *r = &p->own[p->count + *at];
        if (make_rule(p, r, e[i].pattern, strlen(e[i].pattern), deny, 0) != 0)
            return -2;
        r->code = e[i].code;
        r->depth = e[i].depth;
    }
    return 0;
}

static int add_profile(policy *p, int index)
{
    size_t n, at = 0;
    const policy_entry *e = policy_table_profile(index, &n);
    if (p->profiles & (1u << index))
        return 0;
    if (reserve(p, n) != 0 || stage_entries(p, e, n, 0, &at) != 0)
        return -2;
    commit(p, at);
    p->profiles |= 1u << index;
    return 0;
}

policy *policy_new(void)
{
    policy *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    arena_init(&p->mem, POLICY_MEMORY_CAP);
    p->rules = builtin_rules;
    p->count = p->seq = ARRAY_LEN(builtin_rules);
    p->max_key = BUILTIN_MAX_KEY;
    p->profiles = 1u; /* the default profile */
    return p;
}

void policy_free(policy *p)
{
    if (!p)
        return;
    arena_release(&p->mem);
    free(p->own);
    free(p);
}

int policy_use_profile(policy *p, const char *name)
{
    if (!p || !name)
        return -1;
    int index = policy_table_profile_index(name, strlen(name));
    if (index < 0)
        return -1;
    return add_profile(p, index);
}

/* Rules a parsed text will add; profiles already on (or named twice) add
 * nothing. */
static size_t text_rule_count(const policy *p, const policy_lines *l)
{
    size_t n = 0;
    unsigned seen = p->profiles;
    for (size_t i = 0; i < l->n; i++) {
        size_t k = 1;
        if (l->v[i].kind == PL_PROFILE) {
            k = 0;
            if (!(seen & (1u << l->v[i].profile)))
                policy_table_profile(l->v[i].profile, &k);
            seen |= 1u << l->v[i].profile;
        }
        n += k;
    }
    return n;
}

/* Stages every entry of the parsed text; *mask gets the profiles added. */
static int stage_text(policy *p, const policy_lines *l, size_t *at, unsigned *mask)
{
    for (size_t i = 0; i < l->n; i++) {
        const policy_line *ln = &l->v[i];
        if (ln->kind == PL_PROFILE) {
            size_t n;
            const policy_entry *e = policy_table_profile(ln->profile, &n);
            if ((p->profiles | *mask) & (1u << ln->profile))
                continue;
            *mask |= 1u << ln->profile;
            if (stage_entries(p, e, n, 0, at) != 0)
                return -2;
            continue;
        }
        rule *r = &p->own[p->count + (*at)++];
        if (make_rule(p, r, ln->name, ln->len, ln->kind == PL_DENY, 1) != 0)
            return -2;
        r->code = ln->code;
    }
    return 0;
}

int policy_add_text(policy *p, const char *text, size_t len, size_t *error_line)
{
    policy_lines lines = {0};
    size_t at = 0;
    unsigned mask = 0;
    if (error_line)
        *error_line = 0;
    if (!p || (!text && len))
        return -1; /* a caller bug, reported at "line 0" */
    int rc = policy_parse_text(text ? text : "", len, &lines, error_line);
    if (rc == 0 && reserve(p, text_rule_count(p, &lines)) != 0)
        rc = -2;
    if (rc == 0)
        rc = stage_text(p, &lines, &at, &mask);
    if (rc == 0) {
        commit(p, at);
        p->profiles |= mask;
    }
    policy_lines_free(&lines);
    return rc;
}

/* ---- Matching --------------------------------------------------------------
 * A path is a dotted string; its prefixes C_1, C_2, ... end before each '.'
 * (and at its end). Rules whose key equals some C_k are "hit" at depth k. */

typedef struct path {
    const char *s;
    size_t len;
    int complete; /* 0: cut at a copy limit, the last component is partial */
} path;

/* The best deny hit so far: deeper (more specific) wins; then a later
 * starting point (the target an attribute walk really reaches); then the
 * name as written over an alias; then user, exact, and later rules. */
typedef struct hit {
    const rule *r;
    size_t k, start;
    int aliased;
} hit;

typedef struct walk_ctx {
    size_t start;
    int aliased;
    int nest_only; /* a module suffix: only deserialisers match (vendored copies) */
    hit *best;
    hit *user; /* the best user deny hit (a user deny also stops call-through grading) */
    /* allow walk: the full name, for the part after a prefix key */
    const char *module, *qualname;
    size_t path_len;
    int complete;
    const rule *allow;
} walk_ctx;

static size_t lower_bound(const policy *p, const char *s, size_t n)
{
    size_t lo = 0, hi = p->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(rule_key(&p->rules[mid]), p->rules[mid].len, s, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* 1 when some key starts with s[0..n) (n includes the trailing '.'). */
static int has_key_prefix(const policy *p, const char *s, size_t n)
{
    size_t i = lower_bound(p, s, n);
    return i < p->count && p->rules[i].len >= n && memcmp(rule_key(&p->rules[i]), s, n) == 0;
}

static int better(const hit *b, const rule *r, size_t k, const walk_ctx *c)
{
    if (!b->r)
        return 1;
    if (k != b->k)
        return k > b->k;
    if (c->start != b->start)
        return c->start > b->start;
    if (c->aliased != b->aliased)
        return !c->aliased;
    if (r->user != b->r->user)
        return r->user;
    if (r->prefix != b->r->prefix)
        return !r->prefix;
    return r->seq > b->r->seq;
}

typedef void (*visit_fn)(const rule *r, size_t k, size_t end, walk_ctx *c);

/* Visits every rule whose key is a dotted prefix of the path. Stops early
 * once no key continues the current prefix, so a hostile name with
 * thousands of components costs a few binary searches, not thousands. */
static void walk(const policy *p, const path *pt, visit_fn visit, walk_ctx *c)
{
    size_t k = 0;
    for (size_t i = 0; i <= pt->len; i++) {
        if (i < pt->len && pt->s[i] != '.')
            continue;
        if (i == pt->len && !pt->complete)
            return;
        k++;
        for (size_t j = lower_bound(p, pt->s, i);
             j < p->count && key_cmp(rule_key(&p->rules[j]), p->rules[j].len, pt->s, i) == 0; j++)
            visit(&p->rules[j], k, i, c);
        if (i == pt->len || !has_key_prefix(p, pt->s, i + 1))
            return;
    }
}

static void visit_deny(const rule *r, size_t k, size_t end, walk_ctx *c)
{
    (void)end;
    if (c->nest_only && r->code != CKPT_F_NESTED_LOAD)
        return;
    if (r->deny && better(c->best, r, k, c))
        *c->best = (hit){r, k, c->start, c->aliased};
    if (r->deny && r->user && better(c->user, r, k, c))
        *c->user = (hit){r, k, c->start, c->aliased};
}

/* ---- Path building ------------------------------------------------------- */

/* A path copy on the stack: classification never allocates, so it cannot
 * fail for lack of memory. */
typedef struct pathbuf {
    char buf[PATH_KEEP];
    size_t cap, len;
    int complete;
} pathbuf;

static void pb_add(pathbuf *b, const char *s, size_t n)
{
    size_t room = b->cap - b->len;
    if (n > room) {
        n = room;
        b->complete = 0;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

static path pb_path(const pathbuf *b)
{
    return (path){b->buf, b->len, b->complete};
}

/* module + "." + qualname, with the module's root replaced when `alias`. */
static path full_path(pathbuf *b, const char *alias, const char *module, const char *qualname)
{
    size_t root = alias ? strcspn(module, ".") : 0;
    b->len = 0;
    b->complete = 1;
    if (alias)
        pb_add(b, alias, strlen(alias));
    pb_add(b, module + root, strlen(module + root));
    pb_add(b, ".", 1);
    pb_add(b, qualname, strlen(qualname));
    return pb_path(b);
}

static int is_dunder(const char *s, size_t n)
{
    return n >= 5 && s[0] == '_' && s[1] == '_' && s[n - 1] == '_' && s[n - 2] == '_';
}

static int has_dunder(const char *s)
{
    for (;;) {
        size_t n = strcspn(s, ".");
        if (is_dunder(s, n))
            return 1;
        if (!s[n])
            return 0;
        s += n + 1;
    }
}

/* ---- Deny search ---------------------------------------------------------- */

/* The qualname suffix starting at `off`, checked as written and with its
 * root aliased. Only suffixes of two or more components count: a bare
 * module object reached by a walk cannot be called, an attribute of it can. */
static void deny_suffix(const policy *p, const char *q, size_t qlen, size_t off, walk_ctx *c)
{
    path raw = {q + off, qlen - off, 1};
    size_t root = strcspn(q + off, ".");
    c->start = off + 1;
    c->aliased = 0;
    walk(p, &raw, visit_deny, c);
    const char *alias = policy_table_alias(q + off, root);
    if (!alias)
        return;
    /* Only the first max_key + 2 bytes can take part in a match. */
    pathbuf b;
    b.cap = p->max_key + 2 < PATH_KEEP ? p->max_key + 2 : PATH_KEEP;
    b.len = 0;
    b.complete = 1;
    pb_add(&b, alias, strlen(alias));
    pb_add(&b, q + off + root, qlen - off - root);
    path al = pb_path(&b);
    c->aliased = 1;
    walk(p, &al, visit_deny, c);
}

/* Vendored copies of a deserialiser (joblib.externals.cloudpickle.loads is
 * cloudpickle.loads): every suffix of the module, from a later component,
 * joined to the qualname, is checked against the deserialiser entries;
 * private submodules (a leading '_') are left out. */
static void module_suffixes(const policy *p, const char *module, const char *qualname, walk_ctx *c)
{
    pathbuf b;
    b.cap = PATH_KEEP;
    for (const char *dot = strchr(module, '.'); dot; dot = strchr(dot + 1, '.')) {
        if (dot[1] == '_')
            continue; /* a private submodule (numpy.random._pickle) is no vendored copy */
        path sub = full_path(&b, NULL, dot + 1, qualname);
        c->start = 0;
        c->aliased = 0;
        c->nest_only = 1;
        walk(p, &sub, visit_deny, c);
        c->nest_only = 0;
    }
}

static void deny_search(const policy *p, const char *module, const char *qualname, hit *best,
                        hit *user)
{
    pathbuf b;
    b.cap = PATH_KEEP;
    walk_ctx c = {.best = best, .user = user};
    path full = full_path(&b, NULL, module, qualname);
    walk(p, &full, visit_deny, &c);
    const char *alias = policy_table_alias(module, strcspn(module, "."));
    if (alias) {
        full = full_path(&b, alias, module, qualname);
        c.aliased = 1;
        walk(p, &full, visit_deny, &c);
    }
    module_suffixes(p, module, qualname, &c);
    size_t qlen = strlen(qualname);
    for (size_t off = 0; off < qlen;) {
        const char *dot = memchr(qualname + off, '.', qlen - off);
        if (!dot)
            break;
        deny_suffix(p, qualname, qlen, off, &c);
        off = (size_t)(dot - qualname) + 1;
    }
}

/* ---- Allow search ---------------------------------------------------------- */

/* Byte i of module + "." + qualname without building it. */
static char full_at(const walk_ctx *c, size_t mlen, size_t i)
{
    if (i == mlen)
        return '.';
    if (i < mlen)
        return c->module[i];
    return c->qualname[i - mlen - 1];
}

/* The components after a prefix key ending at `end`: at most `depth` of
 * them (0 = any) and no dunder, so `torch.optim.*` never reaches
 * `torch.optim.SGD.__init__.__globals__`. */
static int tail_ok(const walk_ctx *c, size_t end, unsigned depth)
{
    size_t mlen = strlen(c->module), total = mlen + 1 + strlen(c->qualname);
    size_t parts = 0;
    for (size_t i = end + 1; i <= total;) {
        size_t j = i;
        while (j < total && full_at(c, mlen, j) != '.')
            j++;
        parts++;
        if (j - i >= 5 && full_at(c, mlen, i) == '_' && full_at(c, mlen, i + 1) == '_' &&
            full_at(c, mlen, j - 1) == '_' && full_at(c, mlen, j - 2) == '_')
            return 0;
        if (depth && parts > depth)
            return 0;
        i = j + 1;
    }
    return 1;
}

static void visit_allow(const rule *r, size_t k, size_t end, walk_ctx *c)
{
    (void)k;
    if (r->deny || c->allow)
        return;
    int exact = !r->prefix && end == c->path_len && c->complete;
    if (exact || (r->prefix && end < c->path_len && tail_ok(c, end, r->depth)))
        c->allow = r;
}

/* Allow entries match the name exactly as given (after the caller's
 * _compat_pickle mapping): no aliases, no suffixes. */
static const rule *allow_search(const policy *p, const char *module, const char *qualname)
{
    pathbuf b;
    b.cap = PATH_KEEP;
    path full = full_path(&b, NULL, module, qualname);
    walk_ctx c = {.module = module, .qualname = qualname};
    c.path_len = full.len;
    c.complete = full.complete;
    walk(p, &full, visit_allow, &c);
    return c.allow;
}

/* 1 when a module below the top level is named __main__: importing a
 * package's __main__ runs its command-line program (unittest.__main__
 * discovers and imports test files in the working directory). The
 * script's own classes (__main__.Net) are not this. */
static int main_submodule(const char *module)
{
    for (const char *s = strstr(module, ".__main__"); s; s = strstr(s + 1, ".__main__"))
        if (s[9] == '\0' || s[9] == '.')
            return 1;
    return 0;
}

void policy_classify(const policy *p, const char *module, const char *qualname, name_class *out)
{
    hit best = {0}, user = {0};
    out->allowed = 0;
    out->code = CKPT_F_UNKNOWN_IMPORT;
    out->rule = "not on the allowlist";
    out->user_rule = NULL;
    if (!p)
        return;
    module = module ? module : "";
    qualname = qualname ? qualname : "";
    deny_search(p, module, qualname, &best, &user);
    out->user_rule = user.r ? rule_text_of(user.r) : NULL;
    /* an exempt name is allowed only where an allow entry names it (dill's
     * _load_type needs the dill profile) */
    if (best.r && !best.r->user && policy_table_exempt(module, qualname) && !has_dunder(qualname) &&
        allow_search(p, module, qualname))
        best.r = NULL;
    if (best.r) {
        out->code = best.r->code;
        out->rule = rule_text_of(best.r);
        return;
    }
    if (main_submodule(module)) {
        out->code = CKPT_F_EXEC;
        out->rule = "deny *.__main__ (importing it runs the package's program)";
        return;
    }
    /* No pickler writes a dunder into a qualname: it is a walk to
     * __globals__, __builtins__, __subclasses__ and the like. */
    if (has_dunder(qualname)) {
        out->code = CKPT_F_SHADOWED_DUNDER;
        out->rule = "deny dunder attribute in the qualname";
        return;
    }
    const rule *a = allow_search(p, module, qualname);
    if (a) {
        out->allowed = 1;
        out->rule = rule_text_of(a);
    }
}

int policy_write_rules(const policy *p, int (*write)(void *, const char *, size_t), void *ctx)
{
    char line[POLICY_NAME_MAX + 96];
    for (size_t i = 0; p && i < p->count; i++) {
        const rule *r = &p->rules[i];
        int n = snprintf(line, sizeof(line), "rule %s code=%d depth=%u\n", rule_text_of(r),
                         (int)r->code, (unsigned)r->depth);
        size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
        if (write(ctx, line, len) != 0)
            return -1;
    }
    return 0;
}
