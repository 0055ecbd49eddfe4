# The walk over the words, shared by every command: __flakectl_data (above, generated from the
# option tables) has one element per subcommand, option and positional:
#   PATH <tab> TYPE <tab> NAME <tab> KIND <tab> DESCRIPTION
# PATH is the command's words ("." the top level, "*" the global options), TYPE c (subcommand),
# o (option), p (positional), P (repeated positional) or r (the rest of the line), KIND
# what the value is ("-" for a subcommand; flag, pair, none, file, dir, host, selection,
# option, option_or_file, generation, ssh_host, command or {a,b,c}).

# Prints the KIND of NAME (type TYPE) under PATH or among the global options; fails when none.
function __flakectl_lookup -a cpath type name
    for line in $__flakectl_data
        set -l f (string split \t -- $line)
        if test "x$f[2]" = "x$type"; and test "x$f[3]" = "x$name"
            if test "x$f[1]" = "x$cpath"; or begin; test $type = o; and test "x$f[1]" = "x*"; end
                echo $f[4]
                return 0
            end
        end
    end
    return 1
end

# Prints NAME<tab>DESCRIPTION of TYPE under PATH (options: with the global ones).
function __flakectl_names -a cpath type
    for line in $__flakectl_data
        set -l f (string split \t -- $line)
        if test "x$f[2]" = "x$type"
            if test "x$f[1]" = "x$cpath"; or begin; test $type = o; and test "x$f[1]" = "x*"; end
                printf '%s\t%s\n' $f[3] $f[5]
            end
        end
    end
end

# Prints the kind of positional number N under PATH, prefixed by its type; nothing if none.
function __flakectl_positional -a cpath n
    set -l i 0
    set -l last ""
    set -l lastkind ""
    for line in $__flakectl_data
        set -l f (string split \t -- $line)
        test "x$f[1]" = "x$cpath"; or continue
        string match -q -r '^[pPr]$' -- $f[2]; or continue
        set i (math $i + 1)
        set last $f[2]
        set lastkind $f[4]
        if test $i -eq $n
            echo $f[2]$f[4]
            return
        end
        test "$f[2]" = r; and break
    end
    # a repeated positional takes every further word; the words after a command are files
    test "$last" = P; and echo P$lastkind
    test "$last" = r; and echo rfile
end

function __flakectl_values -a kind cur exe host
    set -l ctx $argv[5..-1]
    if test "$kind" = option_or_file
        if test -n "$host"
            set kind option
        else
            set kind file
        end
    end
    switch $kind
        case '{*'
            string split , -- (string trim -c '{}' -- $kind)
        case file
            __fish_complete_path $cur
        case dir
            __fish_complete_directories $cur
        case command
            __fish_complete_command
        case ssh_host
            __fish_print_hostnames
        case option
            set -l hostargs
            test -n "$host"; and set hostargs --host $host
            $exe completion --values options $ctx $hostargs -- $cur 2>/dev/null
        case host generation
            $exe completion --values $kind $ctx 2>/dev/null
        case selection # a comma list: the helper completes the element after the last comma
            $exe completion --values selection $ctx -- $cur 2>/dev/null
    end
end

function __flakectl_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l exe $words[1]
    set -l cpath .
    set -l expect ""
    set -l nvalues 0
    set -l rest 0
    set -l helping 0
    set -l npos 0
    set -l host ""
    set -l ctx
    for w in $words[2..-1]
        if test $nvalues -gt 0
            switch $expect
                case --flake --state-dir --root
                    set ctx $ctx $expect $w
                case --host
                    set host $w
            end
            set nvalues (math $nvalues - 1)
            continue
        end
        if test $rest -eq 1
            set npos (math $npos + 1)
            continue
        end
        if string match -q -r '^-.' -- $w; and test "$w" != --
            set -l name (string split -m1 = -- $w)[1]
            set -l k (__flakectl_lookup "$cpath" o $name); or continue
            if string match -q '*=*' -- $w
                set -l v (string split -m1 = -- $w)[2]
                test "$name" = --host; and set host $v
                contains -- $name --flake --state-dir --root; and set ctx $ctx $name $v
                continue
            end
            set expect $name
            switch $k
                case flag
                    set nvalues 0
                case pair
                    set nvalues 2
                case '*'
                    set nvalues 1
            end
            continue
        end
        # `help CMD [SUB]` names commands: the words after it walk them as usual
        if test "$cpath" = .; and test "$w" = help; and test $helping -eq 0
            set helping 1
            continue
        end
        if __flakectl_lookup "$cpath" c $w >/dev/null
            if test "$cpath" = .
                set cpath $w
            else
                set cpath "$cpath $w"
            end
            continue
        end
        set npos (math $npos + 1)
        string match -q 'r*' -- (__flakectl_positional "$cpath" $npos); and set rest 1
    end
    if test $nvalues -gt 0
        test $nvalues -eq 1; or return
        __flakectl_values (__flakectl_lookup "$cpath" o $expect) "$cur" $exe "$host" $ctx
        return
    end
    if string match -q -r '^--[^=]+=' -- $cur
        set -l parts (string split -m1 = -- $cur)
        set -l k (__flakectl_lookup "$cpath" o $parts[1]); or return
        __flakectl_values $k $parts[2] $exe "$host" $ctx | string replace -r '^' -- "$parts[1]="
        return
    end
    if string match -q -- '-*' $cur
        __flakectl_names "$cpath" o
        return
    end
    if test $rest -eq 0
        set -l subs (__flakectl_names "$cpath" c)
        if test (count $subs) -gt 0
            printf '%s\n' $subs
            return
        end
    end
    test $helping -eq 1; and return
    set -l k (__flakectl_positional "$cpath" (math $npos + 1))
    if test -n "$k"
        __flakectl_values (string sub -s 2 -- $k) "$cur" $exe "$host" $ctx
    else
        __flakectl_names "$cpath" o
    end
end

complete -c flakectl -e
complete -c flakectl -f -a '(__flakectl_complete)'
