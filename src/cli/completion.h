/* completion.h - the hand-written halves of the shell completion scripts (src/cli/completion/),
 * compiled in by src/module/embed.cmake. Private to src/cli/. */
#ifndef FLAKECTL_CLI_COMPLETION_H
#define FLAKECTL_CLI_COMPLETION_H

#include <stddef.h>

struct fl_cli_file {
    const char *name; /* relative to src/cli/completion, e.g. "flakectl.bash" */
    const unsigned char *data;
    size_t len;
};

/* Terminated by an entry whose name is NULL. */
extern const struct fl_cli_file fl_cli_completion_files[];

#endif
