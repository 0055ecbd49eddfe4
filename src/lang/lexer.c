/* lexer.c - turns Nix-syntax source into tokens with line:col, following the rules of Nix
 * 2.8's flex lexer (longest match, earlier rule wins a tie, a stack of states for strings,
 * indented strings and interpolated paths). Never evaluates anything. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "lang/internal.h"

enum { ST_DEFAULT, ST_STRING, ST_IND, ST_INPATH, ST_INPATH_SLASH };

typedef struct Lexer {
    State *S;
    const char *src;
    size_t len, p;
    uint32_t line, col, file;
    int *stack; /* flex-like start condition stack */
    int sp, scap;
    uint32_t last_line, last_col; /* where the last lexeme (token or blank run) started */
    /* where the lexeme before it started: Nix's lexer backs up to it when it gives back the
     * character that ends a path (prev_yylloc), so PATH_END is located there */
    uint32_t prev_line, prev_col;
    Token *toks;
    size_t n, cap;
    /* Every position in [run_lo, run_hi] starts a run of path characters ending at run_hi:
     * the path patterns are tried at each '-' of "----1", and rescanning the run each time
     * made 100k of them quadratic. */
    size_t run_lo, run_hi;
} Lexer;

static int is_id_start(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_id_char(int c) {
    return is_id_start(c) || (c >= '0' && c <= '9') || c == '\'' || c == '-';
}
static int is_digit(int c) {
    return c >= '0' && c <= '9';
}
static int is_path_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
           c == '_' || c == '-' || c == '+';
}
static int is_uri_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           (c && strchr("%/?:@&=+$,-_.!~*'", c));
}

static int lex_error(Lexer *lx, uint32_t line, uint32_t col, const char *fmt, const char *arg) {
    State *S = lx->S;
    fl_error_set(&S->err, FL_EPARSE, fmt, arg);
    fl_error_set_loc(&S->err, S->files[lx->file].path, (int)line, (int)col);
    return -1;
}

/* Advances over n bytes, keeping line and column. */
static void adv(Lexer *lx, size_t n) {
    for (size_t i = 0; i < n && lx->p < lx->len; i++) {
        if (lx->src[lx->p] == '\n') {
            lx->line++;
            lx->col = 1;
        } else {
            lx->col++;
        }
        lx->p++;
    }
}

/* A lexeme (token, blank run or comment) starts at line:col. */
static void mark(Lexer *lx, uint32_t line, uint32_t col) {
    lx->prev_line = lx->last_line;
    lx->prev_col = lx->last_col;
    lx->last_line = line;
    lx->last_col = col;
}

static Token *push(Lexer *lx, int type, uint32_t line, uint32_t col, const char *s, size_t len) {
    if (lx->n == lx->cap) {
        lx->cap = lx->cap ? lx->cap * 2 : 256;
        lx->toks = fl_xrealloc(lx->toks, lx->cap * sizeof(Token));
    }
    Token *t = &lx->toks[lx->n++];
    memset(t, 0, sizeof(*t));
    mark(lx, line, col);
    t->type = (uint8_t)type;
    t->line = line;
    t->col = col;
    t->s = s;
    t->len = len;
    return t;
}

static char at(Lexer *lx, size_t i) {
    return i < lx->len ? lx->src[i] : '\0';
}

/* The first index at or after i that is not a path character. */
static size_t path_run_end(Lexer *lx, size_t i) {
    if (i >= lx->run_lo && i <= lx->run_hi && lx->run_hi)
        return lx->run_hi;
    size_t e = i;
    while (is_path_char(at(lx, e)))
        e++;
    lx->run_lo = i;
    lx->run_hi = e;
    return e;
}

/* {PATH_CHAR}*(\/{PATH_CHAR}+)+\/? */
static size_t match_path(Lexer *lx, size_t i) {
    size_t s = i;
    i = path_run_end(lx, i);
    int segs = 0;
    while (at(lx, i) == '/' && is_path_char(at(lx, i + 1))) {
        i++;
        i = path_run_end(lx, i);
        segs++;
    }
    if (!segs)
        return 0;
    if (at(lx, i) == '/')
        i++;
    return i - s;
}

