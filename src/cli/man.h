/* man.h - manual pages and the options reference, written from the tables they describe:
 * flakectl(1) and flakectl-COMMAND(1) from the option parser's tables (opt.h), and
 * flakectl-configuration(5) / docs/options.md from the declared options (fl_option_doc).
 * Private to src/cli/. */
#ifndef FLAKECTL_CLI_MAN_H
#define FLAKECTL_CLI_MAN_H

#include <stddef.h>
#include <stdio.h>

#include "flakectl/error.h"
#include "flakectl/module.h"
#include "opt.h"

/* Checks that cmd and its subcommands can be documented: every one has a summary, every
 * option and argument shown in --help has help text. The error names the command and the
 * option, and says where to add the text. */
int fl_man_check_command(const fl_opt_cmd *cmd, fl_error *err);

/* flakectl-NAME(1) for cmd (a top-level command), subcommands as sections. */
int fl_man_write_command(const fl_opt_cmd *cmd, FILE *out, fl_error *err);
/* flakectl(1): the command list and the global options. */
int fl_man_write_top(const fl_opt_cmd *const *cmds, FILE *out, fl_error *err);
/* Every page of section 1 into dir (created if missing): flakectl.1 and flakectl-NAME.1 per
 * command. Nothing is written unless every command passes fl_man_check_command. */
int fl_man_write_all(const char *dir, fl_error *err);

/* `flakectl help --man DIR` (argv[0] "--man"): fl_man_write_all, errors reported; returns
 * the exit status. How the build makes the pages (cmake/docs.cmake). */
int fl_man_command(int argc, char **argv);

/* The options reference as a man page (section 5) and as Markdown. */
void fl_man_write_options(const fl_option_doc *docs, size_t n, FILE *out);
void fl_md_write_options(const fl_option_doc *docs, size_t n, FILE *out);

/* Writes s as roff text: backslashes and minus signs escaped, a line starting with a
 * control character made literal, a blank line a paragraph break. */
void fl_roff_text(FILE *out, const char *s);
/* n bytes of s escaped, no line break added; at_start: they begin a line (where a '.' or
 * '\'' would be a request). */
void fl_roff_escaped(FILE *out, const char *s, size_t n, int at_start);
/* The page's title line (.TH) for name in section, and the settings every page shares. */
void fl_roff_th(FILE *out, const char *name, int section);

#endif
