# The walk over the words for bash (common.sh, above, reads the data).

# Prints the names of TYPE under PATH (options: with the global ones and --help).
_flakectl_names() {
    local p t n k d
    while IFS=$'\t' read -r p t n k d; do
        [[ $t == "$2" && ($p == "$1" || ($t == o && $p == "*")) ]] && printf '%s\n' "$n"
    done <<<"$_flakectl_data"
}

_flakectl_values() { # KIND WORD: fills COMPREPLY
    local kind=$1 cur=$2 choices
    case $kind in
    option_or_file) [[ -n $_flakectl_host ]] && kind=option || kind=file ;;
    esac
    case $kind in
    \{*)
        choices=${kind#\{}
        choices=${choices%\}}
        mapfile -t COMPREPLY < <(compgen -W "${choices//,/ }" -- "$cur")
        ;;
    file)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        ;;
    dir)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        ;;
    command) mapfile -t COMPREPLY < <(compgen -c -- "$cur") ;;
    ssh_host)
        if declare -F _known_hosts_real >/dev/null; then
            _known_hosts_real -a -- "$cur"
        else
            mapfile -t COMPREPLY < <(compgen -A hostname -- "$cur")
        fi
        ;;
    option)
        compopt -o nospace 2>/dev/null
        mapfile -t COMPREPLY < <("$_flakectl_exe" completion --values options \
            "${_flakectl_ctx[@]}" ${_flakectl_host:+--host "$_flakectl_host"} -- "$cur" 2>/dev/null)
        ;;
    host | generation)
        mapfile -t COMPREPLY < <(compgen -W "$("$_flakectl_exe" completion --values "$kind" \
            "${_flakectl_ctx[@]}" 2>/dev/null)" -- "$cur")
        ;;
    selection) # a comma list: the helper completes the element after the last comma
        mapfile -t COMPREPLY < <(compgen -W "$("$_flakectl_exe" completion --values selection \
            "${_flakectl_ctx[@]}" -- "$cur" 2>/dev/null)" -- "$cur")
        ;;
    *) COMPREPLY=() ;;
    esac
}

_flakectl() {
    local cur=${COMP_WORDS[COMP_CWORD]} cpath=. helping=0 expect="" nvalues=0 rest=0 npos=0
    local _flakectl_k _flakectl_exe=${COMP_WORDS[0]} _flakectl_host=""
    local -a _flakectl_ctx=()
    COMPREPLY=()
    _flakectl_walk "${COMP_WORDS[@]:1:COMP_CWORD-1}"
    if ((nvalues > 0)); then
        [[ $cur == "=" ]] && cur=""
        _flakectl_lookup "$cpath" o "$expect"
        ((nvalues == 1)) && _flakectl_values "$_flakectl_k" "$cur"
        return 0
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_flakectl_names "$cpath" o)" -- "$cur")
        return 0
    fi
    local subs
    subs=$(_flakectl_names "$cpath" c)
    if ((!rest)) && [[ -n $subs ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
        return 0
    fi
    ((helping)) && return 0
    _flakectl_positional "$cpath" $((npos + 1))
    if [[ -n $_flakectl_k ]]; then
        _flakectl_values "${_flakectl_k:1}" "$cur"
    else
        mapfile -t COMPREPLY < <(compgen -W "$(_flakectl_names "$cpath" o)" -- "$cur")
    fi
    return 0
}

complete -F _flakectl flakectl
