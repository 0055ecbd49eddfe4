/* wsl.c - what a change of /etc/wsl.conf means on WSL: the file itself is an ordinary managed
 * /etc file (files.c), but WSL reads it only when the distribution starts, so the plan names
 * each setting that changed and says that `wsl.exe --shutdown` (from Windows) applies it.
 * Reads the two generations' copies of the file; changes nothing. */
#include <stdlib.h>
#include <string.h>

#include "activate/internal.h"
#include "flakectl/fs.h"

/* "section.key=value" lines of an ini text, comments and blanks dropped, as a JSON object. */
static json_t *parse_ini(const char *text) {
    json_t *o = json_object();
    char section[128] = "";
    for (const char *s = text; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        while (n && (*s == ' ' || *s == '\t'))
            s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\r'))
            n--;
        if (n && *s == '[' && s[n - 1] == ']' && n - 2 < sizeof section) {
            memcpy(section, s + 1, n - 2);
            section[n - 2] = '\0';
        } else if (n && *s != '#' && *s != ';') {
            const char *eq = memchr(s, '=', n);
            if (eq) {
                size_t kl = (size_t)(eq - s);
                while (kl && s[kl - 1] == ' ')
                    kl--;
                const char *v = eq + 1;
                while (v < s + n && *v == ' ')
                    v++;
                char *key = fl_xasprintf("[%s] %.*s", section, (int)kl, s);
                json_object_set_new(o, key, json_stringn(v, (size_t)(s + n - v)));
                free(key);
            }
        }
        s = nl ? nl + 1 : NULL;
    }
    return o;
}

static json_t *wsl_conf(const fl_toplevel *t) {
    const json_t *e = json_object_get(json_object_get(t->profile, "etc"), "wsl.conf");
    const char *src = fl_act_jstr(e, "source", NULL);
    char *text = NULL;
    size_t len;
    if (!src || fl_read_file(src, &text, &len, NULL))
        return NULL;
    json_t *o = parse_ini(text);
    free(text);
    return o;
}

/* The settings that change: {"change", "key", "from", "to"} in the new file's order, then
 * the ones that go. NULL when neither generation has a wsl.conf. */
static json_t *wsl_changes(const fl_act_plan *p) {
    json_t *a = wsl_conf(p->old), *b = wsl_conf(p->new);
    if (!b && !a)
        return NULL;
    if (!a)
        a = json_object();
    if (!b)
        b = json_object();
    json_t *changes = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v) {
        const char *was = fl_act_jstr(a, key, NULL);
        if (!was || strcmp(was, json_string_value(v)))
            json_array_append_new(changes, json_pack("{s:s, s:s, s:o, s:O}", "change",
                                                     was ? "update" : "add", "key", key, "from",
                                                     was ? json_string(was) : json_null(), "to", v));
    }
    json_object_foreach(a, key, v) {
        if (!json_object_get(b, key))
            json_array_append_new(changes, json_pack("{s:s, s:s, s:O, s:n}", "change", "remove",
                                                     "key", key, "from", v, "to"));
    }
    json_decref(a);
    json_decref(b);
    return changes;
}

#define WSL_RESTART "wsl.exe --shutdown"

json_t *fl_act_wsl_json(const fl_act_plan *p) {
    json_t *changes = wsl_changes(p);
    if (!changes)
        return json_null();
    return json_pack("{s:s, s:o, s:b, s:s}", "file", "/etc/wsl.conf", "changes", changes,
                     "restartNeeded", json_array_size(changes) > 0, "restartCommand",
                     WSL_RESTART);
}

void fl_act_wsl_print(const fl_act_plan *p, FILE *out) {
    json_t *changes = wsl_changes(p);
    if (!json_array_size(changes)) {
        json_decref(changes);
        return;
    }
    fputs("  WSL (/etc/wsl.conf):\n", out);
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c) {
        const char *change = fl_act_jstr(c, "change", ""), *key = fl_act_jstr(c, "key", "");
        if (!strcmp(change, "add"))
            fprintf(out, "    + %s = %s\n", key, fl_act_jstr(c, "to", ""));
        else if (!strcmp(change, "update"))
            fprintf(out, "    ~ %s: %s -> %s\n", key, fl_act_jstr(c, "from", ""),
                    fl_act_jstr(c, "to", ""));
        else
            fprintf(out, "    - %s\n", key);
    }
    fputs("    takes effect when the distribution restarts: run `" WSL_RESTART "` in "
          "Windows, then open it again\n",
          out);
    json_decref(changes);
}
