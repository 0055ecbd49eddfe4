#!/usr/bin/env bash
# recheck.sh [CASE...] - checks that every committed expectation is still exactly what
# nix-instantiate prints (guards against hand edits and against cases that depend on the
# machine). Exit 0 when all match, 1 on a mismatch, 77 (ctest: skipped) without nix.
exec bash "$(dirname "$0")/oracle.sh" check "$@"
