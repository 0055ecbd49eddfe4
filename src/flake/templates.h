/* templates.h - the flakes `flakectl init` writes (src/flake/templates/<name>/), compiled in
 * by src/module/embed.cmake. Private to src/flake/. */
#ifndef FLAKECTL_FLAKE_TEMPLATES_H
#define FLAKECTL_FLAKE_TEMPLATES_H

#include <stddef.h>

struct fl_flake_template_file {
    const char *name; /* "<template>/<path>", e.g. "seed/hosts/wsl/default.nix" */
    const unsigned char *data;
    size_t len;
};

/* Terminated by an entry whose name is NULL. */
extern const struct fl_flake_template_file fl_flake_template_files[];

#endif
