/* lang.h - the Nix-syntax configuration language: parse, evaluate lazily, print.
 *
 * Ownership: every fl_value, every string returned by these functions and every value built
 * through the builders belongs to the fl_lang that made it and stays valid until
 * fl_lang_free(). Nothing is freed earlier (the evaluator allocates from one bump arena per
 * state), so callers never free values. Errors are returned as fl_error (file/line/col of the
 * culprit set when known); on error nothing is written to *out.
 *
 * An fl_lang is single-threaded: use it from one thread at a time. Native primops may call
 * back into the API (force, call, ...) for the same state. */
#ifndef FLAKECTL_LANG_H
#define FLAKECTL_LANG_H

#include <stddef.h>
#include <stdint.h>

#include "flakectl/error.h"
#include "flakectl/strbuf.h"

typedef struct fl_lang fl_lang;
typedef struct fl_value fl_value;

/* A source position. file points into the state (valid until fl_lang_free); NULL when the
 * value has no position (built from C, or a builtin). */
typedef struct fl_lang_pos {
    const char *file;
    int line, col;
} fl_lang_pos;

struct fl_store_drv;

/* Hooks the embedder sets; the store subsystem supplies the real ones. Any may be NULL. */
typedef struct fl_lang_hooks {
    void *ctx;
    /* A path coerced to a string ("${./f}", toFile's inputs, ...) becomes a store path.
     * Writes the store path (e.g. "/nix/store/<hash>-<name>") into out. NULL: flakectl
     * computes the path Nix would use without writing anything. */
    int (*path_to_store)(void *ctx, const char *path, fl_strbuf *out, fl_error *err);
    /* builtins.toFile: stores `data` under `name` with the references refs (the store paths
     * of data's context, sorted), writes the store path into out. NULL: the path is computed
     * as Nix does, nothing written. */
    int (*to_file)(void *ctx, const char *name, const char *data, size_t len,
                   const char *const *refs, size_t nrefs, fl_strbuf *out, fl_error *err);
    /* Asked before the evaluator reads a path (import, readFile, hashFile, readDir, a path
     * copied to the store); a negative return refuses with err's message. pathExists answers
     * false and readDir leaves the entry out instead. Has its own context, check_ctx. The
     * flake layer uses it to hide files Git does not track. */
    int (*check_path)(void *check_ctx, const char *path, fl_error *err);
    void *check_ctx;
    /* builtins.fetchurl and fetchTarball of http(s):// URLs: writes the body of url to fd (at
     * its offset). NULL: such URLs are refused (no network in this evaluation). */
    int (*download)(void *ctx, const char *url, int fd, fl_error *err);
    /* A fetched file (recursive 0: fetchurl) or unpacked tree (1: fetchTarball) into the
     * store at the fixed-output path Nix gives it under name; writes that path into out.
     * NULL: the path is computed as Nix does and nothing is copied. */
    int (*add_fixed)(void *ctx, const char *path, int recursive, const char *name, fl_strbuf *out,
                     fl_error *err);
    /* Import from derivation: a path an evaluation reads (import, readFile, ...) is an output
     * of a derivation it made and is not present. Builds drv (one output, no inputs) in the
     * embedder's store, or substitutes it, and writes the output's path there into out; the
     * evaluator reads that instead. NULL: such a path is "not valid" (docs/language.md). */
    int (*realise)(void *ctx, const struct fl_store_drv *drv, fl_strbuf *out, fl_error *err);
} fl_lang_hooks;

/* A line the evaluator has to say besides its result (no trailing newline). */
typedef void (*fl_lang_trace_fn)(void *ctx, const char *line);

typedef struct fl_lang_config {
    /* Pure mode: getEnv returns "", no absolute path literals outside allowed dirs are
     * checked (yet), currentSystem comes from `system`. */
    int pure;
    /* Attach "while evaluating ..." frames to errors (what --show-trace shows). */
    int frames;
    /* With frames: each frame's text is laid out as nix-instantiate 2.8 prints it (the
     * message, then "at FILE:LINE:COL:" and the source lines), for fl_lang_format_error. */
    int frames_nix;
    /* builtins.currentSystem; NULL derives it from uname ("x86_64-linux"). */
    const char *system;
    /* Bytes of C stack the evaluator may use below the API call that entered it; deeper
     * recursion is the error "stack overflow (possible infinite recursion)". 0 = derived from
     * RLIMIT_STACK. */
    size_t max_stack;
    /* Bytes the evaluator's objects may take; more is the located error "out of memory".
     * 0 = FLAKECTL_MAX_MEMORY from the environment (a size such as 512M or 4G; "0" or
     * "none" for no limit), else half of the machine's memory. */
    size_t max_memory;
    fl_lang_hooks hooks;
    /* The search path of `<name>` lookups and builtins.nixPath, in Nix's order: the `-I`
     * entries ("prefix=path" or "path"), then those of nix_path, a string in NIX_PATH's
     * syntax. All empty for host evaluation, which stays pure. */
    const char *const *include_paths;
    size_t ninclude_paths;
    const char *nix_path;
    /* Where the evaluator's lines that are not errors go: builtins.trace's "trace: <value>",
     * Nix's "warning: ..." lines, and "flakectl: out of memory (N bytes)" before it aborts on
     * memory the system refuses outside an evaluation (where no error can be returned). The
     * library never prints: NULL says nothing. The command line passes a sink writing each
     * line and a newline to stderr (fl_cli_trace). */
    fl_lang_trace_fn trace;
    void *trace_ctx;
} fl_lang_config;