/* {PATH_CHAR}*\/ */
static size_t match_path_seg(Lexer *lx, size_t i) {
    size_t s = i;
    i = path_run_end(lx, i);
    if (at(lx, i) != '/')
        return 0;
    return i + 1 - s;
}

static size_t match_hpath(Lexer *lx, size_t i) {
    if (at(lx, i) != '~')
        return 0;
    size_t s = i++;
    int segs = 0;
    while (at(lx, i) == '/' && is_path_char(at(lx, i + 1))) {
        i++;
        i = path_run_end(lx, i);
        segs++;
    }
    if (!segs)
        return 0;
    if (at(lx, i) == '/')
        i++;
    return i - s;
}

static size_t match_spath(Lexer *lx, size_t i) {
    if (at(lx, i) != '<' || !is_path_char(at(lx, i + 1)))
        return 0;
    size_t s = i++;
    i = path_run_end(lx, i);
    while (at(lx, i) == '/' && is_path_char(at(lx, i + 1))) {
        i++;
        i = path_run_end(lx, i);
    }
    if (at(lx, i) != '>')
        return 0;
    return i + 1 - s;
}

static size_t match_uri(Lexer *lx, size_t i) {
    size_t s = i;
    char c = at(lx, i);
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        return 0;
    i++;
    for (;;) {
        c = at(lx, i);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '+' ||
            c == '-' || c == '.')
            i++;
        else
            break;
    }
    if (at(lx, i) != ':' || !is_uri_char(at(lx, i + 1)))
        return 0;
    i++;
    while (is_uri_char(at(lx, i)))
        i++;
    return i - s;
}

/* (([1-9][0-9]*\.[0-9]*)|(0?\.[0-9]+))([Ee][+-]?[0-9]+)? */
static size_t match_float(Lexer *lx, size_t i) {
    size_t s = i;
    char c = at(lx, i);
    if (c >= '1' && c <= '9') {
        while (is_digit(at(lx, i)))
            i++;
        if (at(lx, i) != '.')
            return 0;
        i++;
        while (is_digit(at(lx, i)))
            i++;
    } else {
        if (c == '0')
            i++;
        if (at(lx, i) != '.' || !is_digit(at(lx, i + 1)))
            return 0;
        i++;
        while (is_digit(at(lx, i)))
            i++;
    }
    if (at(lx, i) == 'e' || at(lx, i) == 'E') {
        size_t j = i + 1;
        if (at(lx, j) == '+' || at(lx, j) == '-')
            j++;
        if (is_digit(at(lx, j))) {
            while (is_digit(at(lx, j)))
                j++;
            i = j;
        }
    }
    return i - s;
}

static const struct {
    const char *kw;
    int tok;
} keywords[] = {
    {"if", T_IF},         {"then", T_THEN},     {"else", T_ELSE}, {"assert", T_ASSERT},
    {"with", T_WITH},     {"let", T_LET},       {"in", T_IN},     {"rec", T_REC},
    {"inherit", T_INHERIT}, {"or", T_OR_KW},
};

static const struct {
    const char *op;
    int tok;
} ops2[] = {
    {"==", T_EQ},   {"!=", T_NEQ},     {"<=", T_LEQ},   {">=", T_GEQ},    {"&&", T_AND},
    {"||", T_OR},   {"->", T_IMPL},    {"//", T_UPDATE}, {"++", T_CONCAT},
};

