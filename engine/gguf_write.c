/* engine/gguf_write.c — the GGUF writer declared in engine/gguf.h. */
#include "engine/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/quant.h"

typedef struct {
    uint8_t *p;
    size_t   n, cap;
    int      oom;
} bytes;

static void put(bytes *b, const void *src, size_t n)
{
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + n) nc *= 2;
        uint8_t *np = lv_realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_u32(bytes *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(bytes *b, uint64_t v) { put(b, &v, 8); }
static void put_str(bytes *b, const char *s, size_t n) { put_u64(b, n); put(b, s, n); }

typedef struct {
    char       *name;
    int         type, n_dims;
    uint64_t    ne[4], nbytes, offset;
    const void *data;
} wtensor;

struct lv_gguf_writer {
    bytes    kv;            /* the encoded KV records */
    uint64_t n_kv;
    char   **keys;
    wtensor *t;
    int64_t  n_t, cap_t;
    uint32_t alignment;
};

lv_gguf_writer *lv_gguf_writer_new(void)
{
    lv_gguf_writer *w = lv_calloc(1, sizeof *w);
    if (w) w->alignment = 32;
    return w;
}

void lv_gguf_writer_free(lv_gguf_writer *w)
{
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) lv_free(w->keys[i]);
    for (int64_t i = 0; i < w->n_t; i++) lv_free(w->t[i].name);
    lv_free(w->keys);
    lv_free(w->t);
    lv_free(w->kv.p);
    lv_free(w);
}

/* Starts a record: checks the key is new, writes key and type tag. */
static int begin(lv_gguf_writer *w, const char *key, lv_gguf_vtype t, lv_error *err)
{
    if (!key || !*key) return lv_errorf(err, "empty metadata key");
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) return lv_errorf(err, "duplicate metadata key '%s'", key);
    char **nk = lv_realloc(w->keys, sizeof *nk * (w->n_kv + 1));
    if (!nk) return lv_errorf(err, "out of memory");
    w->keys = nk;
    if (!(w->keys[w->n_kv] = lv_strndup(key, strlen(key)))) return lv_errorf(err, "out of memory");
    w->n_kv++;
    put_str(&w->kv, key, strlen(key));
    put_u32(&w->kv, (uint32_t)t);
    return w->kv.oom ? lv_errorf(err, "out of memory") : 0;
}

static int end(lv_gguf_writer *w, lv_error *err)
{
    return w->kv.oom ? lv_errorf(err, "out of memory") : 0;
}

int lv_gguf_w_u32(lv_gguf_writer *w, const char *key, uint32_t v, lv_error *err)
{
    if (begin(w, key, LV_GGUF_UINT32, err)) return -1;
    if (strcmp(key, "general.alignment") == 0) {
        if (v < 8 || (v & (v - 1)) || v > (1u << 20)) return lv_errorf(err, "bad alignment %u (a power of two, 8 to 2^20)", v);   /* what the reader accepts */
        w->alignment = v;
    }
    put_u32(&w->kv, v);
    return end(w, err);
}

int lv_gguf_w_i32(lv_gguf_writer *w, const char *key, int32_t v, lv_error *err)
{
    if (begin(w, key, LV_GGUF_INT32, err)) return -1;
    put(&w->kv, &v, 4);
    return end(w, err);
}

int lv_gguf_w_f32(lv_gguf_writer *w, const char *key, float v, lv_error *err)
{
    if (begin(w, key, LV_GGUF_FLOAT32, err)) return -1;
    put(&w->kv, &v, 4);
    return end(w, err);
}

int lv_gguf_w_bool(lv_gguf_writer *w, const char *key, int v, lv_error *err)
{
    uint8_t b = v != 0;
    if (begin(w, key, LV_GGUF_BOOL, err)) return -1;
    put(&w->kv, &b, 1);
    return end(w, err);
}

int lv_gguf_w_str(lv_gguf_writer *w, const char *key, const char *s, lv_error *err)
{
    if (begin(w, key, LV_GGUF_STRING, err)) return -1;
    put_str(&w->kv, s, strlen(s));
    return end(w, err);
}

