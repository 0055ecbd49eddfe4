/* link_farm.c - `flakectl link-farm`: the builder of a host's toplevel. Reads the manifest
 * named by $manifestPath ("l\tDEST\tSOURCE" symlink, "c\tDEST\tSOURCE" copy, one per line,
 * "d\tDIR\t-" an empty directory, DEST relative to $out) and lays the tree out in one process, where a shell builder would
 * fork a process per file. Runs inside a store build (cleared environment, $out set). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opt.h"
#include "flakectl/cli.h"
#include "flakectl/fs.h"
#include "flakectl/strbuf.h"

static int copy_file(const char *src, const char *dest, fl_error *err) {
    char *data = NULL;
    size_t len = 0;
    int rc = fl_read_file(src, &data, &len, err);
    if (rc < 0)
        return rc;
    int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) {
        free(data);
        return fl_error_errno(err, "cannot create %s", dest);
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            free(data);
            return fl_error_errno(err, "cannot write %s", dest);
        }
        off += (size_t)n;
    }
    free(data);
    return close(fd) < 0 ? fl_error_errno(err, "cannot write %s", dest) : FL_OK;
}

static int lay_out(const char *out, char *manifest, fl_error *err) {
    fl_strbuf last_dir;
    fl_strbuf_init(&last_dir, 0);
    int rc = fl_mkdir_p(out, 0755, err);
    for (char *line = manifest; rc == 0 && line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *dest = strchr(line, '\t');
        char *src = dest ? strchr(dest + 1, '\t') : NULL;
        if (!dest || !src || !strchr("lcd", line[0]) || dest != line + 1) {
            rc = fl_error_set(err, FL_EPARSE, "link-farm: bad manifest line '%s'", line);
            break;
        }
        *dest++ = '\0';
        *src++ = '\0';
        if (strstr(dest, "..") || dest[0] == '/') {
            rc = fl_error_set(err, FL_EPARSE, "link-farm: destination '%s' leaves $out", dest);
            break;
        }
        char *path = fl_path_join(out, dest);
        if (line[0] == 'd') {
            rc = fl_mkdir_p(path, 0755, err);
            free(path);
            line = next;
            continue;
        }
        char *slash = strrchr(path, '/');
        *slash = '\0';
        /* Manifests are sorted, so consecutive entries mostly share their directory. */
        if (strcmp(last_dir.buf, path) != 0) {
            rc = fl_mkdir_p(path, 0755, err);
            fl_strbuf_reset(&last_dir);
            fl_strbuf_adds(&last_dir, path);
        }
        *slash = '/';
        if (rc == 0 && line[0] == 'l' && symlink(src, path) < 0)
            rc = fl_error_errno(err, "cannot link %s", path);
        else if (rc == 0 && line[0] == 'c')
            rc = copy_file(src, path, err);
        free(path);
        line = next;
    }
    fl_strbuf_release(&last_dir);
    return rc;
}

static int cmd_link_farm(int argc, char **argv);

const fl_opt_cmd fl_cmd_link_farm = {
    "link-farm",
    "internal: lay out a host's toplevel from a manifest (a store builder)",
    "   (with out=DIR manifestPath=FILE in the environment)",
    "The builder of a host's toplevel, run by the store in a build's cleared environment:\n"
    "reads the manifest named by $manifestPath (\"l\\tDEST\\tSOURCE\" symlink,\n"
    "\"c\\tDEST\\tSOURCE\" copy, \"d\\tDIR\\t-\" a directory; DEST relative to $out) and\n"
    "lays the tree out in one process.\n",
    NULL,
    NULL,
    cmd_link_farm,
};

static int cmd_link_farm(int argc, char **argv) {
    fl_error err = FL_ERROR_INIT;
    int prc = fl_opt_parse(&fl_cmd_link_farm, NULL, argc, argv);
    if (prc != FL_OPT_RUN)
        return prc;
    const char *out = getenv("out"), *manifest_path = getenv("manifestPath");
    if (!out || !manifest_path)
        return fl_opt_usage(&fl_cmd_link_farm, "needs $out and $manifestPath in the environment");
    char *manifest = NULL;
    size_t len = 0;
    int rc = fl_read_file(manifest_path, &manifest, &len, &err);
    if (rc == 0)
        rc = lay_out(out, manifest, &err);
    free(manifest);
    return rc < 0 ? fl_cli_report(&err) : FL_EXIT_OK;
}
