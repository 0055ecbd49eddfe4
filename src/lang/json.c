/* json.c - builtins.fromJSON: JSON text to values, accepting and rejecting what Nix 2.8's
 * parser (nlohmann::json 3.x, strict SAX mode) does, with its error messages byte for byte:
 * the same position (line, column counted as nlohmann counts them), the same "last read" token
 * text, the same numbers (integers that fit, unsigned ones wrapped to NixInt, the rest
 * doubles). Iterative, so nesting depth costs no C stack. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lang/internal.h"

enum jtok {
    J_UNINIT,
    J_TRUE,
    J_FALSE,
    J_NULL,
    J_STRING,
    J_UNSIGNED,
    J_INTEGER,
    J_FLOAT,
    J_BEGIN_ARRAY,
    J_BEGIN_OBJECT,
    J_END_ARRAY,
    J_END_OBJECT,
    J_NAME_SEP,
    J_VALUE_SEP,
    J_PARSE_ERROR,
    J_END,
    J_LITERAL_OR_VALUE,
};

static const char *tok_name(int t) {
    switch (t) {
    case J_UNINIT: return "<uninitialized>";
    case J_TRUE: return "true literal";
    case J_FALSE: return "false literal";
    case J_NULL: return "null literal";
    case J_STRING: return "string literal";
    case J_UNSIGNED: case J_INTEGER: case J_FLOAT: return "number literal";
    case J_BEGIN_ARRAY: return "'['";
    case J_BEGIN_OBJECT: return "'{'";
    case J_END_ARRAY: return "']'";
    case J_END_OBJECT: return "'}'";
    case J_NAME_SEP: return "':'";
    case J_VALUE_SEP: return "','";
    case J_PARSE_ERROR: return "<parse error>";
    case J_END: return "end of input";
    default: return "'[', '{', or a literal";
    }
}

typedef struct Lexer {
    State *S;
    const unsigned char *s;
    size_t len, next; /* next byte to read */
    int cur;          /* last character read, -1 at the end */
    int unget_pending;
    size_t chars_total, chars_line, lines;
    AStr tokstr;  /* the characters read since the last string or number began */
    AStr buf;     /* a string's decoded bytes, a number's text */
    const char *errmsg;
    uint64_t u;
    int64_t i;
    double f;
} Lexer;

static int lx_get(Lexer *L) {
    L->chars_total++;
    L->chars_line++;
    if (L->unget_pending)
        L->unget_pending = 0;
    else
        L->cur = L->next < L->len ? L->s[L->next++] : -1;
    if (L->cur != -1)
        lang_astr_addch(L->S, &L->tokstr, (char)L->cur);
    if (L->cur == '\n') {
        L->lines++;
        L->chars_line = 0;
    }
    return L->cur;
}

static void lx_unget(Lexer *L) {
    L->unget_pending = 1;
    L->chars_total--;
    if (L->chars_line == 0) {
        if (L->lines > 0)
            L->lines--;
    } else {
        L->chars_line--;
    }
    if (L->cur != -1 && L->tokstr.len > 0)
        L->tokstr.len--;
}

static void lx_reset(Lexer *L) {
    L->buf.len = 0;
    L->tokstr.len = 0;
    lang_astr_addch(L->S, &L->tokstr, (char)L->cur);
}

static int lx_error(Lexer *L, const char *msg) {
    L->errmsg = msg;
    return J_PARSE_ERROR;
}

static int lx_literal(Lexer *L, const char *text, int tok) {
    for (size_t k = 1; text[k]; k++)
        if (lx_get(L) != (unsigned char)text[k])
            return lx_error(L, "invalid literal");
    return tok;
}

static int lx_codepoint(Lexer *L) {
    int cp = 0;
    for (int k = 0; k < 4; k++) {
        int h = lang_hex_digit(lx_get(L));
        if (h < 0)
            return -1;
        cp = cp * 16 + h;
    }
    return cp;
}

