/* dynlib.h - shared libraries opened on first use instead of at start-up.
 *
 * libcurl, with the TLS, Kerberos, LDAP and IDN libraries it needs, was two thirds of the
 * start-up time of every flakectl command, `flakectl eval --expr 1` included, which never
 * downloads anything (docs/ARCHITECTURE.md, "Libraries loaded on first use"). The one
 * subsystem that uses such a library keeps a typed table of its functions, filled by
 * fl_dynlib_load() the first time it is needed; nobody else calls the library's functions. */
#ifndef FLAKECTL_DYNLIB_H
#define FLAKECTL_DYNLIB_H

#include <stddef.h>

#include "flakectl/error.h"

/* Any function pointer; the owner of a table casts each to its declared type. */
typedef void (*fl_dynlib_fn)(void);

/* Opens soname (as the dynamic linker would find it) and resolves names[0..n) into out[].
 * The library stays loaded for the life of the process. On failure nothing is kept and err's
 * message says which library or function is missing and which Debian package to install. Safe to
 * call from several threads; callers load once (pthread_once) and keep the table. */
int fl_dynlib_load(const char *soname, const char *package, const char *const *names,
                   fl_dynlib_fn *out, size_t n, fl_error *err);

#endif