static const int esize[LV_GGUF_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

int lv_gguf_w_arr(lv_gguf_writer *w, const char *key, lv_gguf_vtype et, const void *data, uint64_t count, lv_error *err)
{
    if ((unsigned)et >= LV_GGUF_NTYPES || esize[et] == 0) return lv_errorf(err, "key '%s': bad array element type", key);
    if (count > ((uint64_t)1 << 40)) return lv_errorf(err, "key '%s': array too large", key);
    if (begin(w, key, LV_GGUF_ARRAY, err)) return -1;
    put_u32(&w->kv, (uint32_t)et);
    put_u64(&w->kv, count);
    put(&w->kv, data, (size_t)count * (size_t)esize[et]);
    return end(w, err);
}

int lv_gguf_w_arr_str(lv_gguf_writer *w, const char *key, const char *const *s, const size_t *len, uint64_t count, lv_error *err)
{
    if (begin(w, key, LV_GGUF_ARRAY, err)) return -1;
    put_u32(&w->kv, LV_GGUF_STRING);
    put_u64(&w->kv, count);
    for (uint64_t i = 0; i < count; i++) put_str(&w->kv, s[i], len ? len[i] : strlen(s[i]));
    return end(w, err);
}

int lv_gguf_w_copy_kv(lv_gguf_writer *w, const lv_gguf *g, int64_t i, lv_error *err)
{
    const char *key = lv_gguf_kv_key(g, i), *s;
    lv_gguf_vtype t = lv_gguf_kv_type(g, i), et;
    size_t n;
    uint64_t count, u;
    int64_t v;
    double f;
    const void *data;
    if (!key) return lv_errorf(err, "no metadata entry %lld", (long long)i);
    switch (t) {
    case LV_GGUF_STRING:
        lv_gguf_kv_str(g, i, &s, &n);
        if (begin(w, key, t, err)) return -1;
        put_str(&w->kv, s, n);
        return end(w, err);
    case LV_GGUF_ARRAY:
        lv_gguf_kv_arr(g, i, &et, &count, &data);
        if (et == LV_GGUF_ARRAY) return lv_errorf(err, "key '%s': nested arrays are not copied", key);
        if (et != LV_GGUF_STRING) return lv_gguf_w_arr(w, key, et, data, count, err);
        if (begin(w, key, t, err)) return -1;
        put_u32(&w->kv, LV_GGUF_STRING);
        put_u64(&w->kv, count);
        for (uint64_t j = 0; j < count; j++) {
            lv_gguf_kv_arr_str(g, i, j, &s, &n);
            put_str(&w->kv, s, n);
        }
        return end(w, err);
    case LV_GGUF_UINT32:
        lv_gguf_kv_u64(g, i, &u);
        return lv_gguf_w_u32(w, key, (uint32_t)u, err);
    case LV_GGUF_FLOAT32: case LV_GGUF_FLOAT64:
        lv_gguf_kv_f64(g, i, &f);
        if (begin(w, key, t, err)) return -1;
        if (t == LV_GGUF_FLOAT32) { float x = (float)f; put(&w->kv, &x, 4); }
        else put(&w->kv, &f, 8);
        return end(w, err);
    default:
        /* Other integers and bool: the value's low bytes in its own width. */
        if (lv_gguf_kv_i64(g, i, &v) != 0) { lv_gguf_kv_u64(g, i, &u); v = (int64_t)u; }
        if (begin(w, key, t, err)) return -1;
        put(&w->kv, &v, (size_t)esize[t]);
        return end(w, err);
    }
}

int lv_gguf_w_tensor(lv_gguf_writer *w, const char *name, int type, int n_dims, const uint64_t *ne,
                     const void *data, lv_error *err)
{
    wtensor t = {0};
    uint64_t rows = 1, row;
    if (!name || !*name || strlen(name) > 63) return lv_errorf(err, "bad tensor name");
    for (int64_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0) return lv_errorf(err, "duplicate tensor name '%s'", name);
    if (n_dims < 1 || n_dims > 4) return lv_errorf(err, "tensor '%s': n_dims %d", name, n_dims);
    for (int d = 0; d < 4; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] == 0) return lv_errorf(err, "tensor '%s': zero dimension", name);
        if (d > 0 && lv_mul_u64(rows, t.ne[d], &rows)) return lv_errorf(err, "tensor '%s': too large", name);
    }
    if (lv_type_row_bytes(type, t.ne[0], &row) || lv_mul_u64(row, rows, &t.nbytes))
        return lv_errorf(err, "tensor '%s': ne[0] does not fit type %d", name, type);
    if (w->n_t == w->cap_t) {
        int64_t nc = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *nt = lv_realloc(w->t, sizeof *nt * (size_t)nc);
        if (!nt) return lv_errorf(err, "out of memory");
        w->t = nt;
        w->cap_t = nc;
    }
    if (!(t.name = lv_strndup(name, strlen(name)))) return lv_errorf(err, "out of memory");
    t.type = type;
    t.n_dims = n_dims;
    t.data = data;
    w->t[w->n_t++] = t;
    return 0;
}

