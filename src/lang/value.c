/* value.c - the evaluator's memory: the bump arena every evaluator object comes from, the
 * symbol table, the position table, and constructors for values, environments and sets.
 * Never frees an individual object: everything goes when the state is freed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "lang/internal.h"

/* Chunks are populated when mapped: evaluation touches fresh memory linearly, and taking
 * one page fault per 4 KiB page was a fifth of the time of set-heavy programs. A 4 MiB chunk
 * asks for transparent huge pages first (the kernel aligns such a mapping to 2 MiB): filling
 * two 2 MiB pages instead of 1024 small ones took 10-30% off the CPU time of the programs of
 * tests/bench/lang.sh, at the same peak RSS, since every chunk is filled anyway
 * (docs/language.md, "Start-up"). Where the kernel has no huge pages the advice is ignored. */
#define CHUNK_SIZE (4u << 20)
/* A state's first chunk is smaller: populating (and at exit unmapping) a whole 4 MiB chunk
 * was a quarter of the CPU time of `flakectl eval --expr 1`, which uses a few hundred KiB
 * (docs/language.md, "Start-up"). Every later chunk is CHUNK_SIZE. */
#define FIRST_CHUNK_SIZE (512u << 10)

/* Huge pages, then every page faulted in now; 0 when memory ran out. The small first chunk
 * is left to fault in page by page: a short evaluation touches a fraction of it. */
static int chunk_populate(void *p, size_t bytes) {
    if (bytes < CHUNK_SIZE)
        return 1;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
    if (madvise(p, bytes, MADV_POPULATE_WRITE) == 0)
        return 1;
    if (errno != EINVAL) /* ENOMEM: as MAP_POPULATE's mmap would have failed */
        return 0;
#endif
    /* kernels before 5.14: the pages fault in as they are first used */
    return 1;
}

static ArenaChunk *chunk_alloc(Arena *a, size_t bytes) {
    if (a->limit && (bytes > a->limit || a->total > a->limit - bytes))
        lang_arena_out_of_memory(a, bytes);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED && !chunk_populate(p, bytes)) {
        munmap(p, bytes);
        p = MAP_FAILED;
    }
    if (p == MAP_FAILED) {
        lang_arena_out_of_memory(a, bytes);
        /* outside an evaluation: no error can be returned from here (the builders of lang.h
         * return values, not errors), so the state's sink hears why before the abort */
        lang_arena_abort(a, bytes);
    }
    return p;
}

size_t lang_arena_budget(const Arena *a) {
    return !a->limit ? SIZE_MAX : a->total >= a->limit ? 0 : a->limit - a->total;
}

void lang_arena_init(Arena *a) {
    memset(a, 0, sizeof(*a));
}

static void chunks_unmap(ArenaChunk *c, ArenaChunk *stop) {
    while (c != stop) {
        ArenaChunk *next = c->next;
        arena_unpoison(c, c->size + sizeof(ArenaChunk));
        munmap(c, c->size + sizeof(ArenaChunk));
        c = next;
    }
}

void lang_arena_release(Arena *a) {
    chunks_unmap(a->chunks, NULL);
    chunks_unmap(a->big, NULL);
    chunks_unmap(a->spare, NULL);
    memset(a, 0, sizeof(*a));
}

void *lang_arena_alloc_slow(Arena *a, size_t n) {
    if (n > CHUNK_SIZE / 4) {
        /* Big blocks get a chunk of their own so the rest of the current chunk stays in use. */
        ArenaChunk *c = chunk_alloc(a, sizeof(ArenaChunk) + n);
        c->size = n;
        c->seq = ++a->seq;
        a->total += n;
        c->next = a->big;
        a->big = c;
        return c->data;
    }
    ArenaChunk *c = NULL;
    size_t spare = a->spare ? a->spare->size + sizeof(ArenaChunk) : 0;
    if (a->spare && n <= a->spare->size &&
        (!a->limit || (spare <= a->limit && a->total <= a->limit - spare))) {
        c = a->spare;
        a->spare = NULL;
    } else {
        size_t bytes = a->chunks || a->big ? CHUNK_SIZE : FIRST_CHUNK_SIZE;
        if (n > bytes - sizeof(ArenaChunk))
            bytes = CHUNK_SIZE;
        c = chunk_alloc(a, bytes);
        c->size = bytes - sizeof(ArenaChunk);
    }
    c->seq = ++a->seq;
    c->next = a->chunks;
    a->chunks = c;
    a->total += c->size + sizeof(ArenaChunk);
    a->cur = c->data + n;
    a->end = c->data + c->size;
    arena_unpoison(c->data, n);
    return c->data;
}

