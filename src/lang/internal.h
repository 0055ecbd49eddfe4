/* internal.h - the language's private data structures: arena, symbols, positions, tokens,
 * the AST, values, environments and the evaluator state. Only src/lang/ includes this. */
#ifndef FLAKECTL_LANG_INTERNAL_H
#define FLAKECTL_LANG_INTERNAL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flakectl/error.h"
#include "flakectl/lang.h"
#include "flakectl/strbuf.h"

#define NORETURN __attribute__((noreturn))
#define NOINLINE __attribute__((noinline))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

typedef struct State State;
typedef struct Value Value;
typedef struct Expr Expr;
typedef struct Env Env;

/* ---- arena: the one allocation interface of the evaluator ---- */
typedef struct ArenaChunk {
    struct ArenaChunk *next;
    size_t size;
    uint64_t seq; /* creation order: a region owns the chunks made after its mark */
    char data[];
} ArenaChunk;

typedef struct Arena {
    ArenaChunk *chunks; /* newest first; the first is the one being filled */
    ArenaChunk *big;    /* blocks too large for a chunk, newest first */
    ArenaChunk *spare;  /* one chunk a released region gave back, still mapped */
    char *cur, *end;
    size_t total;
    size_t limit; /* bytes; 0 = none */
    uint64_t seq;
} Arena;

/* Under AddressSanitizer, memory a region gave back is poisoned until it is handed out again,
 * so a value that outlived its region is a use-after-free report, not silent corruption. */
#if defined(__SANITIZE_ADDRESS__)
#define LANG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LANG_ASAN 1
#endif
#endif
#ifdef LANG_ASAN
#include <sanitizer/asan_interface.h>
#define arena_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define arena_poison(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#else
#define arena_unpoison(p, n) ((void)(p), (void)(n))
#define arena_poison(p, n) ((void)(p), (void)(n))
#endif

void lang_arena_init(Arena *a);
void lang_arena_release(Arena *a);
void *lang_arena_alloc_slow(Arena *a, size_t n);
/* The arena of a State cannot grow by n bytes (limit or mmap): the located error "out of
 * memory" when an evaluation is running (eval.c); returns only outside one. */
void lang_arena_out_of_memory(Arena *a, size_t n);
/* The system refused n bytes outside an evaluation: says so through the state's trace sink
 * and aborts (eval.c). */
NORETURN void lang_arena_abort(Arena *a, size_t n);
/* What the arena may still grow by (SIZE_MAX without a limit). */
size_t lang_arena_budget(const Arena *a);
static inline void *arena_alloc(Arena *a, size_t n) {
    n = (n + 7) & ~(size_t)7;
    if (LIKELY((size_t)(a->end - a->cur) >= n)) {
        void *p = a->cur;
        a->cur += n;
        arena_unpoison(p, n);
        return p;
    }
    return lang_arena_alloc_slow(a, n);
}
void *lang_arena_zalloc(Arena *a, size_t n);
char *lang_arena_strndup(Arena *a, const char *s, size_t n);

