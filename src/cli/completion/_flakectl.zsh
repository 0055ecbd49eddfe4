# The walk over the words for zsh (common.sh, above, reads the data). ("path" is zsh's
# $PATH array: cpath here.)

# Fills the array _flakectl_described with NAME:DESCRIPTION of TYPE under CPATH.
_flakectl_describe() {
    local p t n k d
    _flakectl_described=()
    while IFS=$'\t' read -r p t n k d; do
        [[ $t == "$2" && ($p == "$1" || ($t == o && $p == "*")) ]] &&
            _flakectl_described+=("${n//:/\\:}:$d")
    done <<<"$_flakectl_data"
}

_flakectl_values() { # KIND: adds the candidates for the current word
    local kind=$1 choices
    local -a found
    [[ $kind == option_or_file ]] && { [[ -n $_flakectl_host ]] && kind=option || kind=file; }
    case $kind in
    \{*)
        choices=${kind#\{}
        choices=${choices%\}}
        compadd -- ${(s:,:)choices}
        ;;
    file) _files ;;
    dir) _files -/ ;;
    command) _command_names -e ;;
    ssh_host) _user_at_host 2>/dev/null || _hosts ;;
    option)
        found=(${(f)"$("$_flakectl_exe" completion --values options $_flakectl_ctx \
            ${_flakectl_host:+--host} $_flakectl_host -- "$PREFIX" 2>/dev/null)"})
        compadd -S '' -- $found
        ;;
    host | generation)
        found=(${(f)"$("$_flakectl_exe" completion --values $kind $_flakectl_ctx 2>/dev/null)"})
        compadd -- $found
        ;;
    selection) # a comma list: the helper completes the element after the last comma
        found=(${(f)"$("$_flakectl_exe" completion --values selection $_flakectl_ctx \
            -- "$PREFIX" 2>/dev/null)"})
        compadd -- $found
        ;;
    *) return 1 ;;
    esac
}

_flakectl() {
    local cpath=. helping=0 expect="" nvalues=0 rest=0 npos=0
    local _flakectl_k _flakectl_exe=${words[1]} _flakectl_host=""
    local -a _flakectl_ctx _flakectl_described
    _flakectl_walk "${(@)words[2,CURRENT-1]}"
    if ((nvalues > 0)); then
        _flakectl_lookup "$cpath" o "$expect"
        ((nvalues == 1)) && _flakectl_values "$_flakectl_k"
        return
    fi
    if [[ $PREFIX == --*=* ]]; then
        _flakectl_lookup "$cpath" o "${PREFIX%%=*}" || return 1
        compset -P '*='
        _flakectl_values "$_flakectl_k"
        return
    fi
    if [[ $PREFIX == -* ]]; then
        _flakectl_describe "$cpath" o
        _describe -t options option _flakectl_described
        return
    fi
    if ((!rest)); then
        _flakectl_describe "$cpath" c
        if ((${#_flakectl_described})); then
            _describe -t commands command _flakectl_described
            return
        fi
    fi
    ((helping)) && return 1
    _flakectl_positional "$cpath" $((npos + 1))
    if [[ -n $_flakectl_k ]]; then
        _flakectl_values "${_flakectl_k:1}"
    else
        _flakectl_describe "$cpath" o
        _describe -t options option _flakectl_described
    fi
}

# Sourced (source <(flakectl completion zsh)) this registers the function; autoloaded from
# $fpath as _flakectl it runs it for the first completion too.
compdef _flakectl flakectl 2>/dev/null
if [[ ${funcstack[1]} == _flakectl ]]; then
    _flakectl "$@"
fi
