/* internal.h - helpers shared by the files of src/module, never seen outside it. */
#ifndef FLAKECTL_MODULE_INTERNAL_H
#define FLAKECTL_MODULE_INTERNAL_H

#include <stddef.h>

#include "flakectl/lang.h"

/* Splits an option path "a.b.\"c.d\"" into its names; returns how many. *out and each name
 * are owned by the caller. */
size_t fl_module_split_dotted(const char *s, char ***out);

#endif