/* ---- regions ---- */

void lang_region_begin(State *S) {
    if (S->nregions == S->capregions) {
        S->capregions = S->capregions ? S->capregions * 2 : 16;
        S->regions = fl_xrealloc(S->regions, S->capregions * sizeof(Region));
    }
    Arena *a = &S->arena;
    Region *r = &S->regions[S->nregions++];
    r->chunk = a->chunks;
    r->big = a->big;
    r->cur = a->cur;
    r->end = a->end;
    r->total = a->total;
    r->sym_bytes = S->syms.bytes;
    r->seq = a->seq;
    r->dirty = 0;
    S->nclean++;
}

/* Whether p is memory allocated since r's mark. */
static int region_has(const Arena *a, const Region *r, const void *p) {
    const char *q = p;
    if (q >= r->cur && q < r->end)
        return 1;
    for (const ArenaChunk *c = a->chunks; c && c->seq > r->seq; c = c->next)
        if (q >= c->data && q < c->data + c->size)
            return 1;
    for (const ArenaChunk *c = a->big; c && c->seq > r->seq; c = c->next)
        if (q >= c->data && q < c->data + c->size)
            return 1;
    return 0;
}

int lang_region_owns(State *S, const void *p) {
    return S->nregions && region_has(&S->arena, &S->regions[S->nregions - 1], p);
}

int lang_region_range(State *S, const char **lo, const char **hi) {
    const Region *r = &S->regions[S->nregions - 1];
    const Arena *a = &S->arena;
    if (a->chunks != r->chunk || a->big != r->big)
        return 0;
    *lo = r->cur;
    *hi = a->cur;
    return 1;
}

static int value_points_into(const Arena *a, const Region *r, const Value *v) {
    switch (v->type) {
    case V_STRING:
    case V_PATH:
        return region_has(a, r, v->str.s) || (v->str.ctx && region_has(a, r, v->str.ctx));
    case V_ATTRS:
        return region_has(a, r, v->attrs);
    case V_LIST:
        return region_has(a, r, v->elems);
    case V_LAMBDA:
        return region_has(a, r, v->lambda.env) || region_has(a, r, v->lambda.fn);
    case V_PRIMOP:
        return region_has(a, r, v->primop);
    case V_NULL:
    case V_BOOL:
    case V_INT:
    case V_FLOAT:
    case V_READY:
        return 0;
    default: /* applications, thunks: two pointers */
        return region_has(a, r, v->app.left) || region_has(a, r, v->app.right);
    }
}

void lang_region_barrier(State *S, const Value *v) {
    if (v->type >= V_NULL && v->type <= V_FLOAT)
        return;
    for (uint32_t i = S->nregions; i-- > 0 && S->nclean;) {
        Region *r = &S->regions[i];
        if (region_has(&S->arena, r, v))
            return; /* v is the region's own (and so every outer region's) */
        if (!r->dirty && value_points_into(&S->arena, r, v)) {
            r->dirty = 1;
            S->nclean--;
        }
    }
}

void lang_regions_recount(State *S) {
    S->nclean = 0;
    for (uint32_t i = 0; i < S->nregions; i++)
        S->nclean += !S->regions[i].dirty;
}

int lang_region_end(State *S, int release) {
    Region *r = &S->regions[--S->nregions];
    if (!r->dirty)
        S->nclean--;
    if (!release || r->dirty)
        return 0;
    Arena *a = &S->arena;
    /* the sorted-by-name cache may remember a set or an order that is about to go */
    for (int i = 0; i < 2; i++)
        if (S->byname_set[i] &&
            (region_has(a, r, S->byname_set[i]) || region_has(a, r, S->byname[i]))) {
            S->byname_set[i] = NULL;
            S->byname[i] = NULL;
        }
    /* the chunks made since the mark: one stays mapped for the next step */
    ArenaChunk *c = a->chunks;
    while (c != r->chunk) {
        ArenaChunk *next = c->next;
        if (!a->spare) {
            c->next = NULL;
            arena_poison(c->data, c->size);
            a->spare = c;
        } else {
            chunks_unmap(c, next);
        }
        c = next;
    }
    chunks_unmap(a->big, r->big);
    a->chunks = r->chunk;
    a->big = r->big;
    if (r->cur)
        arena_poison(r->cur, (size_t)(r->end - r->cur));
    a->cur = r->cur;
    a->end = r->end;
    a->total = r->total + (S->syms.bytes - r->sym_bytes); /* names stay */
    return 1;
}