enum fl_lang_type {
    FL_LANG_THUNK = 0, /* not forced yet */
    FL_LANG_NULL,
    FL_LANG_BOOL,
    FL_LANG_INT,
    FL_LANG_FLOAT,
    FL_LANG_STRING,
    FL_LANG_PATH,
    FL_LANG_ATTRS,
    FL_LANG_LIST,
    FL_LANG_FUNCTION, /* lambda, primop or partly applied primop */
};

/* NULL cfg = defaults (impure, system from uname). */
fl_lang *fl_lang_new(const fl_lang_config *cfg);
void fl_lang_free(fl_lang *L);

/* Parses and evaluates (to weak head normal form) a file, or a directory's default.nix.
 * Files are cached per canonical path like `import`. */
int fl_lang_eval_file(fl_lang *L, const char *path, fl_value **out, fl_error *err);
/* Parses and evaluates source text; `name` is the file name shown in positions (may be
 * "«string»"), relative paths resolve against base_dir (NULL = current directory). */
int fl_lang_eval_string(fl_lang *L, const char *src, const char *name, const char *base_dir,
                        fl_value **out, fl_error *err);

/* Forces v to weak head normal form in place / deeply (every attribute and element). */
int fl_lang_force(fl_lang *L, fl_value *v, fl_error *err);
int fl_lang_force_deep(fl_lang *L, fl_value *v, fl_error *err);

/* The value at an attribute path of v, as nix-instantiate -A finds it ("a.b.0", quoted
 * "a.\"x.y\""; a number indexes a list), forced. *out points into v. Functions are not
 * auto-called. */
int fl_lang_select_path(fl_lang *L, fl_value *v, const char *path, fl_value **out,
                        fl_error *err);

/* Queries on a value (no forcing: call fl_lang_force first). */
enum fl_lang_type fl_lang_type(const fl_value *v);
/* Nix's name of the type: "int", "string", "set", "lambda", ... (builtins.typeOf). */
const char *fl_lang_type_name(const fl_value *v);
int64_t fl_lang_get_int(const fl_value *v);
double fl_lang_get_float(const fl_value *v);
int fl_lang_get_bool(const fl_value *v);
/* String contents (NUL-terminated) and length; for paths the absolute path. */
const char *fl_lang_get_string(const fl_value *v, size_t *len);

/* A string's context: the store objects it refers to, in Nix's three kinds (and Nix's
 * encoding, shown beside each). Whoever turns strings into a build (a derivation's
 * references) takes them from here, never by looking for store paths in the text: a string
 * can mention a path it does not depend on (builtins.unsafeDiscardStringContext), and depend
 * on one it does not mention (builtins.substring 0 0). */
enum fl_lang_ctx_kind {
    FL_LANG_CTX_PATH,     /* "/store/p": a store path itself (a source, a text, an output) */
    FL_LANG_CTX_OUTPUT,   /* "!out!/store/d.drv": output `output` of the derivation `path` */
    FL_LANG_CTX_DRV_DEEP, /* "=/store/d.drv": the derivation file `path` and its closure */
};
typedef struct fl_lang_ctx_entry {
    enum fl_lang_ctx_kind kind;
    const char *path;   /* a store path (the .drv for OUTPUT and DRV_DEEP) */
    const char *output; /* the output's name for FL_LANG_CTX_OUTPUT, else NULL */
} fl_lang_ctx_entry;

/* The context of a string value (forced; anything else has none): *out gets n entries in
 * Nix's order (sorted by their encoding, no duplicates), valid until fl_lang_free. Returns
 * n. */
size_t fl_lang_string_context(fl_lang *L, const fl_value *v, const fl_lang_ctx_entry **out);

/* Attribute sets. Lookup does not force the attribute's value. Returns 0, or FL_ENOTFOUND
 * (err untouched). pos (may be NULL) receives where the attribute was defined. */
int fl_lang_attrs_get(fl_lang *L, const fl_value *set, const char *name, fl_value **out,
                      fl_lang_pos *pos);
size_t fl_lang_attrs_size(const fl_value *set);
/* i-th attribute in name order (bytewise, as printed). Any of the out pointers may be NULL. */
void fl_lang_attrs_at(fl_lang *L, const fl_value *set, size_t i, const char **name,
                      fl_value **val, fl_lang_pos *pos);

