/* diff.c - line diffs of text content for plans (dry-activate, flakectl diff): Myers' greedy
 * O(ND) shortest edit script and a unified-diff printer with 3 lines of context. Works on
 * memory only; never reads files. */
#include <stdlib.h>
#include <string.h>

#include "flakectl/activate.h"

typedef struct line {
    const char *s;
    size_t n; /* without the newline */
    int has_nl;
} line;

enum { OP_EQ, OP_DEL, OP_INS };

typedef struct edit {
    int op;
    int a, b; /* indices into the old and new lines */
} edit;

/* Beyond this many differences a full replacement is printed: the trace is O(D*(N+M)). */
#define MAX_D 4000
#define CONTEXT 3

static line *split_lines(const char *s, size_t len, int *count) {
    int n = 0, cap = 16;
    line *l = fl_xmalloc((size_t)cap * sizeof(line));
    size_t i = 0;
    while (i < len) {
        const char *e = memchr(s + i, '\n', len - i);
        size_t k = e ? (size_t)(e - (s + i)) : len - i;
        if (n == cap) {
            cap *= 2;
            l = fl_xrealloc(l, (size_t)cap * sizeof(line));
        }
        l[n].s = s + i;
        l[n].n = k;
        l[n].has_nl = e != NULL;
        n++;
        i += k + (e ? 1 : 0);
    }
    *count = n;
    return l;
}

static int same(const line *x, const line *y) {
    return x->n == y->n && x->has_nl == y->has_nl && !memcmp(x->s, y->s, x->n);
}

/* Fills *out with the edit script; returns its length. */
static int myers(const line *A, int N, const line *B, int M, edit **out) {
    int max = N + M;
    int off = max + 1;
    size_t width = (size_t)(2 * max + 3);
    int *v = fl_xcalloc(width, sizeof(int));
    int **trace = NULL;
    int D = -1;
    for (int d = 0; d <= max && d <= MAX_D; d++) {
        trace = fl_xrealloc(trace, (size_t)(d + 1) * sizeof(int *));
        trace[d] = fl_xmalloc(width * sizeof(int));
        memcpy(trace[d], v, width * sizeof(int));
        int done = 0;
        for (int k = -d; k <= d; k += 2) {
            int x;
            if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1]))
                x = v[off + k + 1];
            else
                x = v[off + k - 1] + 1;
            int y = x - k;
            while (x < N && y < M && same(&A[x], &B[y])) {
                x++;
                y++;
            }
            v[off + k] = x;
            if (x >= N && y >= M) {
                done = 1;
                break;
            }
        }
        if (done) {
            D = d;
            break;
        }
    }
    edit *e = fl_xmalloc((size_t)(N + M + 1) * sizeof(edit));
    int ne = 0;
    if (D < 0) {
        /* Too different: everything old goes, everything new comes. */
        for (int i = 0; i < N; i++)
            e[ne++] = (edit){OP_DEL, i, 0};
        for (int j = 0; j < M; j++)
            e[ne++] = (edit){OP_INS, N, j};
        for (int d = 0; d <= MAX_D && d <= max; d++)
            free(trace[d]);
    } else {
        /* Walk the trace backwards, collecting edits in reverse. */
        int x = N, y = M;
        for (int d = D; d >= 0; d--) {
            int *vd = trace[d];
            int k = x - y;
            int pk;
            if (d == 0)
                pk = 0;
            else if (k == -d || (k != d && vd[off + k - 1] < vd[off + k + 1]))
                pk = k + 1;
            else
                pk = k - 1;
            int px = d == 0 ? 0 : vd[off + pk];
            int py = px - pk;
            while (x > px && y > py) {
                x--;
                y--;
                e[ne++] = (edit){OP_EQ, x, y};
            }
            if (d > 0) {
                if (x == px)
                    e[ne++] = (edit){OP_INS, x, --y};
                else
                    e[ne++] = (edit){OP_DEL, --x, y};
            }
        }
        for (int d = 0; d <= D; d++)
            free(trace[d]);
        for (int i = 0, j = ne - 1; i < j; i++, j--) {
            edit t = e[i];
            e[i] = e[j];
            e[j] = t;
        }
    }
    free(trace);
    free(v);
    *out = e;
    return ne;
}

static void emit(fl_strbuf *out, char tag, const line *l) {
    fl_strbuf_addch(out, tag);
    fl_strbuf_add(out, l->s, l->n);
    fl_strbuf_addch(out, '\n');
    if (!l->has_nl)
        fl_strbuf_adds(out, "\\ No newline at end of file\n");
}

int fl_text_diff(const char *a, size_t alen, const char *b, size_t blen, const char *label_a,
                 const char *label_b, fl_strbuf *out) {
    if (alen == blen && !memcmp(a, b, alen))
        return 0;
    if (memchr(a, '\0', alen) || memchr(b, '\0', blen)) {
        fl_strbuf_addf(out, "Binary files %s and %s differ\n", label_a, label_b);
        return 1;
    }
    int N, M;
    line *A = split_lines(a, alen, &N);
    line *B = split_lines(b, blen, &M);
    edit *e;
    int ne = myers(A, N, B, M, &e);
    fl_strbuf_addf(out, "--- %s\n+++ %s\n", label_a, label_b);
    int i = 0;
    while (i < ne) {
        if (e[i].op == OP_EQ) {
            i++;
            continue;
        }
        /* A hunk: from CONTEXT equal lines before the change to CONTEXT after the last change
         * that is no more than 2*CONTEXT equal lines from the next one. */
        int start = i;
        for (int c = 0; c < CONTEXT && start > 0 && e[start - 1].op == OP_EQ; c++)
            start--;
        int end = i;
        for (;;) {
            while (end < ne && e[end].op != OP_EQ)
                end++;
            int run = 0;
            while (end + run < ne && e[end + run].op == OP_EQ)
                run++;
            if (end + run < ne && run <= 2 * CONTEXT) {
                end += run;
                continue;
            }
            end += run < CONTEXT ? run : CONTEXT;
            break;
        }
        int a0 = -1, b0 = -1, an = 0, bn = 0;
        for (int k = start; k < end; k++) {
            if (e[k].op != OP_INS) {
                if (a0 < 0)
                    a0 = e[k].a;
                an++;
            }
            if (e[k].op != OP_DEL) {
                if (b0 < 0)
                    b0 = e[k].b;
                bn++;
            }
        }
        /* An empty range is shown as the line before it, as diff -u does. */
        if (a0 < 0)
            a0 = e[start].a;
        if (b0 < 0)
            b0 = e[start].b;
        fl_strbuf_addf(out, "@@ -%d,%d +%d,%d @@\n", an ? a0 + 1 : a0, an, bn ? b0 + 1 : b0, bn);
        for (int k = start; k < end; k++) {
            if (e[k].op == OP_EQ)
                emit(out, ' ', &A[e[k].a]);
            else if (e[k].op == OP_DEL)
                emit(out, '-', &A[e[k].a]);
            else
                emit(out, '+', &B[e[k].b]);
        }
        i = end;
    }
    free(e);
    free(A);
    free(B);
    return 1;
}
