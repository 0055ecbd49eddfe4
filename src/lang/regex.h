/* regex.h - builtins.match and builtins.split as Nix 2.8 (libstdc++ std::regex, extended
 * syntax) runs them: which text matches and what each group captured; see regex.c. */
#ifndef FLAKECTL_LANG_REGEX_H
#define FLAKECTL_LANG_REGEX_H

#include <stddef.h>

typedef struct fl_lang_regex fl_lang_regex;

/* Compiles pattern, which glibc has already accepted with ngroups groups. NULL when it uses
 * syntax this matcher leaves to glibc (the caller then uses glibc throughout). */
fl_lang_regex *fl_lang_regex_compile(const char *pattern, int ngroups);
void fl_lang_regex_free(fl_lang_regex *rx);

enum {
    FL_RX_EXACT = 1,      /* match_mode exact: the match must cover s[start..len) */
    FL_RX_NOT_NULL = 2,   /* match_not_null: an empty match does not count */
    FL_RX_CONTINUOUS = 4, /* match_continuous: try no later start than start */
    FL_RX_NOT_BOL = 8,    /* match_prev_avail: `^` does not hold at start */
};

/* Searches s from start like std::regex_search. Returns 1 with the match in [*ms, *me) and
 * each group's start and end in groups[2*i], groups[2*i+1] (-1 when it took no part), 0 when
 * nothing matches, and -1 when the search gave up (pathological pattern; use glibc). */
int fl_lang_regex_exec(fl_lang_regex *rx, const char *s, size_t len, size_t start, int flags,
                       size_t *ms, size_t *me, long *groups);

#endif