static int single_tok(char c) {
    switch (c) {
    case '{': return T_LBRACE;
    case '}': return T_RBRACE;
    case '[': return T_LBRACK;
    case ']': return T_RBRACK;
    case '(': return T_LPAREN;
    case ')': return T_RPAREN;
    case ';': return T_SEMI;
    case ':': return T_COLON;
    case '.': return T_DOT;
    case ',': return T_COMMA;
    case '@': return T_AT;
    case '?': return T_QUESTION;
    case '=': return T_ASSIGN;
    case '<': return T_LT;
    case '>': return T_GT;
    case '+': return T_PLUS;
    case '-': return T_MINUS;
    case '*': return T_STAR;
    case '/': return T_SLASH;
    case '!': return T_NOT;
    default: return -1;
    }
}

/* Nix's unescapeStr: \n \r \t, backslash-anything is the thing itself, CR and CRLF → LF. */
static char *unescape(Lexer *lx, const char *s, size_t n, size_t *outlen) {
    char *r = arena_alloc(&lx->S->arena, n + 1), *t = r;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            c = s[++i];
            *t++ = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
        } else if (c == '\r') {
            *t++ = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else {
            *t++ = c;
        }
    }
    *t = '\0';
    *outlen = (size_t)(t - r);
    return r;
}

static int push_state(Lexer *lx, int st) {
    if (lx->sp + 1 >= lx->scap) {
        lx->scap *= 2;
        lx->stack = fl_xrealloc(lx->stack, (size_t)lx->scap * sizeof(int));
    }
    lx->stack[++lx->sp] = st;
    return 0;
}

static int lex_default(Lexer *lx) {
    size_t p = lx->p;
    char c = lx->src[p];
    uint32_t line = lx->line, col = lx->col;

    /* blanks and comments */
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        size_t e = p;
        while (e < lx->len && (lx->src[e] == ' ' || lx->src[e] == '\t' || lx->src[e] == '\r' ||
                               lx->src[e] == '\n'))
            e++;
        mark(lx, line, col);
        adv(lx, e - p);
        return 0;
    }
    if (c == '#') {
        mark(lx, line, col);
        size_t e = p;
        while (e < lx->len && lx->src[e] != '\n' && lx->src[e] != '\r')
            e++;
        adv(lx, e - p);
        return 0;
    }
    if (c == '/' && at(lx, p + 1) == '*') {
        size_t e = p + 2;
        while (e + 1 < lx->len && !(lx->src[e] == '*' && lx->src[e + 1] == '/'))
            e++;
        /* Nix's comment rule needs the closing star-slash; without it `/` and `*` are
         * operators and the parser reports the `*` */
        if (e + 1 < lx->len) {
            mark(lx, line, col);
            adv(lx, e + 2 - p);
            return 0;
        }
    }

    /* Longest match among the rules, in rule order. */
    int best = -1;
    size_t blen = 0;
#define CAND(tok, n)                                                                           \
    do {                                                                                       \
        size_t n_ = (n);                                                                       \
        if (n_ > blen) {                                                                       \
            best = (tok);                                                                      \
            blen = n_;                                                                         \
        }                                                                                      \
    } while (0)
    if (c == '.' && at(lx, p + 1) == '.' && at(lx, p + 2) == '.')
        CAND(T_ELLIPSIS, 3);
    for (size_t i = 0; i < sizeof ops2 / sizeof ops2[0]; i++)
        if (c == ops2[i].op[0] && at(lx, p + 1) == ops2[i].op[1])
            CAND(ops2[i].tok, 2);
    size_t idlen = 0;
    if (is_id_start(c)) {
        while (is_id_char(at(lx, p + idlen)))
            idlen++;
        int tok = T_ID;
        for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
            if (strlen(keywords[i].kw) == idlen && !memcmp(keywords[i].kw, lx->src + p, idlen))
                tok = keywords[i].tok;
        CAND(tok, idlen);
    }
    if (is_digit(c)) {
        size_t n = 0;
        while (is_digit(at(lx, p + n)))
            n++;
        CAND(T_INT, n);
    }
    CAND(T_FLOAT, match_float(lx, p));
    if (c == '$' && at(lx, p + 1) == '{')
        CAND(T_DOLLAR_CURLY, 2);
    if (c == '}')
        CAND(T_RBRACE, 1);
    if (c == '{')
        CAND(T_LBRACE, 1);
    if (c == '"')
        CAND(T_DQUOTE, 1);
    if (c == '\'' && at(lx, p + 1) == '\'') {
        size_t n = 2;
        while (at(lx, p + n) == ' ')
            n++;
        CAND(T_IND_OPEN, at(lx, p + n) == '\n' ? n + 1 : 2);
    }
    enum { X_PATHSEG = 1000, X_HPATHSTART };
    size_t seg = match_path_seg(lx, p);
    if (seg && at(lx, p + seg) == '$' && at(lx, p + seg + 1) == '{')
        CAND(X_PATHSEG, seg + 2);
    if (c == '~' && at(lx, p + 1) == '/' && at(lx, p + 2) == '$' && at(lx, p + 3) == '{')
        CAND(X_HPATHSTART, 4);
    CAND(T_PATH, match_path(lx, p));
    CAND(T_HPATH, match_hpath(lx, p));
    CAND(T_SPATH, match_spath(lx, p));
    CAND(T_URI, match_uri(lx, p));
