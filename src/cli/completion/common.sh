# Read by both bash and zsh (the same syntax in both): the data above, generated from the
# option tables, has one line per subcommand, option and positional:
#   PATH <tab> TYPE <tab> NAME <tab> KIND <tab> DESCRIPTION
# PATH is the command's words ("." the top level, "*" the global options), TYPE c (subcommand),
# o (option), p (positional), P (repeated positional) or r (the rest of the line), KIND
# what the value is ("-" for a subcommand; flag, pair, none, file, dir, host, selection,
# option, option_or_file, generation, ssh_host, command or {a,b,c}).

# Sets _flakectl_k to the KIND of NAME (type TYPE) under PATH or among the global options.
_flakectl_lookup() {
    local p t n k d
    while IFS=$'\t' read -r p t n k d; do
        if [[ $t == "$2" && $n == "$3" && ($p == "$1" || ($t == o && $p == "*")) ]]; then
            _flakectl_k=$k
            return 0
        fi
    done <<<"$_flakectl_data"
    return 1
}

# Sets _flakectl_k to the kind of positional number N under PATH ("" when there is none).
_flakectl_positional() {
    local p t n k d i=0 last=""
    _flakectl_k=""
    while IFS=$'\t' read -r p t n k d; do
        [[ $p == "$1" && $t == [pPr] ]] || continue
        i=$((i + 1))
        last=$t
        if ((i == $2)); then
            _flakectl_k=$t$k
            return
        fi
        [[ $t == r ]] && break
    done <<<"$_flakectl_data"
    # a repeated positional takes every further word; the words after a command are files
    [[ $last == P ]] && _flakectl_k=$last$k
    [[ $last == r ]] && _flakectl_k=rfile
}

# _flakectl_walk WORD...: reads the words before the cursor (without the command's own name)
# into the caller's locals: cpath (the command's words), helping (after `help`), expect and nvalues (an option still
# waiting for that many values), rest (inside a command's rest), npos (positionals seen),
# _flakectl_host (--host) and _flakectl_ctx (--flake, --state-dir and --root, for the helper).
_flakectl_remember() { # OPTION VALUE
    case $1 in
    --flake | --state-dir | --root) _flakectl_ctx+=("$1" "$2") ;;
    --host) _flakectl_host=$2 ;;
    esac
}
_flakectl_walk() {
    local w
    for w in "$@"; do
        if ((nvalues > 0)); then
            # bash splits --opt=value at '=': the '=' is no value
            [[ $w == "=" ]] && continue
            _flakectl_remember "$expect" "$w"
            nvalues=$((nvalues - 1))
            continue
        fi
        if ((rest)); then
            npos=$((npos + 1))
            continue
        fi
        if [[ $w == -?* && $w != -- ]]; then
            _flakectl_lookup "$cpath" o "${w%%=*}" || continue
            if [[ $w == *=* ]]; then
                _flakectl_remember "${w%%=*}" "${w#*=}"
                continue
            fi
            expect=$w
            case $_flakectl_k in
            flag) nvalues=0 ;;
            pair) nvalues=2 ;;
            *) nvalues=1 ;;
            esac
            continue
        fi
        # `help CMD [SUB]` names commands: the words after it walk them as usual
        if [[ $cpath == . && $w == help && $helping == 0 ]]; then
            helping=1
            continue
        fi
        if _flakectl_lookup "$cpath" c "$w"; then
            [[ $cpath == . ]] && cpath=$w || cpath="$cpath $w"
            continue
        fi
        npos=$((npos + 1))
        _flakectl_positional "$cpath" "$npos"
        [[ $_flakectl_k == r* ]] && rest=1
    done
}
