/* toml.c - builtins.fromTOML: a TOML subset (tables, arrays of tables, dotted keys, strings,
 * integers, floats, booleans, arrays, inline tables, and dates and times, which Nix 2.8
 * reads and then refuses) parsed straight into values. Never
 * touches files. */
#include <errno.h>
#include <stdlib.h>

#include "lang/internal.h"

typedef struct TP {
    State *S;
    const char *s, *e;
    PosIdx pos;
    int line;
    int has_datetime; /* Nix 2.8 parses dates and times, then refuses the document */
} TP;

/* A mutable table while parsing: names and values, turned into Attrs at the end. */
typedef struct TTable {
    Sym *names;
    Value **vals;
    struct TTable **sub; /* table children (or NULL) */
    int *is_array;       /* array of tables */
    uint32_t n, cap;
} TTable;

static NORETURN void terr(TP *p, const char *msg) {
    lang_throw(p->S, p->pos, "while parsing a TOML string: %s at line %d", msg, p->line);
}

/* toml11's own words (the first line of its message), without flakectl's line suffix. */
static NORETURN void terr_plain(TP *p, const char *msg) {
    lang_throw(p->S, p->pos, "while parsing a TOML string: %s", msg);
}

static void ws(TP *p) {
    while (p->s < p->e && (*p->s == ' ' || *p->s == '\t'))
        p->s++;
}

static void ws_nl(TP *p) {
    for (;;) {
        ws(p);
        if (p->s < p->e && *p->s == '#') {
            while (p->s < p->e && *p->s != '\n')
                p->s++;
        }
        if (p->s < p->e && (*p->s == '\n' || *p->s == '\r')) {
            if (*p->s == '\n')
                p->line++;
            p->s++;
            continue;
        }
        break;
    }
}

static TTable *tt_new(State *S) {
    return lang_arena_zalloc(&S->arena, sizeof(TTable));
}

static int tt_find(TTable *t, Sym name) {
    for (uint32_t i = 0; i < t->n; i++)
        if (t->names[i] == name)
            return (int)i;
    return -1;
}

static uint32_t tt_add(State *S, TTable *t, Sym name) {
    if (t->n == t->cap) {
        uint32_t nc = t->cap ? t->cap * 2 : 8;
        Sym *nn = arena_alloc(&S->arena, nc * sizeof(Sym));
        Value **nv = arena_alloc(&S->arena, nc * sizeof(Value *));
        TTable **ns = arena_alloc(&S->arena, nc * sizeof(TTable *));
        int *na = arena_alloc(&S->arena, nc * sizeof(int));
        if (t->n) {
            memcpy(nn, t->names, t->n * sizeof(Sym));
            memcpy(nv, t->vals, t->n * sizeof(Value *));
            memcpy(ns, t->sub, t->n * sizeof(TTable *));
            memcpy(na, t->is_array, t->n * sizeof(int));
        }
        t->names = nn;
        t->vals = nv;
        t->sub = ns;
        t->is_array = na;
        t->cap = nc;
    }
    t->names[t->n] = name;
    t->vals[t->n] = NULL;
    t->sub[t->n] = NULL;
    t->is_array[t->n] = 0;
    return t->n++;
}

static void tt_to_value(State *S, TTable *t, Value *out);

static Sym parse_key_part(TP *p) {
    ws(p);
    if (p->s < p->e && (*p->s == '"' || *p->s == '\'')) {
        char q = *p->s++;
        AStr a;
        lang_astr_init(p->S, &a, 16);
        while (p->s < p->e && *p->s != q) {
            if (q == '"' && *p->s == '\\' && p->s + 1 < p->e) {
                p->s++;
                char c = *p->s;
                lang_astr_addch(p->S, &a, c == 'n' ? '\n' : c == 't' ? '\t' : c);
            } else
                lang_astr_addch(p->S, &a, *p->s);
            p->s++;
        }
        if (p->s >= p->e)
            terr(p, "unterminated key");
        p->s++;
        return lang_sym_intern(p->S, a.buf, a.len);
    }
    const char *st = p->s;
    while (p->s < p->e && ((*p->s >= 'a' && *p->s <= 'z') || (*p->s >= 'A' && *p->s <= 'Z') ||
                           (*p->s >= '0' && *p->s <= '9') || *p->s == '_' || *p->s == '-'))
        p->s++;
    if (p->s == st)
        terr(p, "expected a key");
    return lang_sym_intern(p->S, st, (size_t)(p->s - st));
}

