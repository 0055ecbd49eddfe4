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
