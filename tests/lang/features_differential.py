#!/usr/bin/env python3
"""features_differential.py - the parts of Nix 2.8's language that need files, options or the
environment (so they cannot be cases of the corpus): <name> lookups through -I and NIX_PATH,
toXML, scopedImport, filterSource and builtins.path, __overrides, TOML dates, fetchGit
(dirty working trees too), fetchTarball and fetchurl of file:// URLs. Every case runs in a fresh scratch directory made
by its setup, by flakectl eval and by the oracle's nix-instantiate, both in eval mode (strict
unless the case says otherwise); both must succeed with the same stdout, or both fail with the same first line of
the message.
Exit status: 0 all agree, 1 a difference, 77 nix-instantiate missing.
Usage: [CASES="name ..."] features_differential.py FLAKECTL
"""
import os
import shutil
import subprocess
import sys
import tempfile

import nixdiff


def write(d, rel, text, mode=None):
    p = os.path.join(d, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
    if mode is not None:
        os.chmod(p, mode)
    return p


def git(d, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@e", GIT_AUTHOR_DATE="2022-05-01T00:00:00Z",
               GIT_COMMITTER_DATE="2022-05-01T00:00:00Z", HOME=d)
    return subprocess.run(["git", "-C", d] + list(args), env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


# ---- setups: each makes files in the scratch directory d ----

def setup_search(d):
    write(d, "sp1/a.nix", "1")
    write(d, "sp1/sub/b.nix", "2")
    write(d, "sp2/a.nix", "3")
    write(d, "sp2/c/default.nix", "4")


def setup_tree(d):
    write(d, "src/a.txt", "a\n")
    write(d, "src/b.nix", "{ }\n")
    write(d, "src/run.sh", "#!/bin/sh\n", 0o755)
    write(d, "src/sub/c.txt", "c\n")
    write(d, "src/sub/deeper/d.txt", "d\n")
    os.symlink("a.txt", os.path.join(d, "src", "link"))


def setup_scoped(d):
    write(d, "lib.nix", "{ r = x + 1; b = builtins.length [ 1 2 ]; t = true; }\n")
    write(d, "uses-import.nix", "import ./lib.nix\n")
    write(d, "dir/default.nix", "{ inherit x; here = ./.; }\n")
    write(d, "shadow.nix", "let y = 2; in [ x y (map (v: v * 2) [ 1 ]) ]\n")
    write(d, "curpos.nix", "__curPos\n")


def setup_none(d):
    pass


def setup_store(d):
    os.makedirs(os.path.join(d, "nixstore"))


def commit(d, msg, date):
    git(d, "add", "-A")
    env_date = date
    subprocess.run(["git", "-C", d, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm",
                    msg], check=True, env=dict(os.environ, GIT_AUTHOR_DATE=env_date,
                                               GIT_COMMITTER_DATE=env_date, HOME=d))


def setup_archives(d):
    setup_tree(d)
    os.makedirs(os.path.join(d, "nixstore"))
    subprocess.run(["tar", "-C", d, "-czf", os.path.join(d, "one.tar.gz"), "src"], check=True)
    subprocess.run(["tar", "-C", d, "-cf", os.path.join(d, "plain.tar"), "src"], check=True)
    subprocess.run(["tar", "-C", os.path.join(d, "src"), "-czf", os.path.join(d, "two.tar.gz"),
                    "a.txt", "b.nix"], check=True)
    subprocess.run(["tar", "-C", os.path.join(d, "src"), "-czf",
                    os.path.join(d, "file.tar.gz"), "a.txt"], check=True)


def setup_git(d):
    r = os.path.join(d, "repo")
    os.makedirs(r)
    git(r, "init", "-q", "-b", "main")
    write(r, "a.txt", "hello\n")
    write(r, "bin/run", "#!/bin/sh\n", 0o755)
    write(r, "sub/deep/b", "x\n")
    write(r, "sub-dir.txt", "sorted after sub/ in Git, before it in a NAR\n")
    os.symlink("a.txt", os.path.join(r, "link"))
    commit(r, "one", "2022-05-01T00:00:00Z")
    git(r, "tag", "v1")
    write(r, "c.txt", "more\n")
    commit(r, "two", "2022-05-02T00:00:00Z")
    git(r, "checkout", "-q", "-b", "other")
    write(r, "o.txt", "o\n")
    commit(r, "three", "2022-05-03T12:34:56Z")
    git(r, "checkout", "-q", "main")
    # a store of its own for nix-instantiate, which must copy what it fetches
    os.makedirs(os.path.join(d, "nixstore"))


def setup_git_dirty(d):
    """setup_git's repository with a changed tracked file, a staged new one and an untracked
    one: Nix 2.8 reads its tracked files from the working tree (and warns)."""
    setup_git(d)
    r = os.path.join(d, "repo")
    write(r, "a.txt", "changed\n")
    write(r, "staged.txt", "s\n")
    git(r, "add", "staged.txt")
    write(r, "untracked.txt", "u\n")


# (name, setup, expression or @file, extra nix-instantiate args, environment, strict)
CASES = [
    # ---- <name> lookups: -I before NIX_PATH, prefixes, relative entries, nixPath ----
    ("I-plain", setup_search, "<a.nix>", ["-I", "@D@/sp1", "-I", "@D@/sp2"], {}, True),
    ("I-order", setup_search, "<a.nix>", ["-I", "@D@/sp2", "-I", "@D@/sp1"], {}, True),
    ("I-prefix", setup_search, "[ <p/a.nix> <p/sub/b.nix> <q> ]",
     ["-I", "p=@D@/sp1", "-I", "q=@D@/sp2/c"], {}, True),
    ("I-prefix-nomatch", setup_search, "<pp/a.nix>", ["-I", "p=@D@/sp1"], {}, True),
    ("I-import", setup_search, "import <c>", ["-I", "@D@/sp2"], {}, True),
    ("I-relative", setup_search, "<a.nix>", ["-I", "sp2"], {}, True),
    ("I-missing", setup_search, "<zzz.nix>", ["-I", "@D@/sp1"], {}, True),
    ("I-tryEval", setup_search, "builtins.tryEval <zzz.nix>", ["-I", "@D@/sp1"], {}, True),
    ("nixPath", setup_search, "builtins.nixPath", ["-I", "x=@D@/sp1", "-I", "@D@/sp2"],
     {"NIX_PATH": "y=@D@/sp2:@D@/sp1::z=http://example.invalid/a.tar.gz:w=/a"}, True),
    ("NIX_PATH-order", setup_search, "[ <a.nix> <n/a.nix> ]", ["-I", "@D@/sp2"],
     {"NIX_PATH": "@D@/sp1:n=@D@/sp1"}, True),
    ("NIX_PATH-only", setup_search, "<a.nix>", [], {"NIX_PATH": "@D@/sp1:@D@/sp2"}, True),
    ("corepkgs", setup_none, "<nix/fetchurl.nix>", [], {}, True),
    # ---- builtins.addErrorContext: its messages in --show-trace (compared: the lines with
    # "CTX", in order), coerced like Nix (a set with __toString, a path) only on error ----
    ("errorContext", setup_none,
     'let f = x: builtins.addErrorContext "CTX inner `custom\' in \\"/a.nix\\":" (x + 1); '
     'g = builtins.addErrorContext { __toString = s: "CTX outer"; } (f "s"); '
     'h = builtins.addErrorContext "CTX unused" 1; in [ h g ]',
     ["--show-trace"], {}, True),
    ("errorContext-lazy", setup_none,
     'builtins.addErrorContext (throw "CTX never coerced") (builtins.addErrorContext "CTX ok" 1)',
     ["--show-trace"], {}, True),
    ("errorContext-tryEval", setup_none,
     'builtins.tryEval (builtins.addErrorContext "CTX caught" (throw "x"))',
     ["--show-trace"], {}, True),
    # ---- -A: nix-instantiate's attribute path (numbers index lists, quotes keep dots) ----
    ("attr-path", setup_none, '{ a = { b = [ 1 { c = 2; } ]; }; "q.r" = 3; }',
     ["-A", "a.b.1.c"], {}, True),
    ("attr-path-quoted", setup_none, '{ "q.r" = 3; }', ["-A", '"q.r"'], {}, True),
    ("attr-path-missing", setup_none, '{ a = { bc = 1; bd = 2; }; }', ["-A", "a.b"], {}, True),
    ("attr-path-not-set", setup_none, '{ a = 1; }', ["-A", "a.b"], {}, True),
    ("attr-path-not-list", setup_none, '{ a = 1; }', ["-A", "a.0"], {}, True),
    ("attr-path-index", setup_none, '{ a = [ 1 ]; }', ["-A", "a.3"], {}, True),
    ("attr-path-throws", setup_none, '{ a = { b = throw "in b"; }; }', ["-A", "a.b"], {}, True),
    # ---- import of a missing file: Nix stats the path given ("getting status of"), then
    # opens a directory's default.nix ("opening file") ----
    ("import-dir-without-default", setup_search, "import ./sp1/sub", [], {}, True),
    ("import-missing-default", setup_search, "import ./sp1/sub/default.nix", [], {}, True),
    ("scopedImport-dir-without-default", setup_search, "scopedImport { } ./sp1", [], {}, True),
    # ---- fetchTree: Nix 2.8 refuses it without the experimental feature 'flakes', before
    # forcing its argument, and tryEval does not catch that ----
    ("fetchTree-disabled", setup_none, 'builtins.fetchTree { type = "path"; path = ./.; }', [],
     {}, True),
    ("fetchTree-lazy-arg", setup_none, 'builtins.fetchTree (throw "never forced")', [], {}, True),
    ("fetchTree-tryEval", setup_none, 'builtins.tryEval (builtins.fetchTree "/tmp")', [], {},
     True),
    ("fetchTree-exists", setup_none, '[ (builtins ? fetchTree) (builtins.isFunction '
     'builtins.fetchTree) ]', [], {}, True),
    # ---- scopedImport: variables above the base scope, shadowing builtins; never cached ----
    ("scopedImport", setup_scoped, "scopedImport { x = 41; } ./lib.nix", [], {}, True),
    ("scopedImport-builtins", setup_scoped,
     "scopedImport { x = 1; builtins = { length = l: 99; }; } ./lib.nix", [], {}, True),
    ("scopedImport-nested", setup_scoped,
     "builtins.tryEval (scopedImport { x = 1; } ./uses-import.nix)", [], {}, True),
    ("scopedImport-dir", setup_scoped, "scopedImport { x = 3; } ./dir", [], {}, True),
    ("scopedImport-shadow", setup_scoped,
     "scopedImport { x = 1; y = 5; map = f: l: [ \"mine\" ]; } ./shadow.nix", [], {}, True),
    ("scopedImport-nocache", setup_scoped,
     "[ (scopedImport { x = 1; } ./lib.nix).r (scopedImport { x = 2; } ./lib.nix).r "
     "(import ./dir { }) ]", [], {}, False),
    ("scopedImport-curpos", setup_scoped, "scopedImport { } ./curpos.nix", [], {}, True),
    ("scopedImport-notset", setup_scoped, "scopedImport 1 ./lib.nix", [], {}, True),
    ("scopedImport-missing", setup_scoped, "scopedImport { } ./nope.nix", [], {}, True),
    # ---- builtins.path and filterSource: filter (called with each path and its type),
    # name, recursive, sha256 (any encoding), their errors ----
    ("path-plain", setup_tree, "builtins.path { path = ./src; }", [], {}, True),
    ("path-name", setup_tree, 'builtins.path { path = ./src; name = "other"; }', [], {}, True),
    ("path-filter", setup_tree,
     'builtins.path { path = ./src; filter = p: t: builtins.trace "${p} ${t}" '
     '(t != "symlink" && builtins.baseNameOf p != "deeper"); }', [], {}, True),
    ("path-filter-all-out", setup_tree, "builtins.path { path = ./src; filter = p: t: false; }",
     [], {}, True),
    ("path-flat", setup_tree, "builtins.path { path = ./src/a.txt; recursive = false; }",
     [], {}, True),
    ("path-flat-dir", setup_tree, "builtins.path { path = ./src; recursive = false; }",
     [], {}, True),
    ("path-context", setup_tree,
     "builtins.getContext (builtins.path { path = ./src/run.sh; })", [], {}, True),
    ("path-sha256-mismatch", setup_tree,
     'builtins.path { path = ./src/a.txt; recursive = false; '
     'sha256 = "c2b1d8d85d0e9ebcab8e69be71e7c6b6a2e19bb3b8da3a1e27ea3d8ec1d3d6c8"; }',
     [], {}, True),
    ("path-sha256-recursive", setup_tree,
     'builtins.path { path = ./src/a.txt; '
     'sha256 = "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7"; }',
     [], {}, True),
    ("path-sha256-base16", setup_tree,
     'builtins.path { path = ./src/a.txt; recursive = false; '
     'sha256 = "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7"; }',
     [], {}, True),
    ("path-sha256-base32", setup_tree,
     'builtins.path { path = ./src/a.txt; recursive = false; '
     'sha256 = "1ir5rz261phggayppq7565k0jxg47zq3rkkvbq332gc04b2qyhl7"; }', [], {}, True),
    ("path-sha256-sri", setup_tree,
     'builtins.path { path = ./src/a.txt; recursive = false; '
     'sha256 = "sha256-h0KPxSKAPTEGXnvOPPA/5HUJZjHl4Hu9eg/eYMTPJcc="; }', [], {}, True),
    ("path-sha256-short", setup_tree, 'builtins.path { path = ./src; sha256 = "abc"; }',
     [], {}, True),
    ("path-sha256-type", setup_tree, 'builtins.path { path = ./src; sha256 = "sha512-AAAA"; }',
     [], {}, True),
    ("path-sha256-bad32", setup_tree,
     'builtins.path { path = ./src; sha256 = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"; }',
     [], {}, True),
    ("path-no-path", setup_tree, "builtins.path { }", [], {}, True),
    ("path-unknown-arg", setup_tree, "builtins.path { path = ./src; foo = 1; }", [], {}, True),
    ("path-filter-not-fn", setup_tree, "builtins.path { path = ./src; filter = 1; }", [], {}, True),
    ("path-filter-not-bool", setup_tree, "builtins.path { path = ./src; filter = p: t: 1; }",
     [], {}, True),
    ("path-bad-name", setup_tree, 'builtins.path { path = ./src; name = "a b"; }', [], {}, True),
    ("filterSource", setup_tree,
     'builtins.filterSource (p: t: builtins.match ".*\\.txt" p == null) ./src', [], {}, True),
    ("filterSource-not-fn", setup_tree, "builtins.filterSource 1 ./src", [], {}, True),
    ("filterSource-throws", setup_tree,
     'builtins.tryEval (builtins.filterSource (p: t: throw "no") ./src)', [], {}, True),
    ("filterSource-missing", setup_tree, "builtins.filterSource (p: t: true) ./nope", [], {}, True),
    # ---- fetchGit: local and file:// repositories, ref (branch, tag), rev, name ----
    ("fetchGit-path", setup_git, "builtins.fetchGit ./repo", [], {"ORACLE_STORE": "1"}, True),
    ("fetchGit-string", setup_git, 'builtins.fetchGit "@D@/repo"', [], {"ORACLE_STORE": "1"}, True),
    ("fetchGit-branch", setup_git, 'builtins.fetchGit { url = ./repo; ref = "other"; }', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchGit-refs-heads", setup_git,
     'builtins.fetchGit { url = ./repo; ref = "refs/heads/other"; }', [], {"ORACLE_STORE": "1"},
     True),
    ("fetchGit-tag", setup_git, 'builtins.fetchGit { url = "file://@D@/repo"; ref = "v1"; }', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchGit-rev", setup_git,
     'let r = (builtins.fetchGit { url = ./repo; ref = "v1"; }).rev; in '
     'builtins.fetchGit { url = "file://@D@/repo"; rev = r; name = "named"; }', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchGit-missing-rev", setup_git,
     'builtins.fetchGit { url = ./repo; rev = "1111111111111111111111111111111111111111"; }', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchGit-dirty", setup_git_dirty,
     'let r = builtins.fetchGit ./repo; in '
     '[ r (builtins.readDir r.outPath) (builtins.readFile "${r}/a.txt") ]', [],
     {"ORACLE_STORE": "1", "NIX_ORACLE_EXPECT_WARNING": "Git tree '@D@/repo' is dirty"}, True),
    ("fetchGit-dirty-ref", setup_git_dirty, 'builtins.fetchGit { url = ./repo; ref = "main"; }',
     [], {"ORACLE_STORE": "1"}, True),
    ("fetchGit-bad-attr", setup_git, "builtins.fetchGit { url = ./repo; foo = 1; }", [],
     {"ORACLE_STORE": "1"}, True),
    # ---- fetchurl and fetchTarball of file:// URLs: names, sha256 (pinned, mismatch) ----
    ("fetchurl", setup_archives, 'builtins.fetchurl "file://@D@/src/a.txt"', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchurl-name", setup_archives,
     'builtins.fetchurl { url = "file://@D@/src/a.txt"; name = "n"; }', [], {"ORACLE_STORE": "1"},
     True),
    ("fetchurl-sha256", setup_archives,
     'builtins.fetchurl { url = "file://@D@/src/a.txt"; '
     'sha256 = "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7"; }', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchurl-mismatch", setup_archives,
     'builtins.fetchurl { url = "file://@D@/src/a.txt"; '
     'sha256 = "0000000000000000000000000000000000000000000000000000"; }', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchurl-missing", setup_archives, 'builtins.fetchurl "file://@D@/nope"', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchurl-bad-arg", setup_archives, 'builtins.fetchurl { url = "file://@D@/x"; foo = 1; }',
     [], {"ORACLE_STORE": "1"}, True),
    ("fetchTarball-gz", setup_archives, 'builtins.fetchTarball "file://@D@/one.tar.gz"', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchTarball-plain", setup_archives,
     'builtins.fetchTarball { url = "file://@D@/plain.tar"; name = "p"; }', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchTarball-file", setup_archives, 'builtins.fetchTarball "file://@D@/file.tar.gz"', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchTarball-two", setup_archives, 'builtins.fetchTarball "file://@D@/two.tar.gz"', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchTarball-not-archive", setup_archives,
     'builtins.fetchTarball "file://@D@/src/a.txt"', [], {"ORACLE_STORE": "1"}, True),
    ("fetchTarball-mismatch", setup_archives,
     'builtins.fetchTarball { url = "file://@D@/one.tar.gz"; '
     'sha256 = "0000000000000000000000000000000000000000000000000000"; }', [],
     {"ORACLE_STORE": "1"}, True),
    ("fetchTarball-no-url", setup_archives, "builtins.fetchTarball { }", [],
     {"ORACLE_STORE": "1"}, True),
    # ---- toFile's texts read back, as nix-instantiate --read-write-mode with a store of its
    # own reads them (ORACLE_TOFILE); flakectl keeps them for the evaluation ----
    ("toFile-import", setup_store, 'import (builtins.toFile "x.nix" "1 + 1")', [],
     {"ORACLE_TOFILE": "1"}, True),
    ("toFile-readFile", setup_store, 'builtins.readFile (builtins.toFile "x" "hi\n")', [],
     {"ORACLE_TOFILE": "1"}, True),
    ("toFile-pathExists", setup_store,
     'let f = builtins.toFile "x" "hi"; in '
     '[ (builtins.pathExists f) (builtins.pathExists "${f}/sub") ]', [],
     {"ORACLE_TOFILE": "1"}, True),
    ("toFile-readDir", setup_store, 'builtins.readDir (builtins.toFile "x" "hi")', [],
     {"ORACLE_TOFILE": "1"}, True),
    ("toFile-scopedImport", setup_store,
     'scopedImport { x = 5; } (builtins.toFile "s.nix" "x * 2")', [], {"ORACLE_TOFILE": "1"}, True),
    ("toFile-hashFile", setup_store, 'builtins.hashFile "sha256" (builtins.toFile "x" "hi")', [],
     {"ORACLE_TOFILE": "1"}, True),
    ("toFile-path", setup_store,
     'let f = builtins.toFile "x" "hi"; in [ (builtins.path { path = f; }) '
     '(builtins.path { path = f; name = "y"; recursive = false; }) '
     '(builtins.filterSource (p: t: false) f) ]', [], {"ORACLE_TOFILE": "1"}, True),
    ("toFile-context", setup_store,
     'let a = builtins.toFile "a.nix" "40"; b = builtins.toFile "b.nix" "{ a = ${a}; }"; in '
     '[ (builtins.readFile b) (import b) (import "${a}") (builtins.readFile "${b}") '
     '(builtins.pathExists b) ]', [], {"ORACLE_TOFILE": "1"}, True),
    ("toFile-import-context", setup_store,
     'let a = builtins.toFile "a" "x"; in import (builtins.toFile "b.nix" '
     '"{ s = \\"see ${a}\\"; }")', [], {"ORACLE_TOFILE": "1"}, True),
    ("findFile", setup_search,
     'builtins.findFile [ { path = "@D@/sp1"; } { prefix = "k"; path = "@D@/sp2"; } ] "k/c"',
     [], {}, True),
]


def run_case(flakectl, nix, case, d):
    name, setup, expr, extra, env, strict = case
    setup(d)
    sub = lambda s: s.replace("@D@", d)
    expr = sub(expr)
    extra = [sub(a) for a in extra]
    env = {k: sub(v) for k, v in env.items()}
    mode = ["--strict"] if strict else []
    results = []
    for who in ("nix", "flakectl"):
        if who == "nix":
            cmd = nix + ["--eval"] + mode + extra + ["--expr", expr]
            e = dict(os.environ)
            e.pop("NIX_PATH", None)
            if "NIX_PATH" in env:
                e["NIX_ORACLE_NIX_PATH"] = env["NIX_PATH"]
            e.update({k: v for k, v in env.items() if k.startswith("NIX_ORACLE_")})
            if "ORACLE_TOFILE" in env:
                # nix-instantiate --eval writes toFile's texts only in read-write mode; a
                # chroot store keeps the logical /nix/store of flakectl's paths
                cmd = nix + ["--read-write-mode", "--eval"] + mode + extra + ["--expr", expr]
                e["NIX_REMOTE"] = "local?root=%s/nixstore" % d
            if "ORACLE_STORE" in env:
                # a writable store for nix, in the logical directory flakectl's store has
                e["NIX_REMOTE"] = "local?root=%s/nixstore" % d
                e["NIX_STORE_DIR"] = "%s/state/store" % d
        else:
            cmd = [flakectl, "eval"] + mode + extra + ["--expr", expr]
            e = dict(os.environ)
            e.pop("NIX_PATH", None)
            e.update({k: v for k, v in env.items() if k not in ("ORACLE_STORE", "ORACLE_TOFILE")})
            if "ORACLE_STORE" in env:
                # the fetchers add what they fetch to flakectl's store, as nix to its own
                e["FLAKECTL_STATE_DIR"] = "%s/state" % d
        p = subprocess.Popen(cmd, cwd=d, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, errors="replace", start_new_session=True)
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.communicate()
            results.append(("timeout", ""))
            continue
        if who == "nix" and p.returncode == nixdiff.ORACLE_MISBEHAVED:
            print("FAIL %s: the oracle misbehaved, not flakectl\n%s" % (name, err.rstrip()))
            sys.exit(1)
        if who == "nix" and "ORACLE_TOFILE" in env:
            # the chroot store's files are in d/nixstore; its messages name that real place
            err = err.replace("%s/nixstore/nix/store/" % d, "/nix/store/")
        if p.returncode != 0:
            i = err.find("error:")
            ctx = [l.strip() for l in err.splitlines() if l.strip().startswith("…") and "CTX" in l]
            results.append(("error", err[i:].splitlines()[0] if i >= 0 else err.strip(), ctx))
        else:
            results.append(("ok", out, [l for l in err.splitlines() if l.startswith("trace: ")]))
    return results


def main():
    flakectl, _, nix = nixdiff.setup(__doc__, 0)
    flakectl = os.path.abspath(flakectl)
    only = set(os.environ.get("CASES", "").split())
    differ = agree = 0
    for case in CASES:
        if only and case[0] not in only:
            continue
        d = tempfile.mkdtemp(prefix="feat-diff.")
        try:
            w, g = run_case(flakectl, nix, case, os.path.realpath(d))
        finally:
            shutil.rmtree(d, ignore_errors=True)
        if w == g:
            agree += 1
        else:
            differ += 1
            print("FAIL %s\n  %s\n  nix-instantiate: %r\n  flakectl:        %r"
                  % (case[0], case[2], w, g))
    print("%d cases agree, %d differ" % (agree, differ))
    return 1 if differ or not agree else 0


if __name__ == "__main__":
    sys.exit(main())