void *lang_arena_zalloc(Arena *a, size_t n) {
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *lang_arena_strndup(Arena *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void lang_astr_init(State *S, AStr *s, size_t hint) {
    s->cap = hint < 16 ? 16 : hint;
    s->buf = arena_alloc(&S->arena, s->cap);
    s->len = 0;
    s->buf[0] = '\0';
}

static void astr_grow(State *S, AStr *s, size_t extra) {
    if (s->len + extra + 1 <= s->cap)
        return;
    size_t ncap = s->cap * 2;
    while (ncap < s->len + extra + 1)
        ncap *= 2;
    char *nb = arena_alloc(&S->arena, ncap);
    memcpy(nb, s->buf, s->len + 1);
    s->buf = nb;
    s->cap = ncap;
}

void lang_astr_add(State *S, AStr *s, const char *p, size_t n) {
    astr_grow(S, s, n);
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

void lang_astr_addch(State *S, AStr *s, char c) {
    astr_grow(S, s, 1);
    s->buf[s->len++] = c;
    s->buf[s->len] = '\0';
}

static void astr_vaddf(State *S, AStr *s, const char *fmt, va_list ap) {
    va_list again;
    va_copy(again, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < (int)sizeof small) {
        lang_astr_add(S, s, small, (size_t)n);
    } else {
        astr_grow(S, s, (size_t)n);
        vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, again);
        s->len += (size_t)n;
    }
    va_end(again);
}

void lang_astr_addf(State *S, AStr *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    astr_vaddf(S, s, fmt, ap);
    va_end(ap);
}

char *lang_arena_printf(State *S, const char *fmt, ...) {
    AStr s;
    lang_astr_init(S, &s, 128);
    va_list ap;
    va_start(ap, fmt);
    astr_vaddf(S, &s, fmt, ap);
    va_end(ap);
    return s.buf;
}

/* ---- symbols ---- */

uint32_t lang_hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static void symtab_rehash(SymTab *t) {
    uint32_t nslots = t->nslots ? t->nslots * 2 : 1024;
    uint32_t *slots = fl_xcalloc(nslots, sizeof(uint32_t));
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t h = t->info[id].hash & (nslots - 1);
        while (slots[h])
            h = (h + 1) & (nslots - 1);
        slots[h] = id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
}

static const char *sym_store_name(State *S, const char *s, size_t len) {
    SymTab *t = &S->syms;
    NameBlock *b = t->blocks;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > 65536 ? len + 1 : 65536;
        Arena *a = &S->arena;
        if (a->limit && (cap > a->limit || a->total > a->limit - cap))
            lang_arena_out_of_memory(a, cap);
        b = fl_xmalloc(sizeof *b + cap);
        b->next = t->blocks;
        b->used = 0;
        b->cap = cap;
        t->blocks = b;
        t->bytes += cap;
        a->total += cap;
    }
    char *p = b->data + b->used;
    memcpy(p, s, len);
    p[len] = '\0';
    b->used += len + 1;
    return p;
}

void lang_symtab_release(SymTab *t) {
    for (NameBlock *b = t->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(t->info);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

Sym lang_sym_intern(State *S, const char *s, size_t len) {
    SymTab *t = &S->syms;
    if (t->n * 2 >= t->nslots)
        symtab_rehash(t);
    uint32_t full = lang_hash_bytes(s, len);
    uint32_t h = full & (t->nslots - 1);
    for (;;) {
        uint32_t id = t->slots[h];
        if (!id)
            break;
        id--;
        const SymInfo *si = &t->info[id];
        if (si->hash == full && si->len == len && memcmp(si->name, s, len) == 0)
            return id;
        h = (h + 1) & (t->nslots - 1);
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->info = fl_xrealloc(t->info, t->cap * sizeof(SymInfo));
    }
    t->info[t->n].hash = full;
    t->info[t->n].name = sym_store_name(S, s, len);
    t->info[t->n].len = (uint32_t)len;
    t->slots[h] = t->n + 1;
    return t->n++;
}

/* ---- positions ---- */

PosIdx lang_pos_make(State *S, uint32_t file, uint32_t line, uint32_t col) {
    if (S->nposs == S->capposs) {
        S->capposs = S->capposs ? S->capposs * 2 : 4096;
        S->poss = fl_xrealloc(S->poss, S->capposs * sizeof(PosRec));
    }
    S->poss[S->nposs].file = file;
    S->poss[S->nposs].line = line;
    S->poss[S->nposs].col = col;
    return S->nposs++;
}

void lang_pos_get(State *S, PosIdx pos, fl_lang_pos *out) {
    if (!pos || pos >= S->nposs) {
        out->file = NULL;
        out->line = out->col = 0;
        return;
    }
    PosRec *p = &S->poss[pos];
    out->file = S->files[p->file].path;
    out->line = (int)p->line;
    out->col = (int)p->col;
}

const char *lang_pos_value_file(State *S, PosIdx pos) {
    if (!pos || pos >= S->nposs)
        return NULL;
    FileEntry *f = &S->files[S->poss[pos].file];
    return f->is_string && f->src ? f->src : f->path;
}

void lang_err_set_pos(State *S, fl_error *err, PosIdx pos) {
    fl_lang_pos p;
    lang_pos_get(S, pos, &p);
    if (p.file)
        fl_error_set_loc(err, p.file, p.line, p.col);
}

/* ---- values ---- */

Value *lang_alloc_value(State *S) {
    return arena_alloc(&S->arena, sizeof(Value));
}

Env *lang_alloc_env(State *S, uint32_t n) {
    Env *e = arena_alloc(&S->arena, sizeof(Env) + n * sizeof(Value *));
    e->n = n;
    e->is_with = 0;
    e->prev_with = 0;
    memset(e->v, 0, n * sizeof(Value *));
    return e;
}

Attrs *lang_alloc_attrs(State *S, uint32_t cap) {
    Attrs *a = arena_alloc(&S->arena, sizeof(Attrs) + cap * sizeof(Attr));
    a->n = 0;
    a->cap = cap;
    a->pos = 0;
    a->label = 0;
    return a;
}

Value **lang_alloc_elems(State *S, uint32_t n) {
    return arena_alloc(&S->arena, (n ? n : 1) * sizeof(Value *));
}

void lang_mk_string(State *S, Value *v, const char *s, size_t len, const StrCtx *ctx) {
    (void)S;
    v->type = V_STRING;
    v->sbuf = SBUF_NONE;
    v->n = (uint32_t)len;
    v->str.s = s;
    v->str.ctx = ctx;
}

char *lang_strbuf_new(State *S, size_t len) {
    /* half again the length: a chain of n appends copies each byte about three times in
     * all, and an unused tail costs at most half the string */
    size_t cap = len + len / 2 + 32;
    if (cap > UINT32_MAX) /* the caller keeps len below UINT32_MAX (Value.n) */
        cap = UINT32_MAX;
    StrBuf *b = arena_alloc(&S->arena, sizeof(StrBuf) + cap);
    b->arena = &S->arena;
    b->used = (uint32_t)len;
    b->cap = (uint32_t)cap;
    return (char *)(b + 1);
}

const char *lang_string_cstr(Value *v) {
    if (v->type != V_STRING || v->sbuf != SBUF_HDR)
        return v->str.s;
    StrBuf *b = strbuf_of(v->str.s);
    if (b->used == v->n) {
        b->cap = b->used + 1;
        return v->str.s;
    }
    v->str.s = lang_arena_strndup(b->arena, v->str.s, v->n);
    v->sbuf = SBUF_NONE;
    /* v may be older than the innermost region and now points at a copy made inside it: the
     * region must not be released under it (the same rule as a thunk's update). */
    lang_region_barrier((State *)(void *)((char *)b->arena - offsetof(State, arena)), v);
    return v->str.s;
}

void lang_mk_string_copy(State *S, Value *v, const char *s, size_t len, const StrCtx *ctx) {
    lang_mk_string(S, v, lang_arena_strndup(&S->arena, s, len), len, ctx);
}

void lang_mk_path(State *S, Value *v, const char *s) {
    v->type = V_PATH;
    v->n = (uint32_t)strlen(s);
    v->str.s = lang_arena_strndup(&S->arena, s, v->n);
    v->str.ctx = NULL;
}

void lang_mk_list(State *S, Value *v, uint32_t n) {
    v->type = V_LIST;
    v->n = n;
    v->elems = lang_alloc_elems(S, n);
}

static int attr_cmp(const void *a, const void *b) {
    const Attr *x = a, *y = b;
    return x->name < y->name ? -1 : x->name > y->name;
}

void lang_attrs_sort(Attrs *a) {
    /* Insertion sort for the common small or nearly sorted case. */
    if (a->n < 16) {
        for (uint32_t i = 1; i < a->n; i++) {
            Attr t = a->a[i];
            uint32_t j = i;
            while (j > 0 && a->a[j - 1].name > t.name) {
                a->a[j] = a->a[j - 1];
                j--;
            }
            a->a[j] = t;
        }
        return;
    }
    /* a set literal's definitions are sorted when parsed: most larger sets come sorted */
    uint32_t i = 1;
    while (i < a->n && a->a[i - 1].name < a->a[i].name)
        i++;
    if (i < a->n)
        qsort(a->a, a->n, sizeof(Attr), attr_cmp);
}

Attr *lang_attrs_find(Attrs *a, Sym name) {
    uint32_t lo = 0, hi = a->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        Sym m = a->a[mid].name;
        if (m == name)
            return &a->a[mid];
        if (m < name)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int attr_name_cmp(const void *a, const void *b, void *st) {
    State *S = st;
    const Attr *x = *(Attr *const *)a, *y = *(Attr *const *)b;
    uint32_t lx = sym_len(S, x->name), ly = sym_len(S, y->name);
    int c = memcmp(sym_name(S, x->name), sym_name(S, y->name), lx < ly ? lx : ly);
    if (c)
        return c;
    return lx < ly ? -1 : lx > ly;
}

Attr **lang_attrs_sorted_by_name_cached(State *S, Attrs *a, int always) {
    for (int i = 0; i < 2; i++)
        if (S->byname_set[i] == a)
            return S->byname[i];
    Attr **out = arena_alloc(&S->arena, (a->n ? a->n : 1) * sizeof(Attr *));
    for (uint32_t i = 0; i < a->n; i++)
        out[i] = &a->a[i];
    qsort_r(out, a->n, sizeof(Attr *), attr_name_cmp, S);
    if (a->n >= 16 || always) {
        /* sets are immutable once built, so the order stays valid */
        S->byname_set[S->byname_next] = a;
        S->byname[S->byname_next] = out;
        S->byname_next ^= 1;
    }
    return out;
}

Attr **lang_attrs_sorted_by_name(State *S, Attrs *a) {
    return lang_attrs_sorted_by_name_cached(S, a, 0);
}

const char *lang_show_type(const Value *v) {
    switch (v->type) {
    case V_INT: return "an integer";
    case V_BOOL: return "a Boolean";
    case V_STRING: return v->str.ctx ? "a string with context" : "a string";
    case V_PATH: return "a path";
    case V_NULL: return "null";
    case V_ATTRS: return "a set";
    case V_LIST: return "a list";
    case V_LAMBDA: return "a function";
    case V_PRIMOP: return "a built-in function";
    case V_PRIMOP_APP: return "a partially applied built-in function";
    case V_FLOAT: return "a float";
    case V_THUNK: case V_READY: return "a thunk";
    case V_APP: return "a function application";
    default: return "a black hole";
    }
}

const char *lang_type_name(const Value *v) {
    switch (v->type) {
    case V_INT: return "int";
    case V_BOOL: return "bool";
    case V_STRING: return "string";
    case V_PATH: return "path";
    case V_NULL: return "null";
    case V_ATTRS: return "set";
    case V_LIST: return "list";
    case V_LAMBDA: case V_PRIMOP: case V_PRIMOP_APP: return "lambda";
    case V_FLOAT: return "float";
    default: return "thunk";
    }
}

/* Capped: a long name is never offered as a "did you mean". */
static size_t edit_distance(const char *a, const char *b) {
    if (strlen(a) > 64 || strlen(b) > 64)
        return 1000;
    return fl_edit_distance(a, b);
}

const char *lang_closest_name(State *S, const char *name, const char **cands, size_t n) {
    (void)S;
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    size_t limit = strlen(name) <= 3 ? 1 : 2;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(cands[i], name))
            continue;
        size_t d = edit_distance(name, cands[i]);
        if (d <= limit && (d < bestd || (d == bestd && strcmp(cands[i], best) < 0))) {
            best = cands[i];
            bestd = d;
        }
    }
    return best;
}
