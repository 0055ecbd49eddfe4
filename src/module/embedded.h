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

#endif