static void add_utf8(Lexer *L, int cp) {
    State *S = L->S;
    if (cp < 0x80) {
        lang_astr_addch(S, &L->buf, (char)cp);
    } else if (cp < 0x800) {
        lang_astr_addch(S, &L->buf, (char)(0xC0 | (cp >> 6)));
        lang_astr_addch(S, &L->buf, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        lang_astr_addch(S, &L->buf, (char)(0xE0 | (cp >> 12)));
        lang_astr_addch(S, &L->buf, (char)(0x80 | ((cp >> 6) & 0x3F)));
        lang_astr_addch(S, &L->buf, (char)(0x80 | (cp & 0x3F)));
    } else {
        lang_astr_addch(S, &L->buf, (char)(0xF0 | (cp >> 18)));
        lang_astr_addch(S, &L->buf, (char)(0x80 | ((cp >> 12) & 0x3F)));
        lang_astr_addch(S, &L->buf, (char)(0x80 | ((cp >> 6) & 0x3F)));
        lang_astr_addch(S, &L->buf, (char)(0x80 | (cp & 0x3F)));
    }
}

/* The continuation bytes of a UTF-8 sequence: ranges is pairs of inclusive bounds. */
static int lx_utf8(Lexer *L, const int *ranges, int n) {
    lang_astr_addch(L->S, &L->buf, (char)L->cur);
    for (int k = 0; k < n; k += 2) {
        int c = lx_get(L);
        if (c < ranges[k] || c > ranges[k + 1]) {
            L->errmsg = "invalid string: ill-formed UTF-8 byte";
            return 0;
        }
        lang_astr_addch(L->S, &L->buf, (char)c);
    }
    return 1;
}

static const char *const ctrl_names[32] = {
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF",
    "VT",  "FF",  "CR",  "SO",  "SI",  "DLE", "DC1", "DC2", "DC3", "DC4", "NAK",
    "SYN", "ETB", "CAN", "EM",  "SUB", "ESC", "FS",  "GS",  "RS",  "US",
};

static int lx_string(Lexer *L) {
    lx_reset(L);
    for (;;) {
        int c = lx_get(L);
        if (c == -1)
            return lx_error(L, "invalid string: missing closing quote");
        if (c == '"')
            return J_STRING;
        if (c == '\\') {
            int e = lx_get(L);
            switch (e) {
            case '"': lang_astr_addch(L->S, &L->buf, '"'); break;
            case '\\': lang_astr_addch(L->S, &L->buf, '\\'); break;
            case '/': lang_astr_addch(L->S, &L->buf, '/'); break;
            case 'b': lang_astr_addch(L->S, &L->buf, '\b'); break;
            case 'f': lang_astr_addch(L->S, &L->buf, '\f'); break;
            case 'n': lang_astr_addch(L->S, &L->buf, '\n'); break;
            case 'r': lang_astr_addch(L->S, &L->buf, '\r'); break;
            case 't': lang_astr_addch(L->S, &L->buf, '\t'); break;
            case 'u': {
                int cp1 = lx_codepoint(L), cp = cp1;
                if (cp1 == -1)
                    return lx_error(L, "invalid string: '\\u' must be followed by 4 hex digits");
                if (cp1 >= 0xD800 && cp1 <= 0xDBFF) {
                    if (lx_get(L) == '\\' && lx_get(L) == 'u') {
                        int cp2 = lx_codepoint(L);
                        if (cp2 == -1)
                            return lx_error(L, "invalid string: '\\u' must be followed by 4 hex "
                                               "digits");
                        if (cp2 < 0xDC00 || cp2 > 0xDFFF)
                            return lx_error(L, "invalid string: surrogate U+D800..U+DBFF must be "
                                               "followed by U+DC00..U+DFFF");
                        cp = ((cp1 - 0xD800) << 10) + (cp2 - 0xDC00) + 0x10000;
                    } else {
                        return lx_error(L, "invalid string: surrogate U+D800..U+DBFF must be "
                                           "followed by U+DC00..U+DFFF");
                    }
                } else if (cp1 >= 0xDC00 && cp1 <= 0xDFFF) {
                    return lx_error(L, "invalid string: surrogate U+DC00..U+DFFF must follow "
                                       "U+D800..U+DBFF");
                }
                add_utf8(L, cp);
                break;
            }
            default:
                return lx_error(L, "invalid string: forbidden character after backslash");
            }
            continue;
        }
        if (c < 0x20) {
            AStr m;
            lang_astr_init(L->S, &m, 96);
            lang_astr_addf(L->S, &m,
                      "invalid string: control character U+%04X (%s) must be escaped to \\u%04X",
                      (unsigned)c, ctrl_names[c], (unsigned)c);
            const char *shortesc = c == '\b'   ? "\\b"
                                   : c == '\t' ? "\\t"
                                   : c == '\n' ? "\\n"
                                   : c == '\f' ? "\\f"
                                   : c == '\r' ? "\\r"
                                                : NULL;
            if (shortesc)
                lang_astr_addf(L->S, &m, " or %s", shortesc);
            return lx_error(L, m.buf);
        }
        if (c < 0x80) {
            lang_astr_addch(L->S, &L->buf, (char)c);
            continue;
        }
        static const int r2[] = {0x80, 0xBF};
        static const int re0[] = {0xA0, 0xBF, 0x80, 0xBF};
        static const int re1[] = {0x80, 0xBF, 0x80, 0xBF};
        static const int red[] = {0x80, 0x9F, 0x80, 0xBF};
        static const int rf0[] = {0x90, 0xBF, 0x80, 0xBF, 0x80, 0xBF};
        static const int rf1[] = {0x80, 0xBF, 0x80, 0xBF, 0x80, 0xBF};
        static const int rf4[] = {0x80, 0x8F, 0x80, 0xBF, 0x80, 0xBF};
        int ok;
        if (c >= 0xC2 && c <= 0xDF)
            ok = lx_utf8(L, r2, 2);
        else if (c == 0xE0)
            ok = lx_utf8(L, re0, 4);
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
            ok = lx_utf8(L, re1, 4);
        else if (c == 0xED)
            ok = lx_utf8(L, red, 4);
        else if (c == 0xF0)
            ok = lx_utf8(L, rf0, 6);
        else if (c >= 0xF1 && c <= 0xF3)
            ok = lx_utf8(L, rf1, 6);
        else if (c == 0xF4)
            ok = lx_utf8(L, rf4, 6);
        else
            return lx_error(L, "invalid string: ill-formed UTF-8 byte");
        if (!ok)
            return J_PARSE_ERROR;
    }
}

static int is_digit(int c) {
    return c >= '0' && c <= '9';
}

static int lx_number(Lexer *L) {
    State *S = L->S;
    lx_reset(L);
    int type = J_UNSIGNED;
    int c = L->cur;
    lang_astr_addch(S, &L->buf, (char)c);
    if (c == '-') {
        type = J_INTEGER;
        c = lx_get(L);
        if (!is_digit(c))
            return lx_error(L, "invalid number; expected digit after '-'");
        lang_astr_addch(S, &L->buf, (char)c);
    }
    if (c != '0')
        while (is_digit(c = lx_get(L)))
            lang_astr_addch(S, &L->buf, (char)c);
    else
        c = lx_get(L);
    if (c == '.') {
        type = J_FLOAT;
        lang_astr_addch(S, &L->buf, '.');
        c = lx_get(L);
        if (!is_digit(c))
            return lx_error(L, "invalid number; expected digit after '.'");
        lang_astr_addch(S, &L->buf, (char)c);
        while (is_digit(c = lx_get(L)))
            lang_astr_addch(S, &L->buf, (char)c);
    }
    if (c == 'e' || c == 'E') {
        type = J_FLOAT;
        lang_astr_addch(S, &L->buf, (char)c);
        c = lx_get(L);
        if (c == '+' || c == '-') {
            lang_astr_addch(S, &L->buf, (char)c);
            c = lx_get(L);
            if (!is_digit(c))
                return lx_error(L, "invalid number; expected digit after exponent sign");
        } else if (!is_digit(c)) {
            return lx_error(L, "invalid number; expected '+', '-', or digit after exponent");
        }
        lang_astr_addch(S, &L->buf, (char)c);
        while (is_digit(c = lx_get(L)))
            lang_astr_addch(S, &L->buf, (char)c);
    }
    lx_unget(L);
    lang_astr_addch(S, &L->buf, '\0');
    L->buf.len--;
    errno = 0;
    if (type == J_UNSIGNED) {
        unsigned long long x = strtoull(L->buf.buf, NULL, 10);
        if (errno == 0) {
            L->u = x;
            return J_UNSIGNED;
        }
    } else if (type == J_INTEGER) {
        long long x = strtoll(L->buf.buf, NULL, 10);
        if (errno == 0) {
            L->i = x;
            return J_INTEGER;
        }
    }
    L->f = strtod(L->buf.buf, NULL);
    return J_FLOAT;
}

static int lx_scan(Lexer *L) {
    if (L->chars_total == 0) {
        /* a byte order mark is skipped; half of one is an error */
        if (lx_get(L) == 0xEF) {
            if (!(lx_get(L) == 0xBB && lx_get(L) == 0xBF))
                return lx_error(L, "invalid BOM; must be 0xEF 0xBB 0xBF if given");
        } else {
            lx_unget(L);
        }
    }
    int c;
    do
        c = lx_get(L);
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    switch (c) {
    case '[': return J_BEGIN_ARRAY;
    case ']': return J_END_ARRAY;
    case '{': return J_BEGIN_OBJECT;
    case '}': return J_END_OBJECT;
    case ':': return J_NAME_SEP;
    case ',': return J_VALUE_SEP;
    case 't': return lx_literal(L, "true", J_TRUE);
    case 'f': return lx_literal(L, "false", J_FALSE);
    case 'n': return lx_literal(L, "null", J_NULL);
    case '"': return lx_string(L);
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
    case '8': case '9':
        return lx_number(L);
    case 0: case -1: return J_END;
    default: return lx_error(L, "invalid literal");
    }
}

/* The token as nlohmann shows it: control characters as <U+XXXX>. */
static const char *token_string(Lexer *L) {
    AStr r;
    lang_astr_init(L->S, &r, L->tokstr.len + 16);
    for (size_t k = 0; k < L->tokstr.len; k++) {
        unsigned char c = (unsigned char)L->tokstr.buf[k];
        if (c <= 0x1F)
            lang_astr_addf(L->S, &r, "<U+%.4X>", c);
        else
            lang_astr_addch(L->S, &r, (char)c);
    }
    lang_astr_addch(L->S, &r, '\0');
    return r.buf;
}

NORETURN static void syntax_error(Lexer *L, int last, int expected, const char *context,
                                  PosIdx pos) {
    AStr m;
    lang_astr_init(L->S, &m, 128);
    lang_astr_addf(L->S, &m,
              "[json.exception.parse_error.101] parse error at line %zu, column %zu: syntax "
              "error while parsing %s - ",
              L->lines + 1, L->chars_line, context);
    if (last == J_PARSE_ERROR)
        lang_astr_addf(L->S, &m, "%s; last read: '%s'", L->errmsg, token_string(L));
    else
        lang_astr_addf(L->S, &m, "unexpected %s", tok_name(last));
    if (expected != J_UNINIT)
        lang_astr_addf(L->S, &m, "; expected %s", tok_name(expected));
    lang_throw(L->S, pos, "%s", m.buf);
}

/* A container being filled: its values (and for objects the keys). */
typedef struct Level {
    int is_array;
    Value **vals;
    Sym *keys;
    uint32_t n, cap;
    Sym key; /* the key whose value comes next */
} Level;

static void level_add(State *S, Level *lv, Value *v) {
    if (lv->n == lv->cap) {
        uint32_t nc = lv->cap ? lv->cap * 2 : 8;
        Value **nv = arena_alloc(&S->arena, nc * sizeof(Value *));
        if (lv->n)
            memcpy(nv, lv->vals, lv->n * sizeof(Value *));
        lv->vals = nv;
        if (!lv->is_array) {
            Sym *nk = arena_alloc(&S->arena, nc * sizeof(Sym));
            if (lv->n)
                memcpy(nk, lv->keys, lv->n * sizeof(Sym));
            lv->keys = nk;
        }
        lv->cap = nc;
    }
    if (!lv->is_array)
        lv->keys[lv->n] = lv->key;
    lv->vals[lv->n++] = v;
}

static void level_finish(State *S, Level *lv, Value *out, PosIdx pos) {
    if (lv->is_array) {
        lang_mk_list(S, out, lv->n);
        if (lv->n)
            memcpy(out->elems, lv->vals, lv->n * sizeof(Value *));
        return;
    }
    /* a repeated key: the last value wins, as in Nix */
    Attrs *a = lang_alloc_attrs(S, lv->n);
    PtrSet seen = {NULL, 0, 0};
    for (uint32_t k = lv->n; k-- > 0;)
        if (lang_ptrset_add(S, &seen, sym_name(S, lv->keys[k])))
            a->a[a->n++] = (Attr){lv->keys[k], pos, lv->vals[k]};
    lang_attrs_sort(a);
    out->type = V_ATTRS;
    out->attrs = a;
}

void lang_json_to_value(State *S, const char *s, size_t len, Value *out, PosIdx pos) {
    Lexer L;
    memset(&L, 0, sizeof L);
    L.S = S;
    L.s = (const unsigned char *)s;
    L.len = len;
    L.cur = -1;
    lang_astr_init(S, &L.tokstr, 64);
    lang_astr_init(S, &L.buf, 64);
    Level *stack = NULL;
    size_t depth = 0, cap = 0;
    int last = lx_scan(&L);
    for (;;) {
        Value *v = lang_alloc_value(S);
        switch (last) {
        case J_BEGIN_OBJECT:
        case J_BEGIN_ARRAY: {
            int arr = last == J_BEGIN_ARRAY;
            last = lx_scan(&L);
            if (last == (arr ? J_END_ARRAY : J_END_OBJECT)) {
                Level empty = {arr, NULL, NULL, 0, 0, 0};
                level_finish(S, &empty, v, pos);
                break;
            }
            if (depth == cap) {
                cap = cap ? cap * 2 : 16;
                Level *ns = arena_alloc(&S->arena, cap * sizeof(Level));
                if (depth)
                    memcpy(ns, stack, depth * sizeof(Level));
                stack = ns;
            }
            stack[depth] = (Level){arr, NULL, NULL, 0, 0, 0};
            if (!arr) {
                if (last != J_STRING)
                    syntax_error(&L, last, J_STRING, "object key", pos);
                stack[depth].key = lang_sym_intern(S, L.buf.buf, L.buf.len);
                if ((last = lx_scan(&L)) != J_NAME_SEP)
                    syntax_error(&L, last, J_NAME_SEP, "object separator", pos);
                last = lx_scan(&L);
            }
            depth++;
            continue;
        }
        case J_FLOAT:
            if (!isfinite(L.f))
                lang_throw(S, pos, "[json.exception.out_of_range.406] number overflow parsing '%s'",
                           token_string(&L));
            mk_float(v, L.f);
            break;
        case J_TRUE: mk_bool(v, 1); break;
        case J_FALSE: mk_bool(v, 0); break;
        case J_NULL: mk_null(v); break;
        case J_INTEGER: mk_int(v, L.i); break;
        case J_UNSIGNED: mk_int(v, (int64_t)L.u); break;
        case J_STRING: {
            /* Nix's strings end at a NUL byte */
            size_t n = strnlen(L.buf.buf, L.buf.len);
            lang_mk_string_copy(S, v, L.buf.buf, n, NULL);
            break;
        }
        case J_PARSE_ERROR:
            syntax_error(&L, last, J_UNINIT, "value", pos);
        default:
            syntax_error(&L, last, J_LITERAL_OR_VALUE, "value", pos);
        }
        /* a value is complete: put it into its container, closing finished containers */
        for (;;) {
            if (depth == 0) {
                if ((last = lx_scan(&L)) != J_END)
                    syntax_error(&L, last, J_END, "value", pos);
                *out = *v;
                return;
            }
            Level *lv = &stack[depth - 1];
            level_add(S, lv, v);
            last = lx_scan(&L);
            if (last == J_VALUE_SEP) {
                if (!lv->is_array) {
                    if ((last = lx_scan(&L)) != J_STRING)
                        syntax_error(&L, last, J_STRING, "object key", pos);
                    lv->key = lang_sym_intern(S, L.buf.buf, L.buf.len);
                    if ((last = lx_scan(&L)) != J_NAME_SEP)
                        syntax_error(&L, last, J_NAME_SEP, "object separator", pos);
                }
                last = lx_scan(&L);
                break;
            }
            if (last != (lv->is_array ? J_END_ARRAY : J_END_OBJECT))
                syntax_error(&L, last, lv->is_array ? J_END_ARRAY : J_END_OBJECT,
                             lv->is_array ? "array" : "object", pos);
            v = lang_alloc_value(S);
            level_finish(S, lv, v, pos);
            depth--;
        }
    }
}