size_t fl_lang_list_size(const fl_value *list);
fl_value *fl_lang_list_at(const fl_value *list, size_t i);

/* Calls a function value (lambda, primop, set with __functor) with one argument, forcing the
 * result to weak head normal form. */
int fl_lang_call(fl_lang *L, fl_value *fn, fl_value *arg, fl_value **out, fl_error *err);

/* Building values from C. Strings are copied. */
fl_value *fl_lang_mk_null(fl_lang *L);
fl_value *fl_lang_mk_bool(fl_lang *L, int b);
fl_value *fl_lang_mk_int(fl_lang *L, int64_t i);
fl_value *fl_lang_mk_float(fl_lang *L, double f);
fl_value *fl_lang_mk_string(fl_lang *L, const char *s, size_t len);
/* A string carrying a context (entries as fl_lang_string_context gives them; copied). A
 * store object made by native code (a build's output, a fetched tree) is handed out this way
 * so that strings built from it keep referring to it. */
fl_value *fl_lang_mk_string_ctx(fl_lang *L, const char *s, size_t len, const fl_lang_ctx_entry *ctx,
                                size_t nctx);
fl_value *fl_lang_mk_path(fl_lang *L, const char *abs_path);
/* The elements are referenced, not copied. */
fl_value *fl_lang_mk_list(fl_lang *L, size_t n, fl_value *const *elems);

typedef struct fl_lang_attrs_builder fl_lang_attrs_builder;
fl_lang_attrs_builder *fl_lang_attrs_begin(fl_lang *L, size_t size_hint);
/* A later add of the same name replaces the earlier one. pos may be NULL. */
void fl_lang_attrs_add(fl_lang_attrs_builder *b, const char *name, fl_value *v,
                       const fl_lang_pos *pos);
/* Finishes the set; the builder is consumed. */
fl_value *fl_lang_attrs_end(fl_lang_attrs_builder *b);

/* Native functions. The callback receives `arity` arguments (not forced: use
 * fl_lang_force), stores its result in *result and returns 0, or fills err and returns a
 * negative code (the evaluator then reports it at the call's position unless err->file is
 * set). ud is passed through unchanged. */
typedef int (*fl_lang_primop_fn)(fl_lang *L, void *ud, fl_value **args, fl_value **result,
                                 fl_error *err);
fl_value *fl_lang_mk_primop(fl_lang *L, const char *name, int arity, fl_lang_primop_fn fn,
                            void *ud);

/* Adds `name` to the `builtins` set and, when top_level, to the scope every later parsed
 * file sees (like `map` or `toString`). Call before evaluating code that uses it. */
void fl_lang_add_builtin(fl_lang *L, const char *name, fl_value *v, int top_level);

/* Printing. nix format exactly as `nix-instantiate --eval` (strict: force deeply first, as
 * --strict does; otherwise unevaluated parts print as <CODE>), no trailing newline. */
int fl_lang_print(fl_lang *L, fl_value *v, int strict, fl_strbuf *out, fl_error *err);
/* Appends err (from an evaluation of L made with frames_nix) to out as nix-instantiate 2.8
 * prints an error with --show-trace: "error: MESSAGE", the location with the source lines
 * around it, "Did you mean ...?", then each frame, every line after the first indented. */
void fl_lang_format_error(fl_lang *L, const fl_error *err, fl_strbuf *out);
/* JSON exactly as `nix-instantiate --eval --json [--strict]`: strict forces as it goes (like
 * builtins.toJSON); otherwise an unevaluated part is the error "cannot convert a thunk". */
int fl_lang_print_json(fl_lang *L, fl_value *v, int strict, fl_strbuf *out, fl_error *err);

/* A lazy application `fn arg`: nothing is called until the result is forced (then exactly
 * once, like any thunk). Lets native code hand out values computed on demand. */
fl_value *fl_lang_mk_app(fl_lang *L, fl_value *fn, fl_value *arg);
/* n zeroed bytes that live as long as L (freed by fl_lang_free, never earlier): for native
 * code whose data is referenced from values. */
void *fl_lang_alloc(fl_lang *L, size_t n);

/* A copy of the (forced) set whose missing-attribute errors, for `set.x` and for `x` inside
 * `with set;`, read "no NOUN 'x' in IN" with "did you mean" (the module layer labels pkgs
 * this way). noun must not contain a space. Any other value is returned unchanged. */
fl_value *fl_lang_label_set(fl_lang *L, fl_value *set, const char *noun, const char *in);

/* Where a lambda was defined (FL_ENOTFOUND for other values). */
int fl_lang_lambda_pos(fl_lang *L, const fl_value *fn, fl_lang_pos *pos);
/* Sets err's location from pos (no-op when pos->file is NULL). */
void fl_lang_error_at(fl_error *err, const fl_lang_pos *pos);

#endif
