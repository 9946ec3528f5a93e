/* engine/tokenizer.c — LLaMA SentencePiece (SPM) tokenizer from GGUF metadata,
 * gguf-quant-tokenizer.md §4.
 *
 * Data: every token's text is copied into one arena; an open-addressing hash maps
 * text bytes to ids. Encoding splits the input on special-token text, then runs
 * the score-driven bigram merge over UTF-8 characters with a binary heap.
 */
#include "engine/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lv_tokenizer {
    int32_t   n;             /* vocabulary size */
    char    **text;          /* NUL-terminated texts (into arena) */
    uint32_t *len;           /* byte lengths (texts may not contain NUL, but be safe) */
    float    *score;
    uint8_t  *type;          /* LV_TOK_*; unknown types stored as LV_TOK_UNUSED */
    char     *arena;
    int32_t  *hash;          /* open addressing, -1 empty; size hmask + 1 */
    uint32_t  hmask;
    int32_t   bos, eos, unk;
    int       add_bos, add_eos, add_space_prefix;
    int32_t   byte_id[256];  /* token for each byte in byte fallback, -1 if none */
    int32_t  *special;       /* candidate special tokens, by decreasing length */
    int32_t   n_special;
};

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;                    /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* Id of the token whose text is exactly s[0..n), or -1. */
static int32_t lookup(const lv_tokenizer *t, const char *s, size_t n)
{
    for (uint32_t h = hash_bytes(s, n) & t->hmask;; h = (h + 1) & t->hmask) {
        int32_t id = t->hash[h];
        if (id < 0) return -1;
        if (t->len[id] == n && memcmp(t->text[id], s, n) == 0) return id;
    }
}

