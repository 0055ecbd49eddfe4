/* regex.h - builtins.match's submatches computed the way Nix 2.8 (libstdc++ std::regex,
 * extended syntax) computes them; see regex.c. */
#ifndef FLAKECTL_LANG_REGEX_H
#define FLAKECTL_LANG_REGEX_H

#include <stddef.h>

/* Matches the whole of s against pattern; on success stores for each of the ngroups groups
 * its start and end offsets (groups[2*i], groups[2*i+1], -1 when it took no part) and returns
 * 0. Returns -1 when there is no match or when the pattern uses syntax this matcher leaves
 * to glibc (the caller then keeps glibc's submatches). */
int fl_lang_regex_groups(const char *pattern, const char *s, size_t len, int ngroups,
                         long *groups);

#endif
