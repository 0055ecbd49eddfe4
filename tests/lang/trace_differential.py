#!/usr/bin/env python3
"""trace_differential.py - `flakectl eval --show-trace` against the oracle's nix-instantiate
(--eval --show-trace) on erroring programs: function calls (named, anonymous, curried, through
builtins that call with and without a call site), attribute selection (paths, dynamic names,
`or`, inherit), imports, nested builtins.addErrorContext, assert, throw inside a module-like
merge, --strict's attributes. Each program is a set of files in a fresh scratch directory
(the same path for both tools), evaluated as a file or as --expr; the whole of stderr must
be byte-identical, with one deliberate difference allowed (docs/language.md, "Errors"):
flakectl locates `throw` and `abort`, which Nix 2.8 leaves unlocated, so when nix's message
has no location block, flakectl's is taken out before comparing.
Exit status: 0 all agree, 1 a difference, 77 nix-instantiate missing.
Usage: [CASES="name ..."] trace_differential.py FLAKECTL
"""
import os
import shutil
import sys
import tempfile

import nixdiff

LIB = """{ x }:
{
  v = x + "str";
  w = builtins.addErrorContext "while evaluating the module argument `custom' in \\"lib.nix\\":"
    (x.y or (throw "no y"));
}
"""

# (name, {file: text}, what to evaluate: a file of the set or ("expr", text), strict)
CASES = [
    ("call-named", {"main.nix": "let\n  f = x: x.a + 1;\n  g = y: f y;\nin\n  g { c = 1; }\n"},
     "main.nix", False),
    ("call-anon", {}, ("expr", "(x: x.y) { }"), False),
    ("call-curried", {"main.nix": "let add = a: b: a + b; in add 1 \"two\"\n"}, "main.nix", False),
    ("call-formals-default", {"main.nix": "let f = { a, b ? a.c }: b + 1; in f { a = 2; }\n"},
     "main.nix", False),
    ("call-missing-arg", {"main.nix": "let f = { a, b }: a; in\nf { a = 1; }\n"}, "main.nix", False),
    ("call-deep", {"main.nix":
                   "let\n  h = n: if n == 0 then throw \"bottom\" else h (n - 1);\nin h 3\n"},
     "main.nix", False),
    ("call-map", {}, ("expr", "builtins.map (x: x.y) [ { y = 1; } { z = 2; } ]"), True),
    ("call-filter", {}, ("expr", "builtins.filter (x: x.y) [ { } ]"), False),
    ("call-foldl", {}, ("expr", "builtins.foldl' (a: x: a + x.y) 0 [ { } ]"), False),
    ("call-sort", {}, ("expr", "builtins.sort (a: b: a.y < b) [ 1 2 ]"), False),
    ("call-any", {}, ("expr", "builtins.any (x: x.y) [ { } ]"), False),
    ("call-genList", {}, ("expr", "builtins.genList (x: x.y) 1"), True),
    ("call-mapAttrs", {}, ("expr", "builtins.mapAttrs (n: x: x.y) { a = { }; }"), True),
    ("call-genericClosure", {},
     ("expr", "builtins.genericClosure { startSet = [ { key = 1; } ]; operator = x: x.y; }"),
     False),
    ("call-concatMap", {}, ("expr", "builtins.concatMap (x: x.y) [ { } ]"), False),
    ("suggest-several", {},
     ("expr", "{ ab = 1; ac = 2; b = 3; abc = 4; xy = 5; x1 = 6; x1x = 7; }.x"), False),
    ("suggest-five", {}, ("expr", "{ a = 1; b = 2; c = 3; d = 4; e = 5; f = 6; }.g"), False),
    ("suggest-argument", {}, ("expr", "({ ab, xyz ? 1 }: 1) { x = 1; ab = 2; }"), False),
    ("select-path", {"main.nix": "let s = { a = { b = throw \"deep\"; }; }; in s.a.b\n"},
     "main.nix", False),
    ("select-missing-later", {"main.nix":
                              "let s = { a = { c = 1; }; x = 5; }; in [ s.a.b ]\n"},
     "main.nix", True),
    ("select-missing-first", {}, ("expr", "let s = { a = 1; }; in s.b.c"), False),
    ("select-not-set", {"main.nix": "let s = { a = 1; }; in s.a.b\n"}, "main.nix", False),
    ("select-dynamic", {"main.nix":
                        "let n = \"k\"; s = { k.j = throw \"dyn\"; }; in s.${n}.j\n"},
     "main.nix", False),
    ("select-or", {}, ("expr", "let s = { a = { }; }; in s.a.b or (1 + \"x\")"), False),
    ("select-inherit", {"main.nix":
                        "let\n  s = { inherit (t) a; };\n  t = { a = throw \"x\"; };\nin s.a\n"},
     "main.nix", False),
    ("select-rec", {}, ("expr", "let s = rec { a = throw \"x\"; b = a; }; in s.b"), False),
    ("select-update", {}, ("expr", "let s = { a = 1 + \"x\"; } // { }; in s.a"), False),
    ("select-listToAttrs", {},
     ("expr", "let s = builtins.listToAttrs [ { name = \"a\"; value = 1 + \"x\"; } ]; in s.a"),
     False),
    ("import-attr", {"lib.nix": LIB, "main.nix": "(import ./lib.nix { x = 1; }).v\n"},
     "main.nix", False),
    ("import-toplevel", {"bad.nix": "1 + \"a\"\n", "main.nix": "let x = import ./bad.nix; in x\n"},
     "main.nix", False),
    ("import-nested", {"bad.nix": "{ a = 1; }.b\n", "mid.nix": "import ./bad.nix\n",
                       "main.nix": "[ (import ./mid.nix) ]\n"}, "main.nix", True),
    ("import-context", {"lib.nix": LIB, "main.nix": "(import ./lib.nix { x = { }; }).w\n"},
     "main.nix", False),
    ("context-nested", {"main.nix":
                        "let\n  m = builtins.addErrorContext \"outer context\" (\n"
                        "    builtins.addErrorContext \"inner context\" (1 + \"a\"));\n"
                        "in { r = m; }.r\n"}, "main.nix", False),
    ("context-coerced", {}, ("expr", "builtins.addErrorContext { __toString = s: \"from a set\"; }"
                                     " (builtins.addErrorContext ./. (throw \"x\"))"), False),
    ("context-in-call", {"main.nix":
                         "let f = x: builtins.addErrorContext \"while checking ${x}\" (x + 1);\n"
                         "in f \"s\"\n"}, "main.nix", False),
    ("assert", {"main.nix": "let f = { n }: assert n > 3; n; in f { n = 1; }\n"}, "main.nix",
     False),
    ("assert-nested", {}, ("expr", "let g = x: assert x; x; f = y: g y; in f false"), False),
    ("merge", {"main.nix":
               "let\n  mods = [ { a = 1; } { a = throw \"bad definition\"; } ];\n"
               "  merge = ms: builtins.foldl' (acc: m: acc // builtins.mapAttrs (n: v:\n"
               "    builtins.addErrorContext \"while merging `${n}'\" (v + (acc.${n} or 0))) m) { } ms;\n"
               "in (merge mods).a\n"}, "main.nix", False),
    ("merge-modules", {"main.nix":
                       "let\n"
                       "  evalMods = mods: builtins.foldl' (acc: m:\n"
                       "    let def = m { config = acc; }; in\n"
                       "    acc // builtins.listToAttrs (map (n: { name = n;\n"
                       "      value = builtins.addErrorContext \"while evaluating the option `${n}':\"\n"
                       "        (def.${n} + (acc.${n} or 0)); }) (builtins.attrNames def))) { } mods;\n"
                       "  cfg = evalMods [ ({ config }: { port = 80; }) ({ config }: { port = config.nope; }) ];\n"
                       "in cfg.port\n"}, "main.nix", False),
    ("strict-nested", {"main.nix": "{ a = 1; b = { c = [ 1 (throw \"x\") ]; }; }\n"}, "main.nix",
     True),
    ("strict-deepSeq", {}, ("expr", "let s = { a = { b = 1 + \"x\"; }; }; in builtins.deepSeq s 1"),
     False),
    ("tabs-and-blank-lines", {"main.nix": "let\n\tf = x:\n\n\t\tx.a;\nin f { }\n"}, "main.nix",
     False),
    ("abort", {"main.nix": "let f = x: abort \"stop ${x}\"; in f \"here\"\n"}, "main.nix", False),
    ("multi-line-messages", {}, ("expr", 'builtins.addErrorContext "ctx\nsecond\n\nlast" '
                                          '(throw "a\nb\n\nc")'), False),
    ("message-ends-in-newline", {}, ("expr", 'builtins.addErrorContext "ctx" '
                                              '(throw "a\nb\n")'), False),
    # a derivation's output, never built (toFile's texts are readable: docs/language.md)
    ("realise-import", {}, ("expr", 'import (derivation { name = "x.nix"; system = "s"; '
                                    'builder = "b"; })'), False),
    ("realise-readFile", {}, ("expr", 'let f = p: builtins.readFile p; in '
                                      'f "${derivation { name = "x.nix"; system = "s"; '
                                      'builder = "b"; }}/."'), False),
    ("type-error-builtin", {}, ("expr", "let f = s: builtins.substring 0 1 s; in f 3"), False),
]

