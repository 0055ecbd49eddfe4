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

void fl_act_wsl_print(const fl_act_plan *p, FILE *out) {
    json_t *a = wsl_conf(p->old), *b = wsl_conf(p->new);
    if (!b && !a)
        return;
    if (!a)
        a = json_object();
    if (!b)
        b = json_object();
    fl_strbuf sb;
    fl_strbuf_init(&sb, 256);
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v) {
        const char *was = fl_act_jstr(a, key, NULL);
        if (!was)
            fl_strbuf_addf(&sb, "    + %s = %s\n", key, json_string_value(v));
        else if (strcmp(was, json_string_value(v)))
            fl_strbuf_addf(&sb, "    ~ %s: %s -> %s\n", key, was, json_string_value(v));
    }
    json_object_foreach(a, key, v) {
        if (!json_object_get(b, key))
            fl_strbuf_addf(&sb, "    - %s\n", key);
    }
    if (sb.len) {
        fputs("  WSL (/etc/wsl.conf):\n", out);
        fputs(sb.buf, out);
        fputs("    takes effect when the distribution restarts: run `wsl.exe --shutdown` in "
              "Windows, then open it again\n",
              out);
    }
    fl_strbuf_release(&sb);
    json_decref(a);
    json_decref(b);
}