/* A growable string in the arena (old buffers are abandoned, never freed). */
typedef struct AStr {
    char *buf;
    size_t len, cap;
} AStr;
void lang_astr_init(State *S, AStr *s, size_t hint);
void lang_astr_add(State *S, AStr *s, const char *p, size_t n);
static inline void astr_adds(State *S, AStr *s, const char *p) {
    lang_astr_add(S, s, p, strlen(p));
}
void lang_astr_addch(State *S, AStr *s, char c);
void lang_astr_addf(State *S, AStr *s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A message formatted into the arena (it lives as long as the evaluation). */
char *lang_arena_printf(State *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- symbols: interned names, compared by id ---- */
typedef uint32_t Sym;
typedef struct SymInfo {
    const char *name; /* NUL-terminated */
    uint32_t len, hash;
} SymInfo;
typedef struct NameBlock {
    struct NameBlock *next;
    size_t used, cap;
    char data[];
} NameBlock;
typedef struct SymTab {
    SymInfo *info; /* id -> name, length, hash: one cache line per lookup, not three */
    /* The names themselves, outside the arena: interning a name must not keep a region
     * (foldl' steps that make "k${toString i}" would never be released). Counted in the
     * arena's total, so the memory limit covers them. */
    NameBlock *blocks;
    size_t bytes;
    uint32_t n, cap;
    uint32_t *slots; /* open addressing: id+1, 0 = empty */
    uint32_t nslots;
} SymTab;
Sym lang_sym_intern(State *S, const char *s, size_t len);
void lang_symtab_release(SymTab *t);
/* FNV-1a: the hash of the symbol table and of the import cache. */
uint32_t lang_hash_bytes(const char *s, size_t n);
static inline const char *sym_name(State *S, Sym s);

/* ---- positions: an index into a table of (file, line, col) ---- */
typedef uint32_t PosIdx; /* 0 = no position */
typedef struct PosRec {
    uint32_t file; /* index into S->files */
    uint32_t line, col;
} PosRec;
PosIdx lang_pos_make(State *S, uint32_t file, uint32_t line, uint32_t col);

/* ---- values ---- */
enum vtype {
    V_THUNK,
    V_READY, /* a thunk whose value, the integer i, is known (eval.c, cheap_int): forcing it
                only makes it V_INT; until then it is a thunk to everyone, as in Nix */
    V_APP, /* lazy function application (left applied to right) */
    V_BLACKHOLE,
    V_NULL,
    V_BOOL,
    V_INT,
    V_FLOAT,
    V_STRING,
    V_PATH,
    V_ATTRS,
    V_LIST,
    V_LAMBDA,
    V_PRIMOP,
    V_PRIMOP_APP,
};

typedef struct StrCtx StrCtx; /* string context: store paths a string refers to */
struct StrCtx {
    const StrCtx *next;
    const char *path;
};

/* Strings grown by repeated `+` (a fold's accumulator) share one buffer: a StrBuf header
 * sits before the bytes, and `a + b` writes b after a in place when a ends where the buffer's
 * used part ends and there is room. Values stay immutable: an older value sees only its own n
 * bytes, and bytes below `used` are never written again. Only its NUL terminator is lost when
 * someone appends after it; lang_string_cstr gives the C string back. */
enum sbuf {
    SBUF_NONE, /* plain bytes, NUL-terminated at n */
    SBUF_CAT,  /* made by a concatenation (exact size, no header): the next `+` on it gets room */
    SBUF_HDR,  /* str.s follows a StrBuf */
};
typedef struct StrBuf {
    Arena *arena;   /* where a NUL-terminated copy of a shorter value goes (lang_string_cstr) */
    uint32_t used;  /* bytes written, a NUL after them */
    uint32_t cap;   /* bytes after the header, the NUL included */
} StrBuf;
static inline StrBuf *strbuf_of(const char *s) {
    return (StrBuf *)(void *)((char *)s - sizeof(StrBuf));
}

typedef struct Attr {
    Sym name;
    PosIdx pos;
    Value *value;
} Attr;

typedef struct Attrs {
    uint32_t n, cap;
    PosIdx pos; /* the `{` of the set literal that made it, else 0 (builtins' errors use it) */
    /* 1 + the Sym of "NOUN IN" (fl_lang_label_set): a missing attribute reads "no NOUN 'x'
     * in IN"; 0 for every ordinary set. Fits the header's padding. */
    uint32_t label;
    Attr a[]; /* sorted by symbol id */
} Attrs;

typedef struct PrimOp PrimOp;

struct Value {
    uint8_t type;
    uint8_t bh_from; /* for V_BLACKHOLE: the type it had (V_THUNK or V_APP) */
    uint8_t sbuf;    /* for V_STRING: how str.s is stored (enum sbuf) */
    uint32_t n;      /* string length, list size; for V_APP the position of the call */
    union {
        int64_t i;
        double f;
        int b;
        struct {
            const char *s;
            const StrCtx *ctx;
        } str;
        Value **elems;
        Attrs *attrs;
        struct {
            Env *env;
            Expr *expr;
        } thunk;
        struct {
            Env *env;
            Expr *fn;
        } lambda;
        struct {
            Value *left, *right;
        } app;
        const PrimOp *primop;
    };
};

struct fl_value {
    Value v;
};

typedef void (*PrimFn)(State *S, Value **args, Value *out, PosIdx pos);
struct PrimOp {
    const char *name;
    int arity;
    PrimFn fn;
    /* native primops registered through the API */
    fl_lang_primop_fn ext;
    void *ud;
};

/* ---- environments ---- */
struct Env {
    Env *up;
    uint32_t n; /* slots; in a with-env (is_with) the position of `with` instead */
    uint16_t is_with;
    uint16_t prev_with; /* levels up to the next enclosing with-env (0 = none) */
    Value *v[];
};

/* ---- AST ---- */
enum ekind {
    E_CONST, /* int, float, literal string, path: value preallocated */
    E_VAR,
    E_SELECT,
    E_HASATTR,
    E_ATTRS,
    E_LIST,
    E_LAMBDA,
    E_CALL,
    E_LET,
    E_WITH,
    E_IF,
    E_ASSERT,
    E_NOT,
    E_EQ,
    E_NEQ,
    E_AND,
    E_OR,
    E_IMPL,
    E_UPDATE,
    E_CONCATLISTS,
    E_LT, /* a < b ; flags: swap operands, negate result */
    E_SUB,
    E_MUL,
    E_DIV,
    E_CONCATSTRINGS,
    E_CURPOS,
};

typedef struct AttrName {
    Sym sym;       /* when expr == NULL */
    uint32_t hint; /* the index the name had in the set it was last selected from: tried
                      before a search (sets of one shape, `builtins`); any value is safe */
    Expr *expr;    /* dynamic name */
} AttrName;

typedef struct AttrDef {
    Sym name;
    uint8_t inherited; /* evaluate in the enclosing env, not the rec/let env */
    PosIdx pos;
    Expr *e;
    uint32_t displ; /* slot in the rec/let env */
} AttrDef;

typedef struct DynAttr {
    Expr *name, *value;
    PosIdx pos;
} DynAttr;

typedef struct Formal {
    Sym name;
    PosIdx pos;
    Expr *def;
} Formal;

struct Expr {
    uint8_t kind;
    uint8_t flag; /* E_VAR: from with; E_ATTRS: rec; E_LT: bit0 swap, bit1 negate;
                     E_CONCATSTRINGS: force string; E_LAMBDA: has formals;
                     E_SUB: 1 = unary minus (0 - x) */
    PosIdx pos;
    union {
        Value cval;
        struct {
            Sym name;
            uint32_t level, displ; /* from `with`: displ is the attrs_find_hinted hint */
        } var;
        struct {
            Expr *e, *def;
            AttrName *path;
            uint32_t n;
        } sel;
        struct {
            AttrDef *defs;
            uint32_t ndefs, ndyn;
            DynAttr *dyn;
            Expr *body; /* E_LET */
        } attrs;
        struct {
            Expr **elems;
            uint32_t n;
        } list;
        struct {
            Sym arg;   /* 0 = none */
            Sym name;  /* name it is bound to, for traces; 0 = anonymous */
            Formal *formals;
            uint32_t nformals;
            uint8_t ellipsis;
            uint32_t envsize;
            Expr *body;
        } lam;
        struct {
            Expr *a, *b, *c;
            uint32_t prev_with; /* E_WITH */
            const char *text;   /* E_ASSERT: the condition as shown */
        } op;
        struct {
            Expr **parts;
            PosIdx *ppos;
            uint32_t n;
        } cat;
    };
};

/* ---- tokens ---- */
enum tok {
    T_EOF,
    T_ID,
    T_INT,
    T_FLOAT,
    T_STR,          /* a literal fragment of a string (already unescaped) */
    T_IND_STR,      /* fragment of an indented string; flag: has indentation */
    T_PATH,         /* a path literal or first segment of an interpolated path */
    T_HPATH,        /* ~/... */
    T_SPATH,        /* <nixpkgs> */
    T_URI,
    T_DQUOTE,       /* " opening */
    T_DQUOTE_END,   /* " closing */
    T_IND_OPEN,
    T_IND_CLOSE,
    T_DOLLAR_CURLY, /* ${ */
    T_PATH_END,
    T_IF, T_THEN, T_ELSE, T_ASSERT, T_WITH, T_LET, T_IN, T_REC, T_INHERIT, T_OR_KW,
    T_ELLIPSIS, T_EQ, T_NEQ, T_LEQ, T_GEQ, T_AND, T_OR, T_IMPL, T_UPDATE, T_CONCAT,
    T_LBRACE, T_RBRACE, T_LBRACK, T_RBRACK, T_LPAREN, T_RPAREN, T_SEMI, T_COLON, T_DOT,
    T_COMMA, T_AT, T_QUESTION, T_ASSIGN, T_LT, T_GT, T_PLUS, T_MINUS, T_STAR, T_SLASH,
    T_NOT,
};

typedef struct Token {
    uint8_t type;
    uint8_t flag;
    uint32_t line, col;
    const char *s; /* text (unescaped for strings); points into the source or the arena */
    size_t len;
    int64_t i;
    double f;
} Token;

/* Tokenises the whole source; on a lexical error sets S's error and returns -1. */
int lang_lex_all(State *S, const char *src, size_t len, uint32_t file, Token **toks, size_t *ntoks);
const char *lang_tok_describe(State *S, const Token *t, char *buf, size_t n);

/* Parses a file's tokens into an expression resolved against the base scope. */
Expr *lang_parse_source(State *S, const char *src, size_t len, uint32_t file, const char *basedir);
/* Same, with a scope of nscope variables between the file and the base scope (scopedImport);
 * its environment is one level above the base environment. */
Expr *lang_parse_source_scoped(State *S, const char *src, size_t len, uint32_t file,
                          const char *basedir, const Sym *scope, uint32_t nscope);

/* ---- pointer sets (identity), arena-backed ---- */
typedef struct PtrSet {
    const void **slots;
    size_t cap, n;
} PtrSet;

/* ---- evaluator state ---- */
typedef struct Frame {
    uint8_t kind; /* FR_* */
    Sym sym;
    PosIdx pos;
    PosIdx pos2; /* FR_CALL: the lambda; FR_SEL: the selected attribute's definition (0: none) */
    const char *text;
    const struct Expr *sel; /* FR_SEL: the selection, whose path the trace shows */
    struct Env *env;        /* FR_SEL: where its dynamic names are evaluated */
} Frame;
/* FR_SEL: an attribute selection (only kept with frames: Nix 2.8 traces the whole path from
 * the first attribute found on); FR_APP: a lazy application made by a builtin (map, ...)
 * is being forced, whose calls Nix traces without a call site; FR_SCOPED: scopedImport's
 * file, which Nix does not trace. */
#define LANG_MAX_ERR_FRAMES 1024
enum { FR_CALL, FR_ATTR, FR_IMPORT, FR_CTX, FR_LIST, FR_SEL, FR_APP, FR_SCOPED };

enum errkind { ERR_OTHER, ERR_THROW, ERR_ASSERT, ERR_ABORT };

typedef struct Catch {
    jmp_buf jb;
    struct Catch *prev;
    size_t forcing_depth;
    size_t frame_depth;
    uint32_t region_depth;
} Catch;

/* ---- regions: arena memory given back when one step of an iteration left nothing behind ----
 * A region marks the arena before a step (one call of foldl''s function, ...) and, when the
 * step's result holds no pointer, releases everything the step allocated unless something
 * older than the mark was made to point into it. Values are immutable but for thunks updated
 * with their value, so that is the one way (lang_force_slow calls lang_region_barrier), plus
 * the state's caches (lang_regions_pin). Either makes the region dirty; a dirty region's
 * memory simply stays, as all memory did before. docs/language.md, "Memory". */
typedef struct Region {
    ArenaChunk *chunk, *big; /* the arena's lists at the mark */
    char *cur, *end;
    size_t total, sym_bytes;
    uint64_t seq;
    int dirty;
} Region;

typedef struct FileEntry {
    char *path; /* canonical path or display name */
    char *dir;  /* base directory for relative paths */
    Value *value; /* import cache: evaluated file (NULL for strings) */
    char *src;
    size_t srclen;
    int is_string; /* source text given directly: Nix calls the "file" the text itself */
} FileEntry;

struct State {
    Arena arena;
    SymTab syms;
    PosRec *poss;
    uint32_t nposs, capposs;
    FileEntry *files;
    uint32_t nfiles, capfiles;
    /* import cache index: open addressing over canonical paths, fid+1 (0 = empty) */
    uint32_t *import_slots;
    uint32_t nimport, capimport;

    /* base scope: names visible everywhere, and their values */
    Sym *base_names;
    uint32_t nbase, capbase;
    Env *base_env;
    Value *builtins; /* the `builtins` set */

    /* error handling */
    Catch *catch_;
    fl_error err;
    int errkind;
    Frame *err_frames;
    uint32_t nerr_frames;

    /* open regions, innermost last */
    Region *regions;
    uint32_t nregions, capregions;
    uint32_t nclean; /* of them not dirty: 0 lets the write barrier return at once */

    /* thunks being forced (restored on unwinding) */
    Value **forcing;
    size_t nforcing, capforcing;
    Frame *frames;
    size_t nframes, capframes;

    char *stack_base;
    size_t stack_limit;
    PosIdx last_call_pos; /* the application evaluated last (locates stack overflows) */

    fl_lang_config cfg;
    char *system;

    /* well-known symbols */
    Sym s_outPath, s_toString, s_functor, s_type, s_name, s_value, s_file, s_line, s_column,
        s_derivation, s_drvPath, s_key, s_operator, s_startSet, s_right, s_wrong, s_success,
        s_or, s_body, s_ignoreNulls, s_outputs, s_system, s_builder, s_args, s_drvAttrs,
        s_all, s_out, s_outputName, s_prefix, s_path, s_sep;

    /* caches */
    struct RegexCache *regexes;
    uint32_t nregexes, capregexes;

    /* derivations made by this state: drvPath -> hashDerivationModulo */
    struct DrvHash *drvh;
    size_t ndrvh, capdrvh;

    /* the last sets sorted by name (attrNames and attrValues of one set sort once) */
    Attrs *byname_set[2];
    Attr **byname[2];
    int byname_next;

    Value *v_true, *v_false, *v_null;
    Value **small_ints; /* preallocated small ints? unused */
    int trace_depth;
    /* search path entries already warned about (each once, as Nix does) */
    PtrSet warned_entries;
    /* Without a store (no to_file hook): the texts toFile made, as files named like their
     * store paths, so that reading those paths back works as in Nix with a writable store.
     * Made on the first toFile, removed by fl_lang_free; NULL until then. */
    char *tofile_dir;
};

static inline const char *sym_name(State *S, Sym s) {
    return S->syms.info[s].name;
}

void lang_region_begin(State *S);
/* Closes the innermost region; releases its memory when release is set and it is clean.
 * Returns 1 when it did: everything allocated since lang_region_begin is gone. */
int lang_region_end(State *S, int release);
/* Whether p was allocated in the innermost open region. */
int lang_region_owns(State *S, const void *p);
/* When everything the innermost region allocated is one range of the current chunk (no
 * chunk or big block since the mark), sets [*lo, *hi) to it and returns 1. */
int lang_region_range(State *S, const char **lo, const char **hi);
/* v (a thunk just updated) now holds a value: older regions must keep what it points to. */
void lang_region_barrier(State *S, const Value *v);
/* S->nclean again after regions were dropped without lang_region_end (an error unwound). */
void lang_regions_recount(State *S);
/* A cache of the state kept arena memory: no open region may release. */
static inline void lang_regions_pin(State *S) {
    for (uint32_t i = 0; i < S->nregions; i++)
        S->regions[i].dirty = 1;
    S->nclean = 0;
}
static inline uint32_t sym_len(State *S, Sym s) {
    return S->syms.info[s].len;
}

/* ---- errors ---- */
NORETURN void lang_throw_kind(State *S, int kind, PosIdx pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define lang_throw(S, pos, ...) lang_throw_kind(S, ERR_OTHER, pos, __VA_ARGS__)
/* sym_intern for a name a program made (dynamic keys, listToAttrs): a NUL in it is an error
 * at pos. eval.c. */
Sym lang_sym_intern_name(State *S, const char *s, size_t len, PosIdx pos);
/* The "out of memory" error at pos for an allocation of n bytes the limit refuses. */
NORETURN void lang_out_of_memory(State *S, PosIdx pos, size_t n);
NORETURN void lang_rethrow(State *S);
void lang_set_hint(State *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lang_err_set_pos(State *S, fl_error *err, PosIdx pos);
void lang_pos_get(State *S, PosIdx pos, fl_lang_pos *out);
/* The file name Nix shows in values (__curPos, unsafeGetAttrPos): the text for strings. */
const char *lang_pos_value_file(State *S, PosIdx pos);
const char *lang_closest_name(State *S, const char *name, const char **cands, size_t n);

/* Catching: push a Catch, setjmp, pop. */
static inline void catch_begin(State *S, Catch *c) {
    c->prev = S->catch_;
    c->forcing_depth = S->nforcing;
    c->frame_depth = S->nframes;
    c->region_depth = S->nregions;
    S->catch_ = c;
}
void lang_catch_end(State *S, Catch *c);
/* After longjmp landed in c: restore blackholed thunks, pop frames. */
void lang_catch_unwind(State *S, Catch *c);

int lang_ptrset_add(State *S, PtrSet *ps, const void *p);
/* A line for stderr that is not an error (Nix's "warning: ..."); through the trace hook. */
/* A frame of the trace with its own text (shown by --show-trace when an error passes through
 * it); the caller pops it with S->nframes-- when nothing was thrown. */
void lang_push_text_frame(State *S, PosIdx pos, const char *text);
/* "path 'bad' is not valid", from realising path's context at pos. */
NORETURN void lang_throw_unrealised(State *S, PosIdx pos, const char *path, const char *bad);
/* The pending error's captured frames as err's "while ..." frames, in Nix 2.8's words; nix
 * puts each frame's location block (at FILE:LINE:COL: and the source lines) in its text. */
void lang_trace_frames(State *S, fl_error *err, int nix);
/* Nix 2.8's "Did you mean" list for name among cands: up to five names within edit distance
 * 2, nearest first then bytewise ("ab", or "one of b, x1 or ab"); NULL for none. In the
 * arena. */
const char *lang_nix_suggestions(State *S, const char *name, const char **cands, size_t n);
void lang_warn(State *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- evaluation ---- */
static inline int stack_exceeded(State *S) {
    char here;
    return (size_t)(S->stack_base - &here) > S->stack_limit;
}
void lang_stack_check(State *S, PosIdx pos);
void lang_eval(State *S, Expr *e, Env *env, Value *out);
void lang_force_slow(State *S, Value *v, PosIdx pos);
static inline void force(State *S, Value *v, PosIdx pos) {
    if (UNLIKELY(v->type <= V_BLACKHOLE))
        lang_force_slow(S, v, pos);
}
void lang_force_deep(State *S, Value *v, PosIdx pos);
Value *lang_maybe_thunk(State *S, Expr *e, Env *env);
void lang_call_function(State *S, Value *fn, Value *arg, Value *out, PosIdx pos);
void lang_call_function_nosite(State *S, Value *fn, Value *arg, Value *out, PosIdx pos);
void lang_call_function2(State *S, Value *fn, Value *a1, Value *a2, Value *out, PosIdx pos);

Value *lang_alloc_value(State *S);
Env *lang_alloc_env(State *S, uint32_t n);
Attrs *lang_alloc_attrs(State *S, uint32_t cap);
Value **lang_alloc_elems(State *S, uint32_t n);
void lang_mk_string(State *S, Value *v, const char *s, size_t len, const StrCtx *ctx);
void lang_mk_string_copy(State *S, Value *v, const char *s, size_t len, const StrCtx *ctx);
/* A buffer for a string of len bytes with room to grow (SBUF_HDR); the caller writes the
 * bytes and the NUL. */
char *lang_strbuf_new(State *S, size_t len);
/* v's bytes NUL-terminated at v->n, for good: a string that has been appended to in place is
 * copied (and v made to point at the copy), one whose buffer still ends with it is closed to
 * further in-place appends. Every pointer the evaluator hands out as a C string comes from
 * here. */
const char *lang_string_cstr(Value *v);
void lang_mk_path(State *S, Value *v, const char *s);
void lang_mk_list(State *S, Value *v, uint32_t n);
static inline void mk_int(Value *v, int64_t i) {
    v->type = V_INT;
    v->i = i;
}
static inline void mk_float(Value *v, double f) {
    v->type = V_FLOAT;
    v->f = f;
}
static inline void mk_bool(Value *v, int b) {
    v->type = V_BOOL;
    v->b = b;
}
static inline void mk_null(Value *v) {
    v->type = V_NULL;
}
void lang_attrs_sort(Attrs *a);
Attr *lang_attrs_find(Attrs *a, Sym name);
/* lang_attrs_find trying *hint first, and leaving there where name was found. */
static inline Attr *attrs_find_hinted(Attrs *a, Sym name, uint32_t *hint) {
    uint32_t h = *hint;
    if (h < a->n && a->a[h].name == name)
        return &a->a[h];
    Attr *r = lang_attrs_find(a, name);
    if (r)
        *hint = (uint32_t)(r - a->a);
    return r;
}
/* Attributes ordered by name bytes (for printing, attrNames, ...); arena-allocated. */
Attr **lang_attrs_sorted_by_name(State *S, Attrs *a);
/* Same, remembering the result even for small sets (iteration through the API). */
Attr **lang_attrs_sorted_by_name_cached(State *S, Attrs *a, int always);

const char *lang_show_type(const Value *v);
const char *lang_type_name(const Value *v);
int64_t lang_force_int(State *S, Value *v, PosIdx pos);
double lang_force_float(State *S, Value *v, PosIdx pos); /* ints accepted */
int lang_force_bool(State *S, Value *v, PosIdx pos);
Attrs *lang_force_attrs(State *S, Value *v, PosIdx pos);
void lang_force_list(State *S, Value *v, PosIdx pos);
void lang_force_function(State *S, Value *v, PosIdx pos);
const char *lang_force_string(State *S, Value *v, PosIdx pos, size_t *len, const StrCtx **ctx);
const char *lang_force_string_noctx(State *S, Value *v, PosIdx pos, size_t *len);
const char *lang_ctx_first(const StrCtx *ctx);
/* coerce_more: ints, floats, bools, null, lists too (toString); copy_to_store: paths become
 * store paths. */
void lang_coerce_to_string(State *S, Value *v, PosIdx pos, int coerce_more, int copy_to_store,
                      AStr *out, const StrCtx **ctx);
const char *lang_coerce_to_path(State *S, Value *v, PosIdx pos);
/* The URL .gitmodules (the file gitmodules) gives the submodule at sub_path, resolved
 * against base_url when relative, as git does, into *url (in the arena); NULL, or a message
 * when the file cannot be read or has no URL for it. fetchGit's submodules = true. */
const char *lang_gitmodules_url(State *S, const char *gitmodules, const char *sub_path,
                                const char *base_url, const char **url);
/* coerce_to_path for builtins that read the path: its context must be valid first. */
const char *lang_realise_path(State *S, Value *v, PosIdx pos);
/* Import from derivation (derivation.c): path with drv's output built by the realise hook,
 * NULL when it cannot be (no hook, not this evaluation's derivation); throws when the build
 * fails. */
const char *lang_realise_output(State *S, const char *drv, const char *path, PosIdx pos);
/* The first store path of ctx that is not valid (Nix's order), NULL when all are. */
const char *lang_ctx_invalid_path(State *S, const StrCtx *ctx);
/* Where a path is read from: a toFile text of this evaluation (tofile_dir) when path is (or
 * is inside) its store path and nothing is there on disk, else path itself. */
const char *lang_read_path(State *S, const char *path);
/* Keeps toFile's text under its store path sp for lang_read_path (no store attached). */
void lang_record_text(State *S, const char *sp, const char *data, size_t len);
int lang_values_equal(State *S, Value *a, Value *b, PosIdx pos);
int lang_compare_values(State *S, Value *a, Value *b, PosIdx pos); /* <0, 0, >0 */
const StrCtx *lang_ctx_merge(State *S, const StrCtx *a, const StrCtx *b);
int lang_is_derivation(State *S, Value *v);
Value *lang_lookup_base(State *S, const char *name);

/* store paths (no store attached: computed like Nix) */
const char *lang_path_to_store(State *S, const char *path, PosIdx pos);
/* The embedder's check_path hook: lang_check_path throws its refusal, lang_path_visible
 * answers 0 instead. */
void lang_check_path(State *S, const char *path, PosIdx pos);
int lang_path_visible(State *S, const char *path);
/* Same under another name (builtins.path); name NULL = the base name. */
const char *lang_path_to_store_named(State *S, const char *path, const char *name, PosIdx pos);
/* Both throw Nix's message at pos when name is not a valid store path name. */
const char *lang_make_store_path(State *S, const char *type, const char *hexhash, const char *name,
                            PosIdx pos);
const char *lang_store_path_for_text(State *S, const char *name, const char *data, size_t len,
                                const StrCtx *refs, PosIdx pos);

/* The value of a hexadecimal digit (either case), -1 for anything else. */
static inline int lang_hex_digit(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}
/* A sha256 hash in any form Nix accepts (base-16, base-32, base-64, SRI), or Nix's error. */
void lang_parse_sha256(State *S, const char *s, unsigned char h[32], PosIdx pos);
/* The path of fixed-output content: NAR hash (recursive) or flat file hash h, under name. */
const char *lang_fixed_output_path(State *S, int recursive, const unsigned char h[32],
                                   const char *name, PosIdx pos);
int lang_nar_hash_path(State *S, const char *path, unsigned char h[32]);
/* builtins.path and filterSource (Nix's addPath); filter and expected may be NULL. */
const char *lang_path_add(State *S, const char *path, const char *name, int recursive, Value *filter,
                     const unsigned char *expected, PosIdx pos);

/* imports */
void lang_eval_file(State *S, const char *path, Value *out, PosIdx pos);

/* builtins */
void lang_builtins_init(State *S);
void lang_add_base(State *S, const char *name, Value *v);

/* printing */
void lang_print_value(State *S, Value *v, AStr *out);
void lang_print_string_lit(State *S, AStr *out, const char *s, size_t len);
void lang_to_json(State *S, Value *v, int strict, AStr *out, PosIdx pos, const StrCtx **ctx);
void lang_json_to_value(State *S, const char *s, size_t len, Value *out, PosIdx pos);
void lang_format_float(char *buf, size_t n, double f);
/* An integer in decimal as %lld writes it; returns its length. */
#define LANG_INT_CHARS 24
size_t lang_format_int(char buf[LANG_INT_CHARS], int64_t i);

/* source text of an expression as Nix shows it (assertion messages) */
void lang_show_expr(State *S, Expr *e, AStr *out);

#endif
