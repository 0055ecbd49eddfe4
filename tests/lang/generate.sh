#!/usr/bin/env bash
# generate.sh [CASE...] - (re)writes the expectations of every case (or the given ones) from
# the real nix-instantiate (Nix 2.8): .exp for eval/, json/, lazy/; .loc and .nixerr for
# errors/. Commit what it writes. Never edit an .exp by hand: recheck.sh would catch it.
exec bash "$(dirname "$0")/oracle.sh" write "$@"
