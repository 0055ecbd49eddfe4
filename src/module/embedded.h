/* embedded.h - the Nix files compiled into the binary (see embed.cmake). */
#ifndef FLAKECTL_MODULE_EMBEDDED_H
#define FLAKECTL_MODULE_EMBEDDED_H

#include <stddef.h>

struct fl_embedded_file {
    const char *name; /* relative to src/module, e.g. "nix/lib.nix", "bundled/users.nix" */
    const unsigned char *data;
    size_t len;
};

/* Terminated by an entry whose name is NULL. */
extern const struct fl_embedded_file fl_embedded_files[];

/* The bundled modules (the .nix files of bundle/bundled/, bundle from fl_module_bundle_dir)
 * as a list of paths, in the table's order; the list belongs to L. */
struct fl_lang;
struct fl_value;
struct fl_value *fl_module_bundled_list(struct fl_lang *L, const char *bundle);

#endif
