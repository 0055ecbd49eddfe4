/* dynlib.c - opens a shared library on first use and resolves a table of its functions
 * (flakectl/dynlib.h). Never closes one: its functions may be in use on another thread. */
#include <dlfcn.h>
#include <string.h>

#include "flakectl/dynlib.h"

int fl_dynlib_load(const char *soname, const char *package, const char *const *names,
                   fl_dynlib_fn *out, size_t n, fl_error *err) {
    /* RTLD_NOW: a missing function is found here, with a message, not at the first call */
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        /* the whole advice in the message: callers that wrap it (an evaluation error) keep
         * only the message */
        return fl_error_set(err, FL_EGENERIC, "cannot load %s (%s): install the Debian package %s",
                            soname, why ? why : "not found", package);
    }
    for (size_t i = 0; i < n; i++) {
        dlerror();
        void *sym = dlsym(lib, names[i]);
        if (!sym) {
            fl_error_set(err, FL_EGENERIC, "%s has no function %s: it is older than the one "
                         "flakectl was built with; install the Debian package %s of the "
                         "release flakectl was built on", soname, names[i], package);
            dlclose(lib);
            memset(out, 0, n * sizeof *out);
            return FL_EGENERIC;
        }
        /* POSIX guarantees that a function's address survives the trip through void * */
        memcpy(&out[i], &sym, sizeof sym);
    }
    return FL_OK;
}