#undef CAND
    if (best < 0) {
        int t = single_tok(c);
        if (t < 0) {
            char buf[8];
            if ((unsigned char)c < 32 || (unsigned char)c >= 127)
                snprintf(buf, sizeof buf, "\\x%02x", (unsigned char)c);
            else
                snprintf(buf, sizeof buf, "%c", c);
            return lex_error(lx, line, col, "syntax error, unexpected character '%s'", buf);
        }
        best = t;
        blen = 1;
    }
    const char *s = lx->src + p;
    switch (best) {
    case T_INT: {
        /* Nix rejects what strtoll/strtod report out of range (for a float that includes
           the subnormals strtod flags with ERANGE), at the start of the literal */
        char small[32];
        char *buf = blen < sizeof small ? memcpy(small, s, blen) : lang_arena_strndup(&lx->S->arena, s, blen);
        buf[blen] = '\0';
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            return lex_error(lx, line, col, "invalid integer '%s'", buf);
        push(lx, T_INT, line, col, s, blen)->i = v;
        break;
    }
    case T_FLOAT: {
        char *buf = lang_arena_strndup(&lx->S->arena, s, blen);
        errno = 0;
        double f = strtod(buf, NULL);
        if (errno != 0)
            return lex_error(lx, line, col, "invalid float '%s'", buf);
        push(lx, T_FLOAT, line, col, s, blen)->f = f;
        break;
    }
    case T_DOLLAR_CURLY:
    case T_LBRACE:
        push(lx, best, line, col, s, blen);
        if (push_state(lx, ST_DEFAULT) < 0)
            return -1;
        break;
    case T_RBRACE:
        push(lx, best, line, col, s, blen);
        if (lx->sp > 0)
            lx->sp--;
        break;
    case T_DQUOTE:
        push(lx, best, line, col, s, blen);
        if (push_state(lx, ST_STRING) < 0)
            return -1;
        break;
    case T_IND_OPEN:
        push(lx, best, line, col, s, blen);
        if (push_state(lx, ST_IND) < 0)
            return -1;
        break;
    case X_PATHSEG: {
        size_t n = blen - 2;
        push(lx, T_PATH, line, col, s, n);
        adv(lx, n);
        return push_state(lx, ST_INPATH_SLASH);
    }
    case X_HPATHSTART:
        push(lx, T_HPATH, line, col, s, 2);
        adv(lx, 2);
        return push_state(lx, ST_INPATH_SLASH);
    case T_PATH:
    case T_HPATH:
        push(lx, best, line, col, s, blen);
        adv(lx, blen);
        return push_state(lx, s[blen - 1] == '/' ? ST_INPATH_SLASH : ST_INPATH);
    default:
        push(lx, best, line, col, s, blen);
        break;
    }
    adv(lx, blen);
    return 0;
}

