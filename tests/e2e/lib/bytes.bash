# flip_byte FILE OFFSET [MASK]: changes the byte at OFFSET to a different value (XOR MASK,
# default 1: its lowest bit inverted). Writing a fixed letter instead leaves random data
# unchanged once in 256 runs, and a test of tampering then fails for no fault of the product.
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    [ -n "$b" ] || return 1
    # shellcheck disable=SC2059 # the format is the byte, as an octal escape
    printf "$(printf '\\%03o' $((b ^ ${3:-1})))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
