#!/usr/bin/env python3
"""rename-lang-prefix.py - gives src/lang's exported names their lang_ prefix in the files
named on the command line (identifiers only: comments, strings and members after . or ->
stay). For bringing a branch written before the rename up to date:

    scripts/rename-lang-prefix.py src/lang/*.c src/lang/*.h tests/unit/lang/*.[ch]

Idempotent: a name that already has the prefix is left alone."""
import re
import sys

NAMES = set("""
add_base
alloc_attrs
alloc_elems
alloc_env
alloc_value
arena_alloc_slow
arena_budget
arena_init
arena_out_of_memory
arena_release
arena_strndup
arena_zalloc
astr_add
astr_addch
astr_addf
astr_init
attrs_find
attrs_sort
attrs_sorted_by_name
attrs_sorted_by_name_cached
builtins_init
builtins_release
call_function
call_function2
catch_end
catch_unwind
closest_name
coerce_to_path
coerce_to_string
compare_values
ctx_merge
derivation_release
err_set_pos
eval
eval_file
force_attrs
force_bool
force_deep
force_float
force_function
force_int
force_list
force_slow
force_string
force_string_noctx
format_float
is_derivation
json_to_value
lex_all
lookup_base
make_store_path
materialise
maybe_thunk
mk_list
mk_path
mk_string
mk_string_copy
parse_source
path_to_store
path_to_store_named
pos_make
pos_value_file
prim_derivation_strict
print_string_lit
print_value
ptrset_add
show_expr
show_type
stack_check
store_path_for_text
sym_intern
sym_intern_name
to_json
tok_describe
toml_to_value
type_name
values_equal
""".split())

TOKEN = re.compile(r"""(//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'"""
                   r"""|[A-Za-z_][A-Za-z0-9_]*|->|.)""", re.S)


def rename(text):
    out, prev = [], ""
    for m in TOKEN.finditer(text):
        t = m.group(0)
        out.append("lang_" + t if t in NAMES and prev not in (".", "->") else t)
        if not t.isspace():
            prev = t
    return "".join(out)


for path in sys.argv[1:]:
    with open(path) as f:
        text = f.read()
    new = rename(text)
    if new != text:
        with open(path, "w") as f:
            f.write(new)
        print("renamed in", path)
