/* regex.c - builtins.match and builtins.split as Nix 2.8 runs them. libstdc++'s std::regex
 * (extended syntax) runs a depth-first backtracking search over an NFA built like libstdc++
 * builds it, one attempt per starting position; alternatives are all tried and the longest
 * match kept (first found wins a tie), a greedy repeat that found any match does not try
 * fewer iterations, and a group keeps what its last iteration captured. So the spans and the
 * groups can differ from glibc's leftmost-longest POSIX answer, and this file decides both.
 * It declines syntax it does not handle (compile returns NULL) and gives up on a search that
 * takes too many steps (exec returns -1); builtins.c then asks glibc. Never allocates from
 * the evaluator's arena. */
#include <stdlib.h>
#include <string.h>

#include "lang/regex.h"

enum { RX_MATCH, RX_BOL, RX_EOL, RX_SUBB, RX_SUBE, RX_ALT, RX_REP, RX_DUMMY, RX_ACCEPT };

typedef struct RxNode {
    int op, next, alt, arg;
    unsigned char set[32];
} RxNode;

typedef struct Frag {
    int start, end;
} Frag;

typedef struct Rx {
    RxNode *n;
    int nn, cap;
    const char *p; /* pattern cursor */
    int ngroups, bad;
    /* matching */
    const char *s;
    size_t len;
    long *cur, *best; /* 2 per group: start, end (-1 unmatched) */
    long *repcnt;     /* per node: position, count */
    long sol;
    int has_sol, depth;
    int flags;      /* FL_RX_* */
    size_t begin;   /* where this attempt started */
    long steps;     /* bounded so a pathological pattern gives up instead of hanging */
    int start_node; /* of the compiled NFA */
} Rx;

struct fl_lang_regex {
    Rx r;
};

static int node(Rx *r, int op) {
    if (r->nn == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        RxNode *nn = realloc(r->n, (size_t)r->cap * sizeof(RxNode));
        if (!nn) {
            r->bad = 1;
            r->nn = 0;
            return 0;
        }
        r->n = nn;
    }
    RxNode *x = &r->n[r->nn];
    memset(x, 0, sizeof *x);
    x->op = op;
    x->next = x->alt = -1;
    return r->nn++;
}

static void append(Rx *r, Frag *a, Frag b) {
    if (r->bad)
        return;
    r->n[a->end].next = b.start;
    a->end = b.end;
}

static Frag single(Rx *r, int op) {
    int i = node(r, op);
    return (Frag){i, i};
}

static Frag parse_alt(Rx *r);

static void set_bit(unsigned char *set, unsigned c) {
    set[c >> 3] |= (unsigned char)(1u << (c & 7));
}