void lv_tok_free(lv_tokenizer *t)
{
    if (!t) return;
    lv_free(t->text);
    lv_free(t->len);
    lv_free(t->score);
    lv_free(t->type);
    lv_free(t->arena);
    lv_free(t->hash);
    lv_free(t->special);
    lv_free(t);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* For a BYTE token, its byte value from "<0xHH>", or -1 if the text is malformed. */
static int byte_value(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int a = hexval(s[3]), b = hexval(s[4]);
    return a < 0 || b < 0 ? -1 : a * 16 + b;
}

/* Longer special texts are matched first; equal lengths in id order. */
static int cmp_special(const void *a, const void *b, void *ctx)
{
    const lv_tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->len[x] != t->len[y]) return t->len[x] > t->len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Reads an optional special-token id key; out-of-range ids are ignored (llama.cpp
 * warns and keeps the default). */
static int read_id(const lv_gguf *g, const char *key, int32_t n, int32_t *out, lv_error *err)
{
    uint32_t v;
    int rc = lv_gguf_get_u32(g, key, &v, err);
    if (rc < 0) return -1;
    if (rc == 0 && v < (uint32_t)n) *out = (int32_t)v;
    return 0;
}

lv_tokenizer *lv_tok_load(const lv_gguf *g, lv_error *err)
{
    lv_tokenizer *t = NULL;
    char *model = NULL;
    int64_t ki, si, ti;
    lv_gguf_vtype et;
    uint64_t count, total = 0;
    const void *scores = NULL, *types = NULL;

    int rc = lv_gguf_get_str(g, "tokenizer.ggml.model", &model, err);
    if (rc < 0) goto fail;
    if (rc == 1) { lv_errorf(err, "no tokenizer in this file (tokenizer.ggml.model missing)"); goto fail; }
    if (strcmp(model, "llama") != 0) { lv_errorf(err, "tokenizer model '%s' is not supported (only 'llama')", model); goto fail; }

    ki = lv_gguf_find_key(g, "tokenizer.ggml.tokens");
    if (ki < 0) { lv_errorf(err, "tokenizer.ggml.tokens is missing"); goto fail; }
    if (lv_gguf_kv_arr(g, ki, &et, &count, NULL) || et != LV_GGUF_STRING) {
        lv_errorf(err, "tokenizer.ggml.tokens is not an array of strings"); goto fail;
    }
    if (count == 0 || count > (1u << 24)) { lv_errorf(err, "tokenizer.ggml.tokens has %llu entries", (unsigned long long)count); goto fail; }
    si = lv_gguf_find_key(g, "tokenizer.ggml.scores");
    if (si >= 0 && (lv_gguf_kv_arr(g, si, &et, &total, &scores) || et != LV_GGUF_FLOAT32 || total != count)) {
        lv_errorf(err, "tokenizer.ggml.scores must be %llu float32 values", (unsigned long long)count); goto fail;
    }
    ti = lv_gguf_find_key(g, "tokenizer.ggml.token_type");
    if (ti >= 0 && (lv_gguf_kv_arr(g, ti, &et, &total, &types) || et != LV_GGUF_INT32 || total != count)) {
        lv_errorf(err, "tokenizer.ggml.token_type must be %llu int32 values", (unsigned long long)count); goto fail;
    }

    t = lv_calloc(1, sizeof *t);
    if (!t) goto oom;
    t->n = (int32_t)count;
    t->text = lv_calloc(count, sizeof *t->text);
    t->len = lv_calloc(count, sizeof *t->len);
    t->score = lv_calloc(count, sizeof *t->score);
    t->type = lv_calloc(count, 1);
    if (!t->text || !t->len || !t->score || !t->type) goto oom;

    /* Arena: each text plus NUL, or "[EMPTY_<id>]" (at most 20 bytes) for empty ones. */
    total = 0;
    for (int32_t i = 0; i < t->n; i++) {
        const char *s;
        size_t n;
        lv_gguf_kv_arr_str(g, ki, (uint64_t)i, &s, &n);
        total += (n ? n : 20) + 1;
    }
    t->arena = lv_malloc((size_t)total);
    if (!t->arena) goto oom;
    char *p = t->arena;
    for (int32_t i = 0; i < t->n; i++) {
        const char *s;
        size_t n;
        lv_gguf_kv_arr_str(g, ki, (uint64_t)i, &s, &n);
        t->text[i] = p;
        if (n == 0) n = (size_t)snprintf(p, 21, "[EMPTY_%d]", (int)i);
        else memcpy(p, s, n);
        p[n] = 0;
        t->len[i] = (uint32_t)n;
        p += n + 1;
        if (scores) memcpy(&t->score[i], (const uint8_t *)scores + 4 * (size_t)i, 4);
        int32_t ty = LV_TOK_NORMAL;
        if (types) memcpy(&ty, (const uint8_t *)types + 4 * (size_t)i, 4);
        t->type[i] = (uint8_t)(ty >= LV_TOK_NORMAL && ty <= LV_TOK_BYTE ? ty : LV_TOK_UNUSED);
        if (t->type[i] == LV_TOK_BYTE && byte_value(t->text[i], n) < 0) {
            lv_errorf(err, "byte token %d has malformed text (expected <0xHH>)", (int)i);
            goto fail;
        }
    }

    /* Hash table at most half full. */
    uint32_t hsize = 1;
    while (hsize < 2u * (uint32_t)t->n) hsize <<= 1;
    t->hmask = hsize - 1;
    t->hash = lv_malloc(sizeof *t->hash * hsize);
    if (!t->hash) goto oom;
    memset(t->hash, 0xff, sizeof *t->hash * hsize);
    for (int32_t i = 0; i < t->n; i++) {
        if (lookup(t, t->text[i], t->len[i]) >= 0) {
            lv_errorf(err, "token text of id %d repeats an earlier token", (int)i);
            goto fail;
        }
        uint32_t h = hash_bytes(t->text[i], t->len[i]) & t->hmask;
        while (t->hash[h] >= 0) h = (h + 1) & t->hmask;
        t->hash[h] = i;
    }

    t->bos = 1; t->eos = 2; t->unk = 0;
    if (t->bos >= t->n) t->bos = -1;
    if (t->eos >= t->n) t->eos = -1;
    if (read_id(g, "tokenizer.ggml.bos_token_id", t->n, &t->bos, err) ||
        read_id(g, "tokenizer.ggml.eos_token_id", t->n, &t->eos, err) ||
        read_id(g, "tokenizer.ggml.unknown_token_id", t->n, &t->unk, err))
        goto fail;
    t->add_bos = 1; t->add_eos = 0; t->add_space_prefix = 1;
    if (lv_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos, err) < 0 ||
        lv_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &t->add_eos, err) < 0 ||
        lv_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix, err) < 0)
        goto fail;

    for (int b = 0; b < 256; b++) {
        char hex[7];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        t->byte_id[b] = lookup(t, hex, 6);
        if (t->byte_id[b] < 0) {
            char c = (char)b;
            t->byte_id[b] = lookup(t, &c, 1);
        }
    }

    t->special = lv_malloc(sizeof *t->special * (size_t)t->n);
    if (!t->special) goto oom;
    for (int32_t i = 0; i < t->n; i++)
        if (t->type[i] == LV_TOK_CONTROL || t->type[i] == LV_TOK_USER_DEFINED || t->type[i] == LV_TOK_UNKNOWN)
            t->special[t->n_special++] = i;
    qsort_r(t->special, (size_t)t->n_special, sizeof *t->special, cmp_special, t);
    lv_free(model);
    return t;