def header_located(text):
    """Whether the error's own location block ("       at F:L:C:") precedes its frames."""
    for line in text.split("\n")[1:]:
        if line.startswith("       \u2026 "):
            return False
        if line.startswith("       at "):
            return True
    return False


def drop_header_location(text):
    """text without the location block of its error: from the blank line before "at" to the
    first frame (or the end)."""
    lines = text.split("\n")
    i = next(k for k, l in enumerate(lines) if k and l.startswith("       at "))
    j = i
    while j < len(lines) and not lines[j].startswith("       \u2026 "):
        j += 1
    if j >= len(lines):
        return "\n".join(lines[:i - 1]) + "\n"
    return "\n".join(lines[:i] + lines[j:])


def unlocate_like(nix_err, fl_err):
    """flakectl's stderr with its error's location taken out when Nix's has none (flakectl
    locates throw and abort; Nix 2.8 does not): (text, whether it was taken out)."""
    if header_located(fl_err) and not header_located(nix_err):
        return drop_header_location(fl_err), True
    return fl_err, False


def run_case(flakectl, nix, case, d):
    _, files, what, strict = case
    for rel, text in files.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    mode = ["--strict"] if strict else []
    if isinstance(what, tuple):
        nix_arg, fl_arg = ["--expr", what[1]], ["--expr", what[1]]
    else:
        nix_arg, fl_arg = [os.path.join(d, what)], ["--file", os.path.join(d, what)]
    res = []
    for cmd in (nix + ["--eval", "--show-trace"] + mode + nix_arg,
                [flakectl, "eval", "--show-trace"] + mode + fl_arg):
        rc, _, err = nixdiff.run_status(cmd, 60, cwd=d)
        res.append(("timeout", "") if rc is None else (rc, err))
    w, g = res
    located = False
    if w[0] == 1 and g[0] == 1:
        text, located = unlocate_like(w[1], g[1])
        g = (g[0], text)
    return w, g, located


def main():
    flakectl, _, nix = nixdiff.setup(__doc__, 0)
    flakectl = os.path.abspath(flakectl)
    only = set(os.environ.get("CASES", "").split())
    differ = agree = located = 0
    for case in CASES:
        if only and case[0] not in only:
            continue
        d = tempfile.mkdtemp(prefix="trace-diff.")
        try:
            w, g, loc = run_case(flakectl, nix, case, os.path.realpath(d))
        finally:
            shutil.rmtree(d, ignore_errors=True)
        if w[0] != 1:
            differ += 1
            print("FAIL %s: nix-instantiate did not fail as the case expects: %r" % (case[0], w))
        elif w == g:
            agree += 1
            located += loc
        else:
            differ += 1
            print("FAIL %s\n--- nix-instantiate (status %s)\n%s--- flakectl (status %s)\n%s"
                  % (case[0], w[0], w[1], g[0], g[1]))
    print("%d cases agree (%d with flakectl's location of a throw/abort taken out), %d differ"
          % (agree, located, differ))
    return 1 if differ or not agree else 0


if __name__ == "__main__":
    sys.exit(main())
