/* libcurl.c - loads libcurl on first use (flakectl/libcurl.h) and initialises it once. The
 * table and the outcome are written once, under pthread_once, and only read afterwards. */
#include <pthread.h>
#include <stdio.h>

#include "flakectl/dynlib.h"
#include "flakectl/libcurl.h"

#define FL_LIBCURL_NAME(name) "curl_" #name,
static const char *const names[] = {FL_LIBCURL_FUNCTIONS(FL_LIBCURL_NAME)};
#undef FL_LIBCURL_NAME

static pthread_once_t once = PTHREAD_ONCE_INIT;
static fl_libcurl table;
static int loaded; /* 1 when table is usable */
static char why[512];

static void load(void) {
    fl_dynlib_fn fns[sizeof names / sizeof *names];
    fl_error err = FL_ERROR_INIT;
    if (fl_dynlib_load("libcurl.so.4", "libcurl4", names, fns, sizeof names / sizeof *names,
                       &err) < 0) {
        snprintf(why, sizeof why, "%s", err.message ? err.message : "cannot load libcurl");
        fl_error_clear(&err);
        return;
    }
    fl_libcurl api;
    size_t i = 0;
#define FL_LIBCURL_SET(name) api.name = (__typeof__(api.name))fns[i++];
    FL_LIBCURL_FUNCTIONS(FL_LIBCURL_SET)
#undef FL_LIBCURL_SET
    CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(why, sizeof why, "libcurl failed to start: %s", api.easy_strerror(rc));
        return;
    }
    table = api;
    loaded = 1;
}

const fl_libcurl *fl_libcurl_get(fl_error *err) {
    pthread_once(&once, load);
    if (loaded)
        return &table;
    fl_error_set(err, FL_EGENERIC, "%s", why);
    return NULL;
}