oom:
    lv_errorf(err, "out of memory loading the vocabulary");
fail:
    lv_free(model);
    lv_tok_free(t);
    return NULL;
}

int32_t lv_tok_n_vocab(const lv_tokenizer *t) { return t->n; }
int32_t lv_tok_bos(const lv_tokenizer *t) { return t->bos; }
int32_t lv_tok_eos(const lv_tokenizer *t) { return t->eos; }
int lv_tok_add_bos(const lv_tokenizer *t) { return t->add_bos; }
int lv_tok_type(const lv_tokenizer *t, int32_t id) { return id >= 0 && id < t->n ? t->type[id] : 0; }
const char *lv_tok_text(const lv_tokenizer *t, int32_t id) { return id >= 0 && id < t->n ? t->text[id] : NULL; }

/* ------------------------------------------------------------------ encode */

typedef struct {
    int32_t *v;
    int64_t  n, cap;
} idvec;

static int push(idvec *o, int32_t id)
{
    if (o->n == o->cap) {
        int64_t nc = o->cap ? o->cap * 2 : 64;
        int32_t *nv = lv_realloc(o->v, sizeof *nv * (size_t)nc);
        if (!nv) return -1;
        o->v = nv;
        o->cap = nc;
    }
    o->v[o->n++] = id;
    return 0;
}

typedef struct { int32_t prev, next; uint32_t off, len; } symbol;
typedef struct { int32_t left, right; float score; uint32_t size; } bigram;

typedef struct {
    bigram *v;
    int64_t n, cap;
} heap;

/* a comes out of the heap before b: higher score, then leftmost. */
static int before(const bigram *a, const bigram *b)
{
    if (a->score != b->score) return a->score > b->score;
    return a->left < b->left;
}

