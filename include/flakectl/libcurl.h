/* libcurl.h - the one place flakectl gets libcurl's functions from (util/http.c, the one HTTP
 * client of store fetches and binary caches, calls through it). libcurl is opened on the first download, not
 * at start-up (flakectl/dynlib.h says why); the types are libcurl's own, so a call through
 * the table is checked by the compiler as a direct call would be. */
#ifndef FLAKECTL_LIBCURL_H
#define FLAKECTL_LIBCURL_H

#include <curl/curl.h>

#include "flakectl/error.h"

/* Every libcurl function flakectl calls; a new one is added here and nowhere else. */
#define FL_LIBCURL_FUNCTIONS(X)                                                                \
    X(global_init)                                                                             \
    X(easy_init)                                                                               \
    X(easy_reset)                                                                              \
    X(easy_setopt)                                                                             \
    X(easy_perform)                                                                            \
    X(easy_getinfo)                                                                            \
    X(easy_strerror)                                                                           \
    X(easy_cleanup)                                                                            \
    X(slist_append)                                                                            \
    X(slist_free_all)

/* curl_easy_setopt is also a type-checking macro in curl/curl.h; __typeof__ of the bare name
 * is the function's declared type. */
#define FL_LIBCURL_FIELD(name) __typeof__(curl_##name) *name;
typedef struct fl_libcurl {
    FL_LIBCURL_FUNCTIONS(FL_LIBCURL_FIELD)
} fl_libcurl;
#undef FL_LIBCURL_FIELD

/* libcurl's functions, loaded and curl_global_init'ed on the first call in the process;
 * NULL with err set (what is missing and how to install it) when libcurl cannot be loaded
 * or initialised. Thread-safe; the table lives as long as the process. */
const fl_libcurl *fl_libcurl_get(fl_error *err);

#endif