static void parse_value(TP *p, Value *out);

static void parse_string(TP *p, Value *out) {
    State *S = p->S;
    char q = *p->s;
    int multi = p->e - p->s >= 3 && p->s[1] == q && p->s[2] == q;
    p->s += multi ? 3 : 1;
    if (multi && p->s < p->e && *p->s == '\n') {
        p->s++;
        p->line++;
    }
    AStr a;
    lang_astr_init(S, &a, 32);
    for (;;) {
        if (p->s >= p->e)
            terr(p, "unterminated string");
        char c = *p->s;
        if (multi && c == q && p->e - p->s >= 3 && p->s[1] == q && p->s[2] == q) {
            p->s += 3;
            break;
        }
        if (!multi && c == q) {
            p->s++;
            break;
        }
        if (!multi && c == '\n')
            terr(p, "newline in string");
        if (c == '\n')
            p->line++;
        if (q == '"' && c == '\\' && p->s + 1 < p->e) {
            p->s++;
            c = *p->s;
            switch (c) {
            case 'n': lang_astr_addch(S, &a, '\n'); break;
            case 't': lang_astr_addch(S, &a, '\t'); break;
            case 'r': lang_astr_addch(S, &a, '\r'); break;
            case 'b': lang_astr_addch(S, &a, '\b'); break;
            case 'f': lang_astr_addch(S, &a, '\f'); break;
            case '"': lang_astr_addch(S, &a, '"'); break;
            case '\\': lang_astr_addch(S, &a, '\\'); break;
            case 'u':
            case 'U': {
                int nd = c == 'u' ? 4 : 8;
                if (p->e - p->s < nd + 1)
                    terr(p, "bad unicode escape");
                char hex[9];
                memcpy(hex, p->s + 1, (size_t)nd);
                hex[nd] = '\0';
                unsigned long cp = strtoul(hex, NULL, 16);
                p->s += nd;
                char u[4];
                int n = 0;
                if (cp < 0x80)
                    u[n++] = (char)cp;
                else if (cp < 0x800) {
                    u[n++] = (char)(0xC0 | (cp >> 6));
                    u[n++] = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    u[n++] = (char)(0xE0 | (cp >> 12));
                    u[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    u[n++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    u[n++] = (char)(0xF0 | (cp >> 18));
                    u[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    u[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    u[n++] = (char)(0x80 | (cp & 0x3F));
                }
                lang_astr_add(S, &a, u, (size_t)n);
                break;
            }
            case '\n':
                /* line-ending backslash: trim following whitespace */
                p->line++;
                while (p->s + 1 < p->e && (p->s[1] == ' ' || p->s[1] == '\t' || p->s[1] == '\n')) {
                    if (p->s[1] == '\n')
                        p->line++;
                    p->s++;
                }
                break;
            default: terr(p, "bad escape");
            }
            p->s++;
            continue;
        }
        lang_astr_addch(S, &a, c);
        p->s++;
    }
    lang_mk_string(S, out, a.buf, a.len, NULL);
}

static void parse_inline_table(TP *p, Value *out) {
    State *S = p->S;
    p->s++;
    TTable *t = tt_new(S);
    ws(p);
    if (p->s < p->e && *p->s == '}') {
        p->s++;
        tt_to_value(S, t, out);
        return;
    }
    for (;;) {
        TTable *cur = t;
        Sym k = parse_key_part(p);
        ws(p);
        while (p->s < p->e && *p->s == '.') {
            p->s++;
            int i = tt_find(cur, k);
            if (i < 0) {
                i = (int)tt_add(S, cur, k);
                cur->sub[i] = tt_new(S);
            } else if (!cur->sub[i])
                terr(p, "key defined twice");
            cur = cur->sub[i];
            k = parse_key_part(p);
            ws(p);
        }
        if (p->s >= p->e || *p->s != '=')
            terr(p, "expected '='");
        p->s++;
        ws(p);
        if (tt_find(cur, k) >= 0)
            terr(p, "key defined twice");
        uint32_t i = tt_add(S, cur, k);
        cur->vals[i] = lang_alloc_value(S);
        parse_value(p, cur->vals[i]);
        ws(p);
        if (p->s < p->e && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->e && *p->s == '}') {
            p->s++;
            break;
        }
        terr(p, "expected ',' or '}'");
    }
    tt_to_value(S, t, out);
}

static int digits_at(const char *s, const char *e, int n) {
    for (int i = 0; i < n; i++)
        if (s + i >= e || s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int num_at(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* HH:MM:SS[.frac] at p->s; 0 when there is none. */
static int parse_time(TP *p) {
    const char *s = p->s;
    if (!(digits_at(s, p->e, 2) && s + 2 < p->e && s[2] == ':' && digits_at(s + 3, p->e, 2) &&
          s + 5 < p->e && s[5] == ':' && digits_at(s + 6, p->e, 2)))
        return 0;
    if (num_at(s, 2) > 23 || num_at(s + 3, 2) > 59 || num_at(s + 6, 2) > 60)
        terr_plain(p, "[error] toml::parse_time: invalid time: it does not conform RFC3339.");
    s += 8;
    if (s < p->e && *s == '.' && digits_at(s + 1, p->e, 1)) {
        s++;
        while (s < p->e && *s >= '0' && *s <= '9')
            s++;
    }
    p->s = s;
    return 1;
}

/* A TOML date, time or date-time (offset or local), checked as toml11 checks them. */
static int parse_datetime(TP *p) {
    const char *s = p->s;
    if (parse_time(p)) {
        p->has_datetime = 1;
        return 1;
    }
    if (digits_at(s, p->e, 2) && s + 2 < p->e && s[2] == ':')
        terr_plain(p, "[error] bad datetime: invalid format");
    if (!(digits_at(s, p->e, 4) && s + 4 < p->e && s[4] == '-' && digits_at(s + 5, p->e, 2) &&
          s + 7 < p->e && s[7] == '-' && digits_at(s + 8, p->e, 2)))
        return 0;
    int year = num_at(s, 4), month = num_at(s + 5, 2), day = num_at(s + 8, 2);
    int leap = (year % 4 == 0) && (year % 100 != 0 || year % 400 == 0);
    int max_day = month == 2 ? (leap ? 29 : 28)
                             : (month == 4 || month == 6 || month == 9 || month == 11) ? 30 : 31;
    if (month < 1 || month > 12 || day < 1 || day > max_day)
        terr_plain(p, "[error] toml::parse_date: invalid date: it does not conform RFC3339.");
    p->s = s + 10;
    p->has_datetime = 1;
    if (p->s < p->e && (*p->s == 'T' || *p->s == 't' ||
                        (*p->s == ' ' && digits_at(p->s + 1, p->e, 2)))) {
        const char *save = p->s;
        p->s++;
        if (!parse_time(p)) {
            if (*save != ' ')
                terr_plain(p, "[error] bad time: should be HH:MM:SS.subsec");
            p->s = save;
            return 1;
        }
        if (p->s < p->e && (*p->s == 'Z' || *p->s == 'z')) {
            p->s++;
        } else if (p->s < p->e && (*p->s == '+' || *p->s == '-') && digits_at(p->s + 1, p->e, 2) &&
                   p->s + 3 < p->e && p->s[3] == ':' && digits_at(p->s + 4, p->e, 2)) {
            p->s += 6;
        }
    }
    return 1;
}

static void parse_value(TP *p, Value *out) {
    State *S = p->S;
    lang_stack_check(S, p->pos);
    if (p->s >= p->e)
        terr(p, "expected a value");
    char c = *p->s;
    if (c == '"' || c == '\'') {
        parse_string(p, out);
        return;
    }
    if (c == '[') {
        p->s++;
        uint32_t cap = 8, n = 0;
        Value **items = lang_alloc_elems(S, cap);
        for (;;) {
            ws_nl(p);
            if (p->s < p->e && *p->s == ']') {
                p->s++;
                break;
            }
            if (n == cap) {
                Value **ni = lang_alloc_elems(S, cap * 2);
                memcpy(ni, items, n * sizeof(Value *));
                items = ni;
                cap *= 2;
            }
            items[n] = lang_alloc_value(S);
            parse_value(p, items[n++]);
            ws_nl(p);
            if (p->s < p->e && *p->s == ',') {
                p->s++;
                continue;
            }
            ws_nl(p);
            if (p->s < p->e && *p->s == ']') {
                p->s++;
                break;
            }
            terr(p, "expected ',' or ']'");
        }
        out->type = V_LIST;
        out->n = n;
        out->elems = items;
        return;
    }
    if (c == '{') {
        parse_inline_table(p, out);
        return;
    }
    if (p->e - p->s >= 4 && !memcmp(p->s, "true", 4)) {
        p->s += 4;
        mk_bool(out, 1);
        return;
    }
    if (p->e - p->s >= 5 && !memcmp(p->s, "false", 5)) {
        p->s += 5;
        mk_bool(out, 0);
        return;
    }
    if (parse_datetime(p)) {
        mk_null(out);
        return;
    }
    /* numbers */
    const char *st = p->s;
    while (p->s < p->e && strchr("+-0123456789._eExobabcdefABCDEFinf", *p->s) && *p->s)
        p->s++;
    size_t n = (size_t)(p->s - st);
    if (!n)
        terr(p, "expected a value");
    char *buf = arena_alloc(&S->arena, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (st[i] != '_')
            buf[k++] = st[i];
    buf[k] = '\0';
    int is_float = 0;
    if (!(buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'o' || buf[1] == 'b')))
        for (size_t i = 0; i < k; i++)
            if (buf[i] == '.' || buf[i] == 'e' || buf[i] == 'E' || buf[i] == 'n')
                is_float = 1;
    char *end;
    errno = 0;
    if (is_float) {
        double d = strtod(buf, &end);
        if (*end)
            terr(p, "invalid number");
        mk_float(out, d);
    } else {
        int base = 10;
        char *b = buf;
        if (b[0] == '0' && b[1] == 'x')
            base = 16, b += 2;
        else if (b[0] == '0' && b[1] == 'o')
            base = 8, b += 2;
        else if (b[0] == '0' && b[1] == 'b')
            base = 2, b += 2;
        long long v = strtoll(b, &end, base);
        if (*end || errno)
            terr(p, "invalid number");
        mk_int(out, v);
    }
}

static void tt_to_value(State *S, TTable *t, Value *out) {
    Attrs *a = lang_alloc_attrs(S, t->n);
    for (uint32_t i = 0; i < t->n; i++) {
        Value *v = t->vals[i];
        if (t->sub[i] && !t->is_array[i]) {
            v = lang_alloc_value(S);
            tt_to_value(S, t->sub[i], v);
        }
        a->a[a->n++] = (Attr){t->names[i], 0, v};
    }
    lang_attrs_sort(a);
    out->type = V_ATTRS;
    out->attrs = a;
}

/* An array of tables is kept as a list value whose elements are filled at the end; the
 * current element is tracked as a TTable. */
typedef struct ArrTab {
    TTable **tabs;
    uint32_t n, cap;
} ArrTab;

void lang_toml_to_value(State *S, const char *s, size_t len, Value *out, PosIdx pos) {
    TP p = {S, s, s + len, pos, 1, 0};
    TTable *root = tt_new(S), *cur = root;
    /* arrays of tables: per (table, index) an ArrTab in vals slot as a special list */
    for (;;) {
        ws_nl(&p);
        if (p.s >= p.e)
            break;
        if (*p.s == '[') {
            int arr = p.e - p.s >= 2 && p.s[1] == '[';
            p.s += arr ? 2 : 1;
            TTable *t = root;
            for (;;) {
                Sym k = parse_key_part(&p);
                ws(&p);
                int last = !(p.s < p.e && *p.s == '.');
                int i = tt_find(t, k);
                if (last && arr) {
                    if (i < 0) {
                        i = (int)tt_add(S, t, k);
                        t->is_array[i] = 1;
                        t->sub[i] = tt_new(S); /* holder: sub->sub are the elements */
                        t->vals[i] = lang_alloc_value(S);
                    } else if (!t->is_array[i])
                        terr(&p, "key defined twice");
                    TTable *holder = t->sub[i];
                    uint32_t j = tt_add(S, holder, 0);
                    holder->sub[j] = tt_new(S);
                    t = holder->sub[j];
                } else {
                    if (i < 0) {
                        i = (int)tt_add(S, t, k);
                        t->sub[i] = tt_new(S);
                    } else if (!t->sub[i])
                        terr(&p, "key defined twice");
                    if (t->is_array[i]) {
                        TTable *holder = t->sub[i];
                        t = holder->sub[holder->n - 1];
                    } else
                        t = t->sub[i];
                }
                if (last)
                    break;
                p.s++;
            }
            if (p.s >= p.e || *p.s != ']')
                terr(&p, "expected ']'");
            p.s++;
            if (arr) {
                if (p.s >= p.e || *p.s != ']')
                    terr(&p, "expected ']]'");
                p.s++;
            }
            cur = t;
            continue;
        }
        TTable *t = cur;
        Sym k = parse_key_part(&p);
        ws(&p);
        while (p.s < p.e && *p.s == '.') {
            p.s++;
            int i = tt_find(t, k);
            if (i < 0) {
                i = (int)tt_add(S, t, k);
                t->sub[i] = tt_new(S);
            } else if (!t->sub[i])
                terr(&p, "key defined twice");
            t = t->sub[i];
            k = parse_key_part(&p);
            ws(&p);
        }
        if (p.s >= p.e || *p.s != '=')
            terr(&p, "expected '='");
        p.s++;
        ws(&p);
        if (tt_find(t, k) >= 0)
            terr(&p, "key defined twice");
        uint32_t i = tt_add(S, t, k);
        t->vals[i] = lang_alloc_value(S);
        parse_value(&p, t->vals[i]);
        ws(&p);
        if (p.s < p.e && *p.s == '#')
            continue;
        if (p.s < p.e && *p.s != '\n' && *p.s != '\r')
            terr(&p, "expected a newline after a value");
    }
    /* materialise arrays of tables (depth-first) */
    void lang_materialise(State * S, TTable * t);
    if (p.has_datetime)
        lang_throw(S, pos, "while parsing a TOML string: Dates and times are not supported");
    lang_materialise(S, root);
    tt_to_value(S, root, out);
}

void lang_materialise(State *S, TTable *t);
void lang_materialise(State *S, TTable *t) {
    for (uint32_t i = 0; i < t->n; i++) {
        if (!t->sub[i])
            continue;
        if (t->is_array[i]) {
            TTable *holder = t->sub[i];
            Value *l = t->vals[i];
            lang_mk_list(S, l, holder->n);
            for (uint32_t j = 0; j < holder->n; j++) {
                lang_materialise(S, holder->sub[j]);
                l->elems[j] = lang_alloc_value(S);
                tt_to_value(S, holder->sub[j], l->elems[j]);
            }
        } else {
            lang_materialise(S, t->sub[i]);
        }
    }
}
