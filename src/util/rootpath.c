/* rootpath.c - paths and ids beneath --root: what activation and the secrets installer
 * (which places files under the same root) both need, below either of them. The names keep
 * their fl_act_ prefix from when activation owned them. */
#include <stdlib.h>
#include <string.h>

#include "flakectl/fs.h"
#include "flakectl/rootpath.h"
#include "flakectl/strbuf.h"

char *fl_act_root_path(const char *root, const char *abs) {
    if (!root || !strcmp(root, "/"))
        return fl_xstrdup(abs);
    return fl_path_join(root, abs);
}

long fl_act_lookup_id(const char *root, const char *db, const char *name, int field) {
    char *rel = fl_xasprintf("/etc/%s", db);
    char *path = fl_act_root_path(root, rel);
    char *data = NULL;
    size_t len;
    long id = -1;
    if (!fl_read_file(path, &data, &len, NULL)) {
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
    free(path);
    free(rel);
    return id;
}