/* Header: magic, counts, KV records, tensor infos with their offsets, padding. */
static int build_header(lv_gguf_writer *w, bytes *h, lv_error *err)
{
    uint64_t off = 0;
    put(h, "GGUF", 4);
    put_u32(h, 3);
    put_u64(h, (uint64_t)w->n_t);
    put_u64(h, w->n_kv);
    put(h, w->kv.p, w->kv.n);
    for (int64_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        put_str(h, t->name, strlen(t->name));
        put_u32(h, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(h, t->ne[d]);
        put_u32(h, (uint32_t)t->type);
        t->offset = off;
        put_u64(h, off);
        if (lv_align_u64(off + t->nbytes, w->alignment, &off)) return lv_errorf(err, "file too large");
    }
    static const uint8_t zeros[64] = {0};
    while (!h->oom && h->n % w->alignment) put(h, zeros, w->alignment - h->n % w->alignment < 64 ? w->alignment - h->n % w->alignment : 64);
    return h->oom ? lv_errorf(err, "out of memory") : 0;
}

int lv_gguf_w_to_memory(lv_gguf_writer *w, uint8_t **buf, size_t *len, lv_error *err)
{
    bytes h = {0};
    static const uint8_t zeros[64] = {0};
    if (build_header(w, &h, err)) { lv_free(h.p); return -1; }
    for (int64_t i = 0; i < w->n_t; i++) {
        put(&h, w->t[i].data, (size_t)w->t[i].nbytes);
        if (i + 1 < w->n_t)
            while (!h.oom && h.n % w->alignment) put(&h, zeros, 1);
    }
    if (h.oom) { lv_free(h.p); return lv_errorf(err, "out of memory"); }
    *buf = h.p;
    *len = h.n;
    return 0;
}

int lv_gguf_w_save(lv_gguf_writer *w, const char *path, lv_error *err)
{
    bytes h = {0};
    char tmp[4096];
    static const uint8_t zeros[64] = {0};
    int fd = -1, rc = -1;
    FILE *f = NULL;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp) return lv_errorf(err, "path too long");
    if (build_header(w, &h, err)) goto done;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !(f = fdopen(fd, "wb"))) { lv_errorf(err, "cannot create %s: %s", tmp, strerror(errno)); goto done; }
    fd = -1;
    if (fwrite(h.p, 1, h.n, f) != h.n) goto io;
    uint64_t pos = h.n;
    for (int64_t i = 0; i < w->n_t; i++) {
        if (fwrite(w->t[i].data, 1, (size_t)w->t[i].nbytes, f) != w->t[i].nbytes) goto io;
        pos += w->t[i].nbytes;
        while (i + 1 < w->n_t && pos % w->alignment) {
            size_t k = (size_t)(w->alignment - pos % w->alignment);
            if (k > sizeof zeros) k = sizeof zeros;
            if (fwrite(zeros, 1, k, f) != k) goto io;
            pos += k;
        }
    }
    if (fflush(f) || fsync(fileno(f))) goto io;
    if (fclose(f)) { f = NULL; goto io; }
    f = NULL;
    if (rename(tmp, path)) { lv_errorf(err, "cannot rename into %s: %s", path, strerror(errno)); goto done; }
    rc = 0;
    goto done;
io:
    lv_errorf(err, "writing %s: %s", tmp, strerror(errno));
done:
    if (f) fclose(f);
    if (fd >= 0) close(fd);
    if (rc) unlink(tmp);
    lv_free(h.p);
    return rc;
}
