/* reports/report_data.c — the arena and small helpers of report_data.h. */
#include "reports/report_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rp_block {
    rp_block *next;
    size_t used, cap;
    max_align_t data[];
};

#define RP_BLOCK_MIN (64 * 1024)

void *rp_alloc(rp_arena *a, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (size == 0) size = sizeof(max_align_t);
    rp_block *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > RP_BLOCK_MIN ? size : RP_BLOCK_MIN;
        if (cap > SIZE_MAX - sizeof *b) { a->failed = 1; return NULL; }
        b = malloc(sizeof *b + cap);
        if (!b) { a->failed = 1; return NULL; }
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *rp_strdup(rp_arena *a, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = rp_alloc(a, n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

void rp_arena_free(rp_arena *a)
{
    rp_block *b = a->head;
    while (b) {
        rp_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

void rp_run_free(rp_run *r)
{
    if (!r) return;
    free(r->rows);
    free(r->metrics);
    rp_arena_free(&r->arena);
    r->rows = NULL;
    r->metrics = NULL;
    r->nrows = r->nmetrics = 0;
}

int rp_row_ok(const rp_row *r) { return r->status && strcmp(r->status, "ok") == 0; }

double rp_row_value(const rp_row *r)
{
    if (!rp_row_ok(r)) return NAN;
    if (r->correct == 0 || r->correct == 1) return r->correct;
    if (isfinite(r->score)) return r->score;
    return NAN;
}

int rp_label_yesno(const char *s) { return s && (strcmp(s, "yes") == 0 || strcmp(s, "no") == 0); }

const char *rp_row_pope_answer(const rp_row *r)
{
    if (r->parsed && (strcasecmp(r->parsed, "yes") == 0 || strcasecmp(r->parsed, "no") == 0))
        return strcasecmp(r->parsed, "yes") == 0 ? "yes" : "no";
    return r->output ? r->output : "";
}

/* ggml's block sizes: bits per weight including the scales. */
static const struct { const char *name; double bpw; } bpw_table[] = {
    {"f32", 32}, {"f16", 16}, {"bf16", 16}, {"q8_0", 8.5}, {"q6_k", 6.5625}, {"q5_1", 6},
    {"q5_0", 5.5}, {"q5_k", 5.5}, {"q4_1", 5}, {"q4_0", 4.5}, {"q4_k", 4.5}, {"q3_k", 3.4375},
    {"q2_k", 2.625},
};

double rp_quant_bpw(const char *quant)
{
    if (!quant) return 0;
    for (size_t i = 0; i < sizeof bpw_table / sizeof bpw_table[0]; i++)
        if (strcasecmp(quant, bpw_table[i].name) == 0) return bpw_table[i].bpw;
    return 0;
}