static int lex_string(Lexer *lx) {
    size_t p = lx->p;
    uint32_t line = lx->line, col = lx->col;
    char c = lx->src[p];
    if (c == '"') {
        push(lx, T_DQUOTE_END, line, col, lx->src + p, 1);
        adv(lx, 1);
        lx->sp--;
        return 0;
    }
    if (c == '$' && at(lx, p + 1) == '{') {
        push(lx, T_DOLLAR_CURLY, line, col, lx->src + p, 2);
        adv(lx, 2);
        return push_state(lx, ST_DEFAULT);
    }
    size_t i = p;
    while (i < lx->len) {
        c = lx->src[i];
        if (c == '"')
            break;
        if (c == '\\') {
            i = i + 2 > lx->len ? lx->len : i + 2;
        } else if (c == '$') {
            char d = at(lx, i + 1);
            if (d == '{')
                break;
            if (d == '"' || d == '\0')
                i += 1;
            else if (d == '\\')
                i += 1; /* the escape is taken by the next iteration */
            else
                i += 2;
        } else {
            i++;
        }
    }
    size_t n;
    char *u = unescape(lx, lx->src + p, i - p, &n);
    push(lx, T_STR, line, col, u, n);
    adv(lx, i - p);
    return 0;
}

static int lex_ind(Lexer *lx) {
    size_t p = lx->p;
    uint32_t line = lx->line, col = lx->col;
    char c = lx->src[p];
    if (c == '\'' && at(lx, p + 1) == '\'') {
        char d = at(lx, p + 2);
        if (d == '\'') {
            push(lx, T_IND_STR, line, col, "''", 2);
            adv(lx, 3);
        } else if (d == '$') {
            push(lx, T_IND_STR, line, col, "$", 1);
            adv(lx, 3);
        } else if (d == '\\' && p + 3 < lx->len) {
            size_t n;
            char *u = unescape(lx, lx->src + p + 2, 2, &n);
            push(lx, T_IND_STR, line, col, u, n);
            adv(lx, 4);
        } else {
            push(lx, T_IND_CLOSE, line, col, lx->src + p, 2);
            adv(lx, 2);
            lx->sp--;
        }
        return 0;
    }
    if (c == '$' && at(lx, p + 1) == '{') {
        push(lx, T_DOLLAR_CURLY, line, col, lx->src + p, 2);
        adv(lx, 2);
        return push_state(lx, ST_DEFAULT);
    }
    size_t i = p;
    while (i < lx->len) {
        c = lx->src[i];
        char d = at(lx, i + 1);
        if (c == '$') {
            if (d == '{' || d == '\'' || d == '\0')
                break;
            i += 2;
        } else if (c == '\'') {
            if (d == '\'' || d == '$' || d == '\0')
                break;
            i += 2;
        } else {
            i++;
        }
    }
    if (i > p) {
        Token *t = push(lx, T_IND_STR, line, col, lx->src + p, i - p);
        t->flag = 1;
        adv(lx, i - p);
        return 0;
    }
    push(lx, T_IND_STR, line, col, c == '$' ? "$" : "'", 1);
    adv(lx, 1);
    return 0;
}

static int lex_inpath(Lexer *lx, int slash) {
    size_t p = lx->p;
    uint32_t line = lx->line, col = lx->col;
    if (at(lx, p) == '$' && at(lx, p + 1) == '{') {
        push(lx, T_DOLLAR_CURLY, line, col, lx->src + p, 2);
        adv(lx, 2);
        lx->stack[lx->sp] = ST_INPATH;
        return push_state(lx, ST_DEFAULT);
    }
    size_t n = match_path(lx, p), m = match_path_seg(lx, p), k = 0;
    while (is_path_char(at(lx, p + k)))
        k++;
    if (m > n)
        n = m;
    if (k > n)
        n = k;
    if (n) {
        push(lx, T_STR, line, col, lx->src + p, n);
        adv(lx, n);
        lx->stack[lx->sp] = lx->src[p + n - 1] == '/' ? ST_INPATH_SLASH : ST_INPATH;
        return 0;
    }
    /* Nix reports the character after the trailing slash */
    if (slash)
        return lex_error(lx, line, col, "%s", "path has a trailing slash");
    /* The character is given back; Nix's location backs up to the last lexeme's. */
    uint32_t pl = lx->prev_line, pc = lx->prev_col;
    push(lx, T_PATH_END, lx->last_line, lx->last_col, lx->src + p, 0);
    lx->prev_line = pl;
    lx->prev_col = pc;
    lx->sp--;
    return 0;
}

