/* reference.c - the options reference in its two forms, flakectl-configuration(5) and
 * docs/options.md, written from the declared options (fl_option_doc, src/module/
 * reference.c). The build regenerates both (cmake/docs.cmake) and a test keeps the
 * checked-in Markdown current. Prints only. */
#include <string.h>

#include "man.h"

#define INTRO                                                                                      \
    "Every option a host's configuration can set, declared by flakectl's bundled modules "         \
    "(the names follow NixOS, home-manager, nix-darwin and NixOS-WSL). In a name, `<name>` "       \
    "stands for any attribute name and `*` for an element of a list. The options of "              \
    "bundled/darwin.nix act on macOS hosts (platform = \"darwin\"), those of bundled/wsl.nix "     \
    "on WSL hosts; the others everywhere."

/* ---- Markdown ---- */

/* `text` as inline code, with a fence longer than any run of backticks inside. */
static void md_code(FILE *out, const char *s) {
    size_t run = 0, longest = 0;
    for (const char *p = s; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        longest = run > longest ? run : longest;
    }
    for (size_t i = 0; i <= longest; i++)
        fputc('`', out);
    fprintf(out, "%s%s%s", s[0] == '`' ? " " : "", s, s[strlen(s) - 1] == '`' ? " " : "");
    for (size_t i = 0; i <= longest; i++)
        fputc('`', out);
}

/* Prose: '<' outside code spans is written &lt; (pkgs.<name> is no HTML tag to drop). */
static void md_text(FILE *out, const char *s) {
    int in_code = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '`')
            in_code = !in_code;
        if (*p == '<' && !in_code)
            fputs("&lt;", out);
        else
            fputc(*p, out);
    }
}

static void md_value(FILE *out, const char *label, const char *v) {
    if (strchr(v, '\n'))
        fprintf(out, "*%s:*\n\n```nix\n%s\n```\n\n", label, v);
    else if (*v) {
        fprintf(out, "*%s:* ", label);
        md_code(out, v);
        fputs("\n\n", out);
    }
}

void fl_md_write_options(const fl_option_doc *docs, size_t n, FILE *out) {
    fputs("# Options reference\n\n"
          "<!-- Generated from the option declarations by `flakectl option --reference "
          "markdown`; do not edit.\n"
          "     After changing a module under src/module/bundled/, run\n"
          "     `cmake --build build --target options-doc` (docs/cli.md). -->\n\n",
          out);
    fputs(INTRO "\n\n", out);
    fputs("The same list is `man 5 flakectl-configuration`; `flakectl option --search WORD` "
          "searches it offline, with the options your own flake declares; `flakectl option "
          "--host H NAME` shows an option's value on a host.\n\n",
          out);
    /* an index: each first word, linked to its first option (GitHub's heading anchors) */
    fputs("By the first part of the name:", out);
    for (size_t i = 0; i < n; i++) {
        size_t w = strcspn(docs[i].name, ".");
        if (i && !strncmp(docs[i - 1].name, docs[i].name, w) && strcspn(docs[i - 1].name, ".") == w)
            continue;
        fprintf(out, "%s[%.*s](#", i ? " · " : " ", (int)w, docs[i].name);
        for (const char *p = docs[i].name; *p; p++)
            if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')
                fputc(*p, out);
            else if (*p >= 'A' && *p <= 'Z')
                fputc(*p - 'A' + 'a', out);
        fputc(')', out);
    }
    fputs(".\n\n", out);
    for (size_t i = 0; i < n; i++) {
        const fl_option_doc *d = &docs[i];
        fputs("## ", out);
        md_code(out, d->name);
        fputs("\n\n", out);
        if (*d->description) {
            md_text(out, d->description);
            fputs("\n\n", out);
        }
        fputs("*Type:* ", out);
        md_text(out, d->type);
        fputs("\n\n", out);
        if (d->default_text)
            md_value(out, "Default", d->default_text);
        if (d->example_text)
            md_value(out, "Example", d->example_text);
        if (d->bundled)
            fprintf(out, "*Declared in:* [%s](../src/module/%s)\n\n", d->file, d->file);
        else
            fprintf(out, "*Declared in:* %s\n\n", d->file);
    }
}

/* ---- man(5) ---- */

static void man_value(FILE *out, const char *label, const char *v) {
    fprintf(out, ".sp\n\\fI%s:\\fR\n.RS 4\n.nf\n", label);
    /* line by line: a value's layout is kept as written */
    for (const char *p = v; *p;) {
        size_t k = strcspn(p, "\n");
        fl_roff_escaped(out, p, k, 1);
        fputc('\n', out);
        p += k;
        if (*p)
            p++;
    }
    fputs(".fi\n.RE\n", out);
}

void fl_man_write_options(const fl_option_doc *docs, size_t n, FILE *out) {
    fl_roff_th(out, "flakectl-configuration", 5);
    fputs(".SH NAME\nflakectl\\-configuration \\- the options of a flakectl host's "
          "configuration\n",
          out);
    fputs(".SH DESCRIPTION\nA flake's \\fIhosts\\fR are configured by modules: functions of "
          "\\fI{ config, lib, pkgs, host, ... }\\fR setting the options below, as in "
          "NixOS's \\fIconfiguration.nix\\fR.\n.PP\n",
          out);
    fl_roff_text(out, INTRO);
    fputs(".PP\n\\fBflakectl option \\-\\-search\\fR \\fIWORD\\fR searches this list (and a "
          "flake's own options); \\fBflakectl option \\-\\-host\\fR \\fIH NAME\\fR shows an "
          "option's value on a host.\n.SH OPTIONS\n",
          out);
    for (size_t i = 0; i < n; i++) {
        const fl_option_doc *d = &docs[i];
        fputs(".PP\n\\fB", out);
        fl_roff_escaped(out, d->name, strlen(d->name), 0);
        fputs("\\fR\n.RS 4\n", out);
        if (*d->description)
            fl_roff_text(out, d->description);
        fputs(".sp\n\\fIType:\\fR ", out);
        fl_roff_escaped(out, d->type, strlen(d->type), 0);
        fputc('\n', out);
        if (d->default_text)
            man_value(out, "Default", d->default_text);
        if (d->example_text)
            man_value(out, "Example", d->example_text);
        fputs(".sp\n\\fIDeclared in:\\fR ", out);
        fl_roff_escaped(out, d->file, strlen(d->file), 0);
        fputs("\n.RE\n", out);
    }
    fputs(".SH SEE ALSO\n\\fBflakectl\\fR(1), \\fBflakectl\\-option\\fR(1)\n", out);
}
