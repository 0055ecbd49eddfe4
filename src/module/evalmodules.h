/* evalmodules.h - the native module-system engine (evalmodules.c), internal to src/module. */
#ifndef FLAKECTL_MODULE_EVALMODULES_H
#define FLAKECTL_MODULE_EVALMODULES_H

#include "flakectl/lang.h"

/* Adds builtins.__flakectlEvalModules and __flakectlActiveDefs, which nix/modules.nix uses
 * in place of its own engine when present. */
void fl_module_register_native(fl_lang *L);

#endif