int lang_lex_all(State *S, const char *src, size_t len, uint32_t file, Token **toks, size_t *ntoks) {
    Lexer lx;
    memset(&lx, 0, sizeof lx);
    lx.S = S;
    lx.src = src;
    lx.len = len;
    lx.line = lx.col = 1;
    lx.file = file;
    lx.scap = 64;
    lx.stack = fl_xmalloc((size_t)lx.scap * sizeof(int));
    lx.stack[0] = ST_DEFAULT;
    int rc = 0;
    for (;;) {
        int st = lx.stack[lx.sp];
        if (lx.p >= lx.len) {
            if (st == ST_INPATH) {
                /* at the end, Nix's location backs up to the lexeme before the last one,
                 * and the end of file is reported there too */
                push(&lx, T_PATH_END, lx.prev_line, lx.prev_col, src + lx.p, 0);
                lx.sp--;
                continue;
            }
            if (st == ST_INPATH_SLASH) {
                rc = lex_error(&lx, lx.last_line, lx.last_col, "%s", "path has a trailing slash");
                break;
            }
            /* like bison, the end of file is reported where the last token started */
            if (lx.last_line)
                push(&lx, T_EOF, lx.last_line, lx.last_col, "", 0);
            else
                push(&lx, T_EOF, lx.line, lx.col, "", 0);
            break;
        }
        if (st == ST_DEFAULT)
            rc = lex_default(&lx);
        else if (st == ST_STRING)
            rc = lex_string(&lx);
        else if (st == ST_IND)
            rc = lex_ind(&lx);
        else
            rc = lex_inpath(&lx, st == ST_INPATH_SLASH);
        if (rc < 0)
            break;
    }
    free(lx.stack);
    if (rc < 0) {
        free(lx.toks);
        return -1;
    }
    *toks = lx.toks;
    *ntoks = lx.n;
    return 0;
}

const char *lang_tok_describe(State *S, const Token *t, char *buf, size_t n) {
    (void)S;
    switch (t->type) {
    case T_EOF: return "end of file";
    case T_ID: snprintf(buf, n, "identifier '%.*s'", (int)(t->len > 40 ? 40 : t->len), t->s); return buf;
    case T_INT: return "an integer";
    case T_FLOAT: return "a float";
    case T_STR: case T_IND_STR: return "a string";
    case T_PATH: case T_HPATH: return "a path";
    case T_SPATH: return "a <path>";
    case T_URI: return "a URI";
    case T_DQUOTE: case T_DQUOTE_END: return "'\"'";
    case T_IND_OPEN: case T_IND_CLOSE: return "''";
    case T_DOLLAR_CURLY: return "'${'";
    case T_PATH_END: return "end of path";
    case T_IF: return "'if'";
    case T_THEN: return "'then'";
    case T_ELSE: return "'else'";
    case T_ASSERT: return "'assert'";
    case T_WITH: return "'with'";
    case T_LET: return "'let'";
    case T_IN: return "'in'";
    case T_REC: return "'rec'";
    case T_INHERIT: return "'inherit'";
    case T_OR_KW: return "'or'";
    case T_ELLIPSIS: return "'...'";
    default:
        snprintf(buf, n, "'%.*s'", (int)t->len, t->s);
        return buf;
    }
}
