#!/usr/bin/env python3
"""coerce_differential.py - every builtin (and every construct) that takes a string, given
each kind of value a string may be coerced from: a plain string, a string with context, a set
with outPath, a set with __toString, a path, a derivation, and values that are not strings
(int, float, bool, null, list, set, function). Each pair is one expression, evaluated by
flakectl and by the real nix-instantiate (--eval --strict); both must succeed with the same
output, or both fail with the same first line of the message (the location is compared by
the conformance corpus, not here).
Exit status: 0 all agree, 1 a difference, 77 nix-instantiate missing.
Usage: coerce_differential.py FLAKECTL
"""
import os
import shutil
import sys
import tempfile

import nixdiff

# The values under test; @DIR@ is a scratch directory holding a file "f" (content "hello\n")
# so that paths can be read, hashed and copied (by name and content: the same for both).
VALUES = {
    "string": '"a/bc"',
    "context": '"${@DRV@}/x"',
    "outPath": '{ outPath = "/a/bc"; }',
    "outPathDrv": '{ outPath = @DRV@; }',
    "toString": '{ __toString = self: "ts/x"; }',
    "toStringSet": '{ __toString = self: { outPath = "/n/o"; }; }',
    "path": "@DIR@/f",
    "derivation": "@DRV@",
    "int": "42",
    "float": "1.5",
    "bool": "true",
    "null": "null",
    "list": '[ "a" 1 ]',
    "set": "{ a = 1; }",
    "lambda": "(x: x)",
}

# @X@ is the value under test.
TEMPLATES = [
    "builtins.unsafeDiscardStringContext @X@",
    "builtins.unsafeDiscardOutputDependency @X@",
    "builtins.hasContext @X@",
    "builtins.getContext @X@",
    "builtins.stringLength @X@",
    "builtins.substring 1 3 @X@",
    'builtins.concatStringsSep @X@ [ "p" "q" ]',
    'builtins.concatStringsSep "-" [ @X@ @X@ ]',
    'builtins.replaceStrings [ "b" ] [ "Z" ] @X@',
    'builtins.replaceStrings [ @X@ ] [ "Z" ] "a/bc"',
    'builtins.replaceStrings [ "b" ] [ @X@ ] "abc"',
    'builtins.match "(.*)c" @X@',
    'builtins.match @X@ "a/bc"',
    'builtins.split "/" @X@',
    'builtins.split @X@ "a/bc"',
    'builtins.hashString "sha256" @X@',
    'builtins.hashString @X@ "abc"',
    "builtins.baseNameOf @X@",
    "builtins.dirOf @X@",
    "builtins.toString @X@",
    "builtins.parseDrvName @X@",
    'builtins.compareVersions @X@ "1.0"',
    'builtins.compareVersions "1.0" @X@',
    "builtins.splitVersion @X@",
    "builtins.fromJSON @X@",
    "builtins.fromTOML @X@",
    'builtins.getAttr @X@ { "a/bc" = 1; }',
    'builtins.hasAttr @X@ { "a/bc" = 1; }',
    'builtins.removeAttrs { "a/bc" = 1; b = 2; } [ @X@ ]',
    'builtins.catAttrs @X@ [ { "a/bc" = 1; } ]',
    "builtins.listToAttrs [ { name = @X@; value = 1; } ]",
    'builtins.unsafeGetAttrPos @X@ { "a/bc" = 1; }',
    "builtins.placeholder @X@",
    'builtins.typeOf (builtins.getEnv @X@)',
    'builtins.toFile @X@ "t"',
    'builtins.toFile "n" @X@',
    "builtins.throw @X@",
    "builtins.abort @X@",
    "builtins.addErrorContext @X@ 1",
    "builtins.trace @X@ 1",
    "builtins.toPath @X@",
    "builtins.pathExists @X@",
    "builtins.readFile @X@",
    'builtins.hashFile "sha256" @X@',
    'builtins.hashFile @X@ @DIR@/f',
    "builtins.toJSON @X@",
    "builtins.typeOf (import @X@)",
    "builtins.storePath @X@",
    'builtins.findFile [ { prefix = @X@; path = @DIR@; } ] "a/bc/f"',
    '"${@X@}"',
    '@X@ + ""',
    '"" + @X@',
    "{ ${@X@} = 1; }",
    '{ "a/bc" = 1; }.${@X@} or 2',
    '(builtins.derivation { name = @X@; system = "s"; builder = "/b"; }).drvPath',
    '(builtins.derivation { name = "n"; system = "s"; builder = @X@; }).drvPath',
    '(builtins.derivation { name = "n"; system = "s"; builder = "/b"; args = [ @X@ ]; }).drvPath',
    '(builtins.derivation { name = "n"; system = "s"; builder = "/b"; e = @X@; }).drvPath',
    'builtins.path { path = @X@; name = "p"; }',
    'builtins.path { path = @DIR@/f; name = @X@; }',
    "builtins.filterSource (p: t: true) @X@",
    "builtins.toXML @X@",
    "builtins.appendContext @X@ { }",
    "builtins.scopedImport { } @X@",
]

DRV = '(builtins.derivation { name = "d"; system = "s"; builder = "/b"; })'


def main():
    flakectl, _, nix = nixdiff.setup(__doc__, 0)
    work = tempfile.mkdtemp(prefix="coerce-diff.")
    try:
        with open(os.path.join(work, "f"), "w") as f:
            f.write("hello\n")
        jobs = []
        for t in TEMPLATES:
            for vname, v in VALUES.items():
                e = t.replace("@X@", "(%s)" % v).replace("@DRV@", DRV).replace("@DIR@", work)
                jobs.append((t, vname, e))

        def one(job):
            t, _, e = job
            w = nixdiff.outcome(nix + ["--eval", "--strict", "--expr", e])
            g = nixdiff.outcome([flakectl, "eval", "--strict", "--expr", e])
            # toml11's own words after this prefix are not reproduced (docs/lang-builtins.md)
            cut = "while parsing a TOML string:"
            if t.startswith("builtins.fromTOML") and w[0] == g[0] == "error" \
                    and cut in w[1] and cut in g[1]:
                w, g = (w[0], w[1][:w[1].index(cut)]), (g[0], g[1][:g[1].index(cut)])
            return w, g

        differ = nixdiff.compare_all(
            jobs, one, lambda j: "%s with %s\n  %s" % (j[0], j[1], j[2].replace(work, "@DIR@")))
        print("%d expressions, %d agree, %d differ" % (len(jobs), len(jobs) - differ, differ))
        return 1 if differ else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
