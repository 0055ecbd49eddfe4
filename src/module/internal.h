/* internal.h - helpers shared by the files of src/module, never seen outside it. */
#ifndef FLAKECTL_MODULE_INTERNAL_H
#define FLAKECTL_MODULE_INTERNAL_H

#include <stddef.h>

#include "flakectl/lang.h"

/* Splits an option path "a.b.\"c.d\"" into its names; returns how many. *out and each name
 * are owned by the caller. */
size_t fl_module_split_dotted(const char *s, char ***out);

/* The same as a list of strings of the language (what the lookups of nix/ take), owned by L. */
fl_value *fl_module_path_value(fl_lang *L, const char *dotted);

#endif