static int heap_push(heap *h, bigram x)
{
    if (h->n == h->cap) {
        int64_t nc = h->cap ? h->cap * 2 : 64;
        bigram *nv = lv_realloc(h->v, sizeof *nv * (size_t)nc);
        if (!nv) return -1;
        h->v = nv;
        h->cap = nc;
    }
    int64_t i = h->n++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!before(&x, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
    return 0;
}

static bigram heap_pop(heap *h)
{
    bigram top = h->v[0], last = h->v[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c])) c++;
        if (!before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

static int try_pair(const lv_tokenizer *t, const char *s, const symbol *sym, int32_t l, int32_t r, heap *h)
{
    if (l < 0 || r < 0) return 0;
    uint32_t n = sym[l].len + sym[r].len;
    int32_t id = lookup(t, s + sym[l].off, n);
    if (id < 0) return 0;
    bigram b = {l, r, t->score[id], n};
    return heap_push(h, b);
}

/* Merges one escaped raw fragment s[0..n) and appends its ids. */
static int spm_merge(const lv_tokenizer *t, const char *s, size_t n, idvec *out)
{
    symbol *sym = NULL;
    heap h = {0};
    int rc = -1;
    int32_t ns = 0;
    if (n == 0) return 0;
    if (n > INT32_MAX) return -1;
    sym = lv_malloc(sizeof *sym * n);
    if (!sym) return -1;
    for (size_t off = 0; off < n;) {
        /* UTF-8 length from the lead byte's high nibble; truncated at the end. */
        static const uint8_t lut[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
        size_t len = lut[(uint8_t)s[off] >> 4];
        if (len > n - off) len = n - off;
        sym[ns].off = (uint32_t)off;
        sym[ns].len = (uint32_t)len;
        sym[ns].prev = ns - 1;
        sym[ns].next = off + len < n ? ns + 1 : -1;
        ns++;
        off += len;
    }
    for (int32_t i = 1; i < ns; i++)
        if (try_pair(t, s, sym, i - 1, i, &h)) goto done;
    while (h.n) {
        bigram b = heap_pop(&h);
        symbol *L = &sym[b.left], *R = &sym[b.right];
        if (L->len == 0 || R->len == 0 || L->len + R->len != b.size) continue;   /* stale */
        L->len += R->len;
        R->len = 0;
        L->next = R->next;
        if (R->next >= 0) sym[R->next].prev = b.left;
        if (try_pair(t, s, sym, L->prev, b.left, &h) || try_pair(t, s, sym, b.left, L->next, &h)) goto done;
    }
    for (int32_t i = 0; i >= 0 && ns; i = sym[i].next) {
        int32_t id = lookup(t, s + sym[i].off, sym[i].len);
        if (id >= 0) {
            if (push(out, id)) goto done;
            continue;
        }
        for (uint32_t k = 0; k < sym[i].len; k++) {
            int32_t b = t->byte_id[(uint8_t)s[sym[i].off + k]];
            if (push(out, b >= 0 ? b : t->unk)) goto done;
        }
    }
    rc = 0;
done:
    lv_free(sym);
    lv_free(h.v);
    return rc;
}

/* A fragment of the input: raw text [off, off+len) or a special token. */
typedef struct { int32_t id; size_t off, len; } frag;

typedef struct {
    frag   *v;
    int64_t n, cap;
} fragvec;

static int frag_push(fragvec *f, frag x)
{
    if (f->n == f->cap) {
        int64_t nc = f->cap ? f->cap * 2 : 16;
        frag *nv = lv_realloc(f->v, sizeof *nv * (size_t)nc);
        if (!nv) return -1;
        f->v = nv;
        f->cap = nc;
    }
    f->v[f->n++] = x;
    return 0;
}

/* Splits every raw fragment of *fr on occurrences of token id's text. */
static int split_on(const lv_tokenizer *t, const char *text, fragvec *fr, int32_t id)
{
    fragvec out = {0};
    const char *pat = t->text[id];
    size_t pl = t->len[id];
    for (int64_t i = 0; i < fr->n; i++) {
        frag f = fr->v[i];
        if (f.id >= 0 || f.len < pl) {
            if (frag_push(&out, f)) goto oom;
            continue;
        }
        size_t pos = f.off, end = f.off + f.len;
        while (pos < end) {
            const char *hit = end - pos >= pl ? memmem(text + pos, end - pos, pat, pl) : NULL;
            if (!hit) {
                if (frag_push(&out, (frag){-1, pos, end - pos})) goto oom;
                break;
            }
            size_t h = (size_t)(hit - text);
            if (h > pos && frag_push(&out, (frag){-1, pos, h - pos})) goto oom;
            if (frag_push(&out, (frag){id, h, pl})) goto oom;
            pos = h + pl;
        }
    }
    lv_free(fr->v);
    *fr = out;
    return 0;
oom:
    lv_free(out.v);
    return -1;
}

int lv_tok_encode(const lv_tokenizer *t, const char *text, size_t len, int add_special,
                  int parse_special, int32_t **ids, int64_t *n, lv_error *err)
{
    fragvec fr = {0};
    idvec out = {0};
    char *buf = NULL;
    int prev_special = 1;

    *ids = NULL;
    *n = 0;
    if (len > ((size_t)1 << 30)) return lv_errorf(err, "text of %zu bytes is too long to tokenize", len);
    if (len && frag_push(&fr, (frag){-1, 0, len})) goto oom;
    for (int32_t k = 0; k < t->n_special; k++) {
        int32_t id = t->special[k];
        if (!parse_special && t->type[id] != LV_TOK_USER_DEFINED) continue;
        if (split_on(t, text, &fr, id)) goto oom;
    }
    if (add_special && t->add_bos && t->bos >= 0 && push(&out, t->bos)) goto oom;
    /* Escape buffer: 1 space + each byte up to 3 bytes. */
    buf = lv_malloc(3 * len + 4);
    if (!buf) goto oom;
    for (int64_t i = 0; i < fr.n; i++) {
        frag f = fr.v[i];
        if (f.id >= 0) {
            if (push(&out, f.id)) goto oom;
            prev_special = 1;
            continue;
        }
        size_t m = 0;
        if (t->add_space_prefix && prev_special) { memcpy(buf, "\xE2\x96\x81", 3); m = 3; }
        for (size_t k = 0; k < f.len; k++) {
            char c = text[f.off + k];
            if (c == ' ') { memcpy(buf + m, "\xE2\x96\x81", 3); m += 3; }
            else buf[m++] = c;
        }
        if (spm_merge(t, buf, m, &out)) goto oom;
        prev_special = 0;
    }
    if (add_special && t->add_eos && t->eos >= 0 && push(&out, t->eos)) goto oom;
    lv_free(fr.v);
    lv_free(buf);
    if (!out.v && !(out.v = lv_malloc(sizeof(int32_t)))) return lv_errorf(err, "out of memory");
    *ids = out.v;
    *n = out.n;
    return 0;
oom:
    lv_free(fr.v);
    lv_free(buf);
    lv_free(out.v);
    return lv_errorf(err, "out of memory while tokenizing");
}

/* ------------------------------------------------------------------ decode */

int lv_tok_piece(const lv_tokenizer *t, int32_t id, int unparse_special, char *buf, size_t cap)
{
    if (id < 0 || id >= t->n) return -1;
    const char *s = t->text[id];
    size_t n = t->len[id], w = 0;
    switch (t->type[id]) {
    case LV_TOK_CONTROL:
    case LV_TOK_UNKNOWN:
        if (!unparse_special) return 0;
        __attribute__((fallthrough));   /* unparse: the raw text */
    case LV_TOK_USER_DEFINED:
        if (cap) memcpy(buf, s, n < cap ? n : cap);
        return (int)n;
    case LV_TOK_BYTE:
        if (cap) buf[0] = (char)byte_value(s, n);
        return 1;
    case LV_TOK_NORMAL:
        for (size_t i = 0; i < n;) {
            if (n - i >= 3 && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
                if (w < cap) buf[w] = ' ';
                w++;
                i += 3;
            } else {
                if (w < cap) buf[w] = s[i];
                w++;
                i++;
            }
        }
        return (int)w;
    default:
        return 0;
    }
}

char *lv_tok_decode(const lv_tokenizer *t, const int32_t *ids, int64_t n, int remove_special,
                    int unparse_special, size_t *len, lv_error *err)
{
    int strip = t->add_space_prefix;
    int64_t first = 0, last = n;
    size_t total = 0, w = 0;
    char *out;

    if (remove_special && t->add_bos && n > 0 && ids[0] == t->bos) { first = 1; strip = 0; }
    if (remove_special && t->add_eos && last > first && ids[last - 1] == t->eos) last--;
    for (int64_t i = first; i < last; i++) {
        int k = lv_tok_piece(t, ids[i], unparse_special, NULL, 0);
        if (k < 0) {
            lv_errorf(err, "token id %d is outside the vocabulary (0..%d)", (int)ids[i], (int)t->n - 1);
            return NULL;
        }
        total += (size_t)k;
    }
    out = lv_malloc(total + 1);
    if (!out) { lv_errorf(err, "out of memory"); return NULL; }
    for (int64_t i = first; i < last; i++) {
        int k = lv_tok_piece(t, ids[i], unparse_special, out + w, total - w);
        if (i == first && strip && k > 0 && out[w] == ' ') {
            memmove(out + w, out + w + 1, (size_t)k - 1);
            k--;
        }
        w += (size_t)k;
    }
    out[w] = 0;
    if (len) *len = w;
    return out;
}
