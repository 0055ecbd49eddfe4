/* flake.c - finding the user's flake directory. Never evaluates anything itself. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/fs.h"
#include "flakectl/flake.h"
#include "flakectl/strbuf.h"

char *fl_flake_find_dir(const char *flag, fl_error *err) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) {
        fl_error_errno(err, "cannot determine the current directory");
        return NULL;
    }
    if (flag) {
        char *dir = fl_canon_path(flag, cwd);
        char *nix = fl_path_join(dir, "flake.nix");
        int ok = fl_path_exists(nix);
        free(nix);
        if (!ok) {
            fl_error_set(err, FL_ENOTFOUND, "%s holds no flake.nix", dir);
            fl_error_set_hint(err, "point --flake at the directory that contains flake.nix");
            free(dir);
            return NULL;
        }
        return dir;
    }
    char *dir = fl_xstrdup(cwd);
    for (;;) {
        char *nix = fl_path_join(dir, "flake.nix");
        int ok = fl_path_exists(nix);
        free(nix);
        if (ok)
            return dir;
        char *slash = strrchr(dir, '/');
        if (!slash || dir[1] == '\0')
            break;
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    free(dir);
    fl_error_set(err, FL_ENOTFOUND, "no flake.nix in %s or any directory above it", cwd);
    fl_error_set_hint(err, "run flakectl inside your configuration repository, or pass --flake DIR");
    return NULL;
}

char *fl_host_default_name(void) {
    char name[256];
    if (gethostname(name, sizeof name) != 0)
        return fl_xstrdup("localhost");
    name[sizeof name - 1] = '\0';
    char *dot = strchr(name, '.');
    if (dot)
        *dot = '\0';
    return fl_xstrdup(name);
}
