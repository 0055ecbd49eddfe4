/* rootpath.c - paths and ids beneath --root: what activation and the secrets installer
 * (which places files under the same root) both need, below either of them. The names keep
 * their fl_act_ prefix from when activation owned them. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flakectl/beneath.h"
#include "flakectl/fs.h"
#include "flakectl/rootpath.h"
#include "flakectl/strbuf.h"

char *fl_act_root_path(const char *root, const char *abs) {
    if (!root || !strcmp(root, "/"))
        return fl_xstrdup(abs);
    return fl_path_join(root, abs);
}

int fl_act_root_open(const char *root, fl_error *err) {
    int fd = open(root ? root : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        fl_error_errno(err, "cannot open the root %s", root ? root : "/");
    return fd;
}


int fl_act_root_read(const char *root, const char *path, char **data, size_t *len, mode_t *mode,
                     fl_error *err) {
    int rootfd = fl_act_root_open(root, err);
    if (rootfd < 0)
        return FL_EIO;
    int rc = fl_beneath_read(rootfd, path, root, FL_BENEATH_NO_LINKS, data, len, mode, err);
    close(rootfd);
    return rc;
}


long fl_act_lookup_id(const char *root, const char *db, const char *name, int field) {
    char *rel = fl_xasprintf("/etc/%s", db);
    char *data = NULL;
    size_t len;
    long id = -1;
    if (!fl_act_root_read(root, rel, &data, &len, NULL, NULL)) {
        size_t nl = strlen(name);
        for (char *line = data; line && *line;) {
            char *end = strchr(line, '\n');
            if (end)
                *end = '\0';
            if (!strncmp(line, name, nl) && line[nl] == ':') {
                char *f = line;
                for (int i = 0; i < field && f; i++) {
                    f = strchr(f, ':');
                    if (f)
                        f++;
                }
                if (f)
                    id = strtol(f, NULL, 10);
                break;
            }
            line = end ? end + 1 : NULL;
        }
    }
    free(data);
    free(rel);
    return id;
}