static int class_has(const char *name, size_t n, int c) {
#define CL(str, test)                                                                          \
    if (n == strlen(str) && !memcmp(name, str, n))                                             \
        return (test);
    CL("alpha", (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    CL("digit", c >= '0' && c <= '9')
    CL("alnum", (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    CL("upper", c >= 'A' && c <= 'Z')
    CL("lower", c >= 'a' && c <= 'z')
    CL("space", c == ' ' || (c >= '\t' && c <= '\r'))
    CL("blank", c == ' ' || c == '\t')
    CL("punct", c > 32 && c < 127 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                       (c >= '0' && c <= '9')))
    CL("xdigit", (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
    CL("print", c >= 32 && c < 127)
    CL("graph", c > 32 && c < 127)
    CL("cntrl", c < 32 || c == 127)
#undef CL
    return -1;
}

/* [...] ; r->p is just after '[' */
static Frag parse_bracket(Rx *r) {
    Frag f = single(r, RX_MATCH);
    unsigned char set[32] = {0};
    int neg = 0;
    if (*r->p == '^') {
        neg = 1;
        r->p++;
    }
    int first = 1;
    while (*r->p && (first || *r->p != ']')) {
        first = 0;
        if (r->p[0] == '[' && (r->p[1] == ':' || r->p[1] == '=' || r->p[1] == '.')) {
            char kind = r->p[1];
            const char *b = r->p + 2, *e = strstr(b, kind == ':' ? ":]" : kind == '=' ? "=]" : ".]");
            if (!e) {
                r->bad = 1;
                return f;
            }
            if (kind == ':') {
                for (int c = 1; c < 256; c++) {
                    int h = class_has(b, (size_t)(e - b), c);
                    if (h < 0) {
                        r->bad = 1;
                        return f;
                    }
                    if (h)
                        set_bit(set, (unsigned)c);
                }
            } else if (e - b == 1) {
                set_bit(set, (unsigned char)*b);
            } else {
                r->bad = 1;
                return f;
            }
            r->p = e + 2;
            continue;
        }
        unsigned lo = (unsigned char)*r->p++;
        if (r->p[0] == '-' && r->p[1] && r->p[1] != ']') {
            unsigned hi = (unsigned char)r->p[1];
            r->p += 2;
            if (hi < lo) {
                r->bad = 1;
                return f;
            }
            for (unsigned c = lo; c <= hi; c++)
                set_bit(set, c);
        } else {
            set_bit(set, lo);
        }
    }
    if (*r->p != ']') {
        r->bad = 1;
        return f;
    }
    r->p++;
    if (neg)
        for (int i = 0; i < 32; i++)
            set[i] = (unsigned char)~set[i];
    set[0] &= (unsigned char)~1u; /* never NUL */
    if (!r->bad)
        memcpy(r->n[f.start].set, set, 32);
    return f;
}

static Frag parse_atom(Rx *r) {
    char c = *r->p;
    if (c == '(') {
        r->p++;
        int g = ++r->ngroups;
        Frag f = single(r, RX_SUBB);
        if (!r->bad)
            r->n[f.start].arg = g;
        append(r, &f, parse_alt(r));
        if (*r->p != ')') {
            r->bad = 1;
            return f;
        }
        r->p++;
        Frag e = single(r, RX_SUBE);
        if (!r->bad)
            r->n[e.start].arg = g;
        append(r, &f, e);
        return f;
    }
    if (c == '[') {
        r->p++;
        return parse_bracket(r);
    }
    if (c == '^') {
        r->p++;
        return single(r, RX_BOL);
    }
    if (c == '$') {
        r->p++;
        return single(r, RX_EOL);
    }
    Frag f = single(r, RX_MATCH);
    if (r->bad)
        return f;
    if (c == '.') {
        memset(r->n[f.start].set, 0xff, 32);
        r->n[f.start].set[0] &= (unsigned char)~1u;
        r->p++;
        return f;
    }
    if (c == '\\') {
        r->p++;
        c = *r->p;
        if (!c || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            r->bad = 1; /* back references and class escapes: not handled here */
            return f;
        }
    } else if (c == '*' || c == '+' || c == '?' || c == '{' || c == ')' || c == '|' || !c) {
        r->bad = 1;
        return f;
    }
    set_bit(r->n[f.start].set, (unsigned char)c);
    r->p++;
    return f;
}

static Frag star_of(Rx *r, Frag e) {
    int rep = node(r, RX_REP);
    if (r->bad)
        return e;
    r->n[rep].alt = e.start;
    r->n[e.end].next = rep;
    return (Frag){rep, rep};
}

static Frag parse_term(Rx *r) {
    const char *atom_at = r->p;
    int groups_before = r->ngroups;
    Frag e = parse_atom(r);
    for (;;) {
        if (r->bad)
            return e;
        char q = *r->p;
        if (q == '*') {
            r->p++;
            e = star_of(r, e);
        } else if (q == '+') {
            r->p++;
            int rep = node(r, RX_REP);
            if (r->bad)
                return e;
            r->n[rep].alt = e.start;
            r->n[e.end].next = rep;
            e.end = rep;
        } else if (q == '?') {
            r->p++;
            int end = node(r, RX_DUMMY), rep = node(r, RX_REP);
            if (r->bad)
                return e;
            r->n[rep].alt = e.start;
            r->n[rep].next = end;
            r->n[e.end].next = end;
            e = (Frag){rep, end};
        } else if (q == '{') {
            char *endp;
            long m = strtol(r->p + 1, &endp, 10), n = m;
            int inf = 0;
            if (endp == r->p + 1 || m < 0 || m > 1000) {
                r->bad = 1;
                return e;
            }
            if (*endp == ',') {
                const char *b = endp + 1;
                n = strtol(b, &endp, 10);
                if (endp == b)
                    inf = 1;
            }
            if (*endp != '}' || (!inf && (n < m || n > 1000))) {
                r->bad = 1;
                return e;
            }
            const char *after = endp + 1;
            /* clones of the atom: parse it again, with the same group numbers */
            const char *atom_end = r->p;
            int groups_after = r->ngroups;
#define CLONE(dst)                                                                             \
    do {                                                                                       \
        r->p = atom_at;                                                                        \
        r->ngroups = groups_before;                                                            \
        (dst) = parse_atom(r);                                                                 \
        if (r->p != atom_end)                                                                  \
            r->bad = 1;                                                                        \
    } while (0)
            if (atom_at + 1 > atom_end || r->bad)
                return e;
            Frag res = single(r, RX_DUMMY);
            for (long i = 0; i < m; i++) {
                Frag c;
                if (i == 0)
                    c = e;
                else
                    CLONE(c);
                append(r, &res, c);
            }
            if (inf) {
                Frag c;
                if (m == 0)
                    c = e;
                else
                    CLONE(c);
                append(r, &res, star_of(r, c));
            } else if (n > m) {
                int end = node(r, RX_DUMMY);
                for (long i = m; i < n; i++) {
                    Frag c;
                    if (i == 0)
                        c = e;
                    else
                        CLONE(c);
                    int rep = node(r, RX_REP);
                    if (r->bad)
                        return e;
                    r->n[rep].alt = c.start;
                    r->n[rep].next = end;
                    append(r, &res, (Frag){rep, c.end});
                }
                append(r, &res, (Frag){end, end});
            }
#undef CLONE
            r->ngroups = groups_after;
            r->p = after;
            e = res;
            atom_at = NULL;
        } else {
            return e;
        }
        if (!atom_at && (*r->p == '*' || *r->p == '+' || *r->p == '?' || *r->p == '{')) {
            r->bad = 1; /* a quantified repeat: left to glibc */
            return e;
        }
    }
}

static Frag parse_seq(Rx *r) {
    Frag f = single(r, RX_DUMMY);
    while (!r->bad && *r->p && *r->p != '|' && *r->p != ')')
        append(r, &f, parse_term(r));
    return f;
}

static Frag parse_alt(Rx *r) {
    Frag a = parse_seq(r);
    while (!r->bad && *r->p == '|') {
        r->p++;
        Frag b = parse_seq(r);
        int end = node(r, RX_DUMMY), alt = node(r, RX_ALT);
        if (r->bad)
            return a;
        r->n[a.end].next = end;
        r->n[b.end].next = end;
        r->n[alt].alt = a.start;
        r->n[alt].next = b.start;
        a = (Frag){alt, end};
    }
    return a;
}

static void dfs(Rx *r, int i, size_t cur);

static void rep_once_more(Rx *r, int i, size_t cur) {
    long *rc = &r->repcnt[2 * i];
    if (rc[1] == 0 || rc[0] != (long)cur) {
        long b0 = rc[0], b1 = rc[1];
        rc[0] = (long)cur;
        rc[1] = 1;
        dfs(r, r->n[i].alt, cur);
        rc[0] = b0;
        rc[1] = b1;
    } else if (rc[1] < 2) {
        rc[1]++;
        dfs(r, r->n[i].alt, cur);
        rc[1]--;
    }
}

/* The steps with one continuation (a character, an anchor, a join) loop instead of recursing:
 * a match walks its text without a C frame per character. depth and steps count exactly as
 * the recursion did, so the limits give up at the same points. */
static void dfs(Rx *r, int i, size_t cur) {
    int depth0 = r->depth;
    for (;;) {
        if (r->bad || ++r->depth > 200000 || ++r->steps > 20000000) {
            r->bad = 1;
            break;
        }
        RxNode *x = &r->n[i];
        switch (x->op) {
        case RX_MATCH:
            if (cur < r->len &&
                (x->set[(unsigned char)r->s[cur] >> 3] >> ((unsigned char)r->s[cur] & 7) & 1)) {
                i = x->next;
                cur++;
                continue;
            }
            break;
        case RX_BOL:
            /* libstdc++ without multiline: only where the search began, and only when no
               earlier text counts as available (match_prev_avail) */
            if (cur == r->begin && !(r->flags & FL_RX_NOT_BOL)) {
                i = x->next;
                continue;
            }
            break;
        case RX_EOL:
            if (cur == r->len) {
                i = x->next;
                continue;
            }
            break;
        case RX_DUMMY:
            i = x->next;
            continue;
        case RX_SUBB: {
            long b = r->cur[2 * x->arg];
            r->cur[2 * x->arg] = (long)cur;
            dfs(r, x->next, cur);
            r->cur[2 * x->arg] = b;
            break;
        }
        case RX_SUBE: {
            long b0 = r->cur[2 * x->arg], b1 = r->cur[2 * x->arg + 1];
            r->cur[2 * x->arg + 1] = (long)cur;
            dfs(r, x->next, cur);
            r->cur[2 * x->arg] = b0;
            r->cur[2 * x->arg + 1] = b1;
            break;
        }
        case RX_ALT: {
            dfs(r, x->alt, cur);
            int hs = r->has_sol;
            r->has_sol = 0;
            dfs(r, x->next, cur);
            r->has_sol |= hs;
            break;
        }
        case RX_REP:
            rep_once_more(r, i, cur);
            if (!r->has_sol)
                dfs(r, x->next, cur);
            break;
        case RX_ACCEPT:
            r->has_sol = !(r->flags & FL_RX_EXACT) || cur == r->len;
            if (cur == r->begin && (r->flags & FL_RX_NOT_NULL))
                r->has_sol = 0;
            if (r->has_sol && (r->sol < 0 || r->sol < (long)cur)) {
                r->sol = (long)cur;
                memcpy(r->best, r->cur, (size_t)(r->ngroups + 1) * 2 * sizeof(long));
            }
            break;
        }
        break;
    }
    r->depth = depth0;
}

fl_lang_regex *fl_lang_regex_compile(const char *pattern, int ngroups) {
    fl_lang_regex *rx = calloc(1, sizeof *rx);
    if (!rx)
        return NULL;
    Rx *r = &rx->r;
    r->p = pattern;
    Frag f = parse_alt(r);
    if (!r->bad && *r->p)
        r->bad = 1;
    if (!r->bad) {
        Frag acc = single(r, RX_ACCEPT);
        append(r, &f, acc);
    }
    r->p = NULL;
    if (r->bad || r->ngroups != ngroups) {
        fl_lang_regex_free(rx);
        return NULL;
    }
    size_t ng = (size_t)(ngroups + 1) * 2;
    r->cur = malloc(ng * sizeof(long));
    r->best = malloc(ng * sizeof(long));
    r->repcnt = calloc((size_t)r->nn * 2, sizeof(long));
    if (!r->cur || !r->best || !r->repcnt) {
        fl_lang_regex_free(rx);
        return NULL;
    }
    r->start_node = f.start;
    return rx;
}

void fl_lang_regex_free(fl_lang_regex *rx) {
    if (!rx)
        return;
    free(rx->r.n);
    free(rx->r.cur);
    free(rx->r.best);
    free(rx->r.repcnt);
    free(rx);
}

/* One attempt anchored at begin, as libstdc++'s _M_main_dispatch: the longest solution
   the pruned depth-first search finds, the first found among equals. */
static int attempt(Rx *r, size_t begin) {
    size_t ng = (size_t)(r->ngroups + 1) * 2;
    for (size_t k = 0; k < ng; k++)
        r->cur[k] = -1;
    memset(r->repcnt, 0, (size_t)r->nn * 2 * sizeof(long));
    r->begin = begin;
    r->sol = -1;
    r->has_sol = 0;
    r->depth = 0;
    dfs(r, r->start_node, begin);
    if (r->bad)
        return -1;
    return r->sol >= 0;
}

int fl_lang_regex_exec(fl_lang_regex *rx, const char *s, size_t len, size_t start, int flags,
                       size_t *ms, size_t *me, long *groups) {
    Rx *r = &rx->r;
    r->s = s;
    r->len = len;
    r->bad = 0;
    r->steps = 0;
    r->flags = flags;
    for (size_t q = start; q <= len; q++) {
        int found = attempt(r, q);
        if (found < 0)
            return -1;
        if (found) {
            *ms = q;
            *me = (size_t)r->sol;
            for (int g = 1; g <= r->ngroups; g++) {
                groups[2 * (g - 1)] = r->best[2 * g + 1] < 0 ? -1 : r->best[2 * g];
                groups[2 * (g - 1) + 1] = r->best[2 * g + 1];
            }
            return 1;
        }
        if (flags & (FL_RX_EXACT | FL_RX_CONTINUOUS))
            return 0;
        /* libstdc++'s _M_search: later starting points see the text before them */
        r->flags |= FL_RX_NOT_BOL;
    }
    return 0;
}
