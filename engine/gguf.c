/* engine/gguf.c — GGUF reader: parse and validate the header, KV records and
 * tensor infos of a mapped file (gguf-quant-tokenizer.md §1).
 *
 * Parsing walks a cursor over [base, base + size). Every read checks the bytes
 * left first; every count is compared with what the remaining bytes could hold
 * before a table is allocated, so tables never exceed the file's size.
 */
#include "engine/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/quant.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_ALIGNMENT     (1u << 20)
#define GGUF_MAX_KEY           65535
#define GGUF_MAX_NAME          63      /* ggml's GGML_MAX_NAME (64) minus the NUL */

typedef struct {
    char         *key;        /* NUL-terminated copy */
    lv_gguf_vtype type;
    union {
        uint64_t u; int64_t i; double f;
    } v;                      /* scalar value (bool in v.u) */
    /* STRING: bytes at base + off, len bytes. ARRAY: element type, count, payload
     * start (fixed-size elements) or per-element string offsets (strings). */
    uint64_t      off, len;
    lv_gguf_vtype elem;
    uint64_t      count;
    uint64_t     *str_off;    /* ARRAY of STRING: offset of each string's bytes */
} gguf_kv;

struct lv_gguf {
    const uint8_t  *base;
    uint64_t        size;
    int             mapped;   /* 1 if base is our mmap */
    uint32_t        version;
    uint64_t        alignment;
    uint64_t        data_offset;
    int64_t         n_kv, n_tensors;
    gguf_kv        *kv;
    lv_gguf_tensor *tensors;
    char           *names;    /* storage for tensor names */
};

typedef struct {
    const uint8_t *base;
    uint64_t       size, pos;
    lv_error      *err;
} cursor;

static uint64_t left(const cursor *c) { return c->size - c->pos; }

static int need(cursor *c, uint64_t n, const char *what)
{
    if (n > left(c))
        return lv_errorf(c->err, "truncated: %s needs %llu bytes at offset %llu, %llu left", what,
                         (unsigned long long)n, (unsigned long long)c->pos,
                         (unsigned long long)left(c));
    return 0;
}

static int rd(cursor *c, void *dst, uint64_t n, const char *what)
{
    if (need(c, n, what)) return -1;
    memcpy(dst, c->base + c->pos, n);
    c->pos += n;
    return 0;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what) { return rd(c, v, 4, what); }
static int rd_u64(cursor *c, uint64_t *v, const char *what) { return rd(c, v, 8, what); }

/* A string: u64 length then bytes; returns its offset and length without copying. */
static int rd_str(cursor *c, uint64_t *off, uint64_t *len, uint64_t cap, const char *what)
{
    if (rd_u64(c, len, what)) return -1;
    if (*len > cap)
        return lv_errorf(c->err, "%s length %llu exceeds the limit of %llu", what,
                         (unsigned long long)*len, (unsigned long long)cap);
    if (need(c, *len, what)) return -1;
    *off = c->pos;
    c->pos += *len;
    return 0;
}

static const int vtype_size[LV_GGUF_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *lv_gguf_vtype_name(lv_gguf_vtype t)
{
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                  "str", "arr", "u64", "i64", "f64"};
    return (unsigned)t < LV_GGUF_NTYPES ? names[t] : "?";
}

static int read_scalar(cursor *c, gguf_kv *kv)
{
    uint8_t b[8];
    int n = vtype_size[kv->type];
    if (rd(c, b, (uint64_t)n, kv->key)) return -1;
    switch (kv->type) {
    case LV_GGUF_UINT8:  kv->v.u = b[0]; break;
    case LV_GGUF_INT8:   kv->v.i = (int8_t)b[0]; break;
    case LV_GGUF_BOOL:   kv->v.u = b[0] != 0; break;
    case LV_GGUF_UINT16: { uint16_t x; memcpy(&x, b, 2); kv->v.u = x; break; }
    case LV_GGUF_INT16:  { int16_t x; memcpy(&x, b, 2); kv->v.i = x; break; }
    case LV_GGUF_UINT32: { uint32_t x; memcpy(&x, b, 4); kv->v.u = x; break; }
    case LV_GGUF_INT32:  { int32_t x; memcpy(&x, b, 4); kv->v.i = x; break; }
    case LV_GGUF_FLOAT32:{ float x; memcpy(&x, b, 4); kv->v.f = x; break; }
    case LV_GGUF_UINT64: memcpy(&kv->v.u, b, 8); break;
    case LV_GGUF_INT64:  memcpy(&kv->v.i, b, 8); break;
    case LV_GGUF_FLOAT64:memcpy(&kv->v.f, b, 8); break;
    default: return lv_errorf(c->err, "internal: not a scalar");
    }
    return 0;
}

static int read_kv(lv_gguf *g, cursor *c, int64_t idx)
{
    gguf_kv *kv = &g->kv[idx];
    uint64_t koff, klen;
    uint32_t t;
    if (rd_str(c, &koff, &klen, GGUF_MAX_KEY, "key")) return -1;
    if (klen == 0) return lv_errorf(c->err, "metadata key %lld is empty", (long long)idx);
    if (memchr(c->base + koff, 0, klen)) return lv_errorf(c->err, "metadata key %lld contains a NUL byte", (long long)idx);
    kv->key = lv_strndup((const char *)c->base + koff, klen);
    if (!kv->key) return lv_errorf(c->err, "out of memory");
    if (rd_u32(c, &t, "value type")) return -1;
    if (t >= LV_GGUF_NTYPES) return lv_errorf(c->err, "key '%s': invalid value type %u", kv->key, t);
    kv->type = (lv_gguf_vtype)t;
    if (t == LV_GGUF_STRING) return rd_str(c, &kv->off, &kv->len, left(c), kv->key);
    if (t != LV_GGUF_ARRAY) return read_scalar(c, kv);

    uint32_t et;
    uint64_t n;
    if (rd_u32(c, &et, "array type") || rd_u64(c, &n, "array count")) return -1;
    if (et >= LV_GGUF_NTYPES) return lv_errorf(c->err, "key '%s': invalid array element type %u", kv->key, et);
    kv->elem = (lv_gguf_vtype)et;
    kv->count = n;
    kv->off = c->pos;
    if (et == LV_GGUF_ARRAY)   /* as llama.cpp: no model uses them */
        return lv_errorf(c->err, "key '%s': nested arrays are not supported", kv->key);
    if (et == LV_GGUF_STRING) {
        if (n > left(c) / 8) return lv_errorf(c->err, "key '%s': array count %llu exceeds the file", kv->key, (unsigned long long)n);
        kv->str_off = lv_malloc((size_t)(n ? n : 1) * sizeof *kv->str_off);
        if (!kv->str_off) return lv_errorf(c->err, "out of memory");
        for (uint64_t j = 0; j < n; j++) {
            uint64_t off, len;
            if (rd_str(c, &off, &len, left(c), kv->key)) return -1;
            kv->str_off[j] = off - 8;   /* points at the length field */
        }
        kv->len = c->pos - kv->off;
        return 0;
    }
    if (n > left(c) / (uint64_t)vtype_size[et])
        return lv_errorf(c->err, "key '%s': array of %llu %s exceeds the file", kv->key,
                         (unsigned long long)n, lv_gguf_vtype_name(et));
    kv->len = n * (uint64_t)vtype_size[et];
    c->pos += kv->len;
    return 0;
}

static int read_tensor_info(lv_gguf *g, cursor *c, int64_t idx, char **name_store)
{
    lv_gguf_tensor *t = &g->tensors[idx];
    uint64_t noff, nlen;
    uint32_t nd, type;
    if (rd_str(c, &noff, &nlen, left(c), "tensor name")) return -1;
    if (nlen == 0) return lv_errorf(c->err, "tensor %lld has an empty name", (long long)idx);
    if (nlen > GGUF_MAX_NAME) return lv_errorf(c->err, "tensor %lld: name of %llu bytes is too long (max %d)", (long long)idx, (unsigned long long)nlen, GGUF_MAX_NAME);
    if (memchr(c->base + noff, 0, nlen)) return lv_errorf(c->err, "tensor %lld: name contains a NUL byte", (long long)idx);
    memcpy(*name_store, c->base + noff, nlen);
    (*name_store)[nlen] = 0;
    t->name = *name_store;
    *name_store += nlen + 1;

    if (rd_u32(c, &nd, "n_dims")) return -1;
    if (nd < 1 || nd > 4) return lv_errorf(c->err, "tensor '%s': n_dims %u is not in 1..4", t->name, nd);
    t->n_dims = (int)nd;
    uint64_t nelem = 1;
    for (int d = 0; d < 4; d++) {
        t->ne[d] = 1;
        if (d < (int)nd) {
            if (rd_u64(c, &t->ne[d], "dimension")) return -1;
            if (t->ne[d] == 0 || t->ne[d] > (uint64_t)INT64_MAX)
                return lv_errorf(c->err, "tensor '%s': dimension %d is %llu", t->name, d, (unsigned long long)t->ne[d]);
        }
        if (lv_mul_u64(nelem, t->ne[d], &nelem) || nelem > (uint64_t)INT64_MAX)
            return lv_errorf(c->err, "tensor '%s': element count overflows", t->name);
    }
    if (rd_u32(c, &type, "tensor type")) return -1;
    const lv_type_traits *tr = lv_type_info((int)(int32_t)type);
    if (!tr) return lv_errorf(c->err, "tensor '%s': invalid type id %d", t->name, (int32_t)type);
    if (!tr->supported) return lv_errorf(c->err, "tensor '%s': type %s is not supported", t->name, tr->name);
    t->type = (int)type;
    uint64_t row;
    if (lv_type_row_bytes(t->type, t->ne[0], &row))
        return lv_errorf(c->err, "tensor '%s': ne[0] = %llu is not a multiple of the %s block size %d", t->name,
                         (unsigned long long)t->ne[0], tr->name, tr->block);
    uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3];   /* <= nelem, no overflow */
    if (lv_mul_u64(row, rows, &t->nbytes) || t->nbytes > (uint64_t)INT64_MAX)
        return lv_errorf(c->err, "tensor '%s': byte size overflows", t->name);
    if (rd_u64(c, &t->offset, "tensor offset")) return -1;
    return 0;
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const lv_gguf_tensor *x = *(const lv_gguf_tensor *const *)a, *y = *(const lv_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Finds a repeated string among n (sorting a copy of the pointers: n log n, so a
 * file with a million keys is still refused quickly). Returns it or NULL. */
static const char *find_duplicate(const char **s, int64_t n, int *oom)
{
    const char *dup = NULL;
    const char **v;
    *oom = 0;
    if (n < 2) return NULL;
    v = lv_malloc((size_t)n * sizeof *v);
    if (!v) { *oom = 1; return NULL; }
    memcpy(v, s, (size_t)n * sizeof *v);
    qsort(v, (size_t)n, sizeof *v, cmp_strp);
    for (int64_t i = 1; i < n && !dup; i++)
        if (strcmp(v[i - 1], v[i]) == 0) dup = v[i];
    lv_free(v);
    return dup;
}

static int check_unique(const char **names, int64_t n, const char *what, lv_error *err)
{
    int oom;
    const char *d = find_duplicate(names, n, &oom);
    if (oom) return lv_errorf(err, "out of memory");
    if (d) return lv_errorf(err, "duplicate %s '%s'", what, d);
    return 0;
}

static int parse(lv_gguf *g, lv_error *err)
{
    cursor c = {g->base, g->size, 0, err};
    uint8_t magic[4];
    uint64_t nt, nkv;

    if (rd(&c, magic, 4, "magic")) return -1;
    if (memcmp(magic, "GGUF", 4) != 0) return lv_errorf(err, "not a GGUF file (bad magic)");
    if (rd_u32(&c, &g->version, "version")) return -1;
    if ((g->version & 0xFFFF) == 0 && g->version != 0)
        return lv_errorf(err, "big-endian GGUF files are not supported");
    if (g->version == 1) return lv_errorf(err, "GGUF version 1 is obsolete and not supported");
    if (g->version != 2 && g->version != 3) return lv_errorf(err, "unsupported GGUF version %u", g->version);
    if (rd_u64(&c, &nt, "tensor count") || rd_u64(&c, &nkv, "metadata count")) return -1;
    /* A KV record needs at least 8+1+4+1 bytes, a tensor record 8+1+4+8+4+8. */
    if (nkv > left(&c) / 14) return lv_errorf(err, "metadata count %llu exceeds the file", (unsigned long long)nkv);
    if (nt > left(&c) / 33) return lv_errorf(err, "tensor count %llu exceeds the file", (unsigned long long)nt);
    g->n_kv = (int64_t)nkv;
    g->n_tensors = (int64_t)nt;

    g->kv = lv_calloc((size_t)(nkv ? nkv : 1), sizeof *g->kv);
    if (!g->kv) return lv_errorf(err, "out of memory");
    for (int64_t i = 0; i < g->n_kv; i++)
        if (read_kv(g, &c, i)) return -1;
    {
        const char **keys = lv_malloc((size_t)(nkv ? nkv : 1) * sizeof *keys);
        int rc;
        if (!keys) return lv_errorf(err, "out of memory");
        for (int64_t i = 0; i < g->n_kv; i++) keys[i] = g->kv[i].key;
        rc = check_unique(keys, g->n_kv, "metadata key", err);
        lv_free(keys);
        if (rc) return -1;
    }

    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t ai = lv_gguf_find_key(g, "general.alignment");
    if (ai >= 0) {
        if (g->kv[ai].type != LV_GGUF_UINT32) return lv_errorf(err, "general.alignment must be u32, not %s", lv_gguf_vtype_name(g->kv[ai].type));
        uint64_t a = g->kv[ai].v.u;
        /* the format asks for a multiple of 8; below that, block structs (f16 scales)
           would sit at odd addresses (found by fuzz_gguf: a misaligned Q4_K read) */
        if (a < 8 || (a & (a - 1)) || a > GGUF_MAX_ALIGNMENT)
            return lv_errorf(err, "general.alignment %llu is not a power of two in 8..%u", (unsigned long long)a, GGUF_MAX_ALIGNMENT);
        g->alignment = a;
    }

    g->tensors = lv_calloc((size_t)(nt ? nt : 1), sizeof *g->tensors);
    /* Names are at most 63 bytes + NUL each, and each took >= 33 file bytes. */
    g->names = lv_malloc((size_t)(nt ? nt : 1) * (GGUF_MAX_NAME + 1));
    if (!g->tensors || !g->names) return lv_errorf(err, "out of memory");
    char *ns = g->names;
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (read_tensor_info(g, &c, i, &ns)) return -1;
    {
        const char **names = lv_malloc((size_t)(nt ? nt : 1) * sizeof *names);
        int rc;
        if (!names) return lv_errorf(err, "out of memory");
        for (int64_t i = 0; i < g->n_tensors; i++) names[i] = g->tensors[i].name;
        rc = check_unique(names, g->n_tensors, "tensor name", err);
        lv_free(names);
        if (rc) return -1;
    }

    if (lv_align_u64(c.pos, g->alignment, &g->data_offset)) return lv_errorf(err, "data offset overflows");
    /* A file with no tensors may end before the aligned data offset. */
    if (g->n_tensors == 0) return 0;
    if (g->data_offset > g->size) return lv_errorf(err, "truncated: no data section");
    uint64_t data_size = g->size - g->data_offset;

    for (int64_t i = 0; i < g->n_tensors; i++) {
        lv_gguf_tensor *t = &g->tensors[i];
        uint64_t end;
        if (t->offset % g->alignment)
            return lv_errorf(err, "tensor '%s': offset %llu is not a multiple of the alignment %llu", t->name,
                             (unsigned long long)t->offset, (unsigned long long)g->alignment);
        if (lv_add_u64(t->offset, t->nbytes, &end) || end > data_size)
            return lv_errorf(err, "tensor '%s': data (offset %llu, %llu bytes) lies past the end of the file",
                             t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes);
        t->data = g->base + g->data_offset + t->offset;
    }
    /* No two tensors may overlap: sort by offset and compare neighbours. */
    const lv_gguf_tensor **ord = lv_malloc((size_t)nt * sizeof *ord);
    if (!ord) return lv_errorf(err, "out of memory");
    for (int64_t i = 0; i < g->n_tensors; i++) ord[i] = &g->tensors[i];
    qsort(ord, (size_t)nt, sizeof *ord, cmp_tensor_offset);
    for (int64_t i = 1; i < g->n_tensors; i++) {
        const lv_gguf_tensor *a = ord[i - 1], *b = ord[i];
        if (a->offset + a->nbytes > b->offset) {
            lv_errorf(err, "tensors '%s' and '%s' overlap", a->name, b->name);
            lv_free(ord);
            return -1;
        }
    }
    lv_free(ord);
    return 0;
}

static lv_gguf *open_common(const uint8_t *base, uint64_t size, int mapped, lv_error *err)
{
    lv_gguf *g = lv_calloc(1, sizeof *g);
    if (!g) {
        if (mapped) munmap((void *)base, size);
        lv_errorf(err, "out of memory");
        return NULL;
    }
    g->base = base;
    g->size = size;
    g->mapped = mapped;
    if (parse(g, err)) {
        lv_gguf_close(g);
        return NULL;
    }
    return g;
}

lv_gguf *lv_gguf_open_memory(const void *buf, size_t len, lv_error *err)
{
    return open_common(buf, len, 0, err);
}

lv_gguf *lv_gguf_open(const char *path, lv_error *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lv_errorf(err, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        lv_errorf(err, "not a regular file");
        close(fd);
        return NULL;
    }
    if (st.st_size < 24) {
        close(fd);
        lv_errorf(err, st.st_size < 4 ? "not a GGUF file (too short)" : "truncated: %lld bytes is too short for a GGUF header", (long long)st.st_size);
        return NULL;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        lv_errorf(err, "cannot map: %s", strerror(errno));
        return NULL;
    }
    return open_common(p, (uint64_t)st.st_size, 1, err);
}

void lv_gguf_close(lv_gguf *g)
{
    if (!g) return;
    if (g->kv)
        for (int64_t i = 0; i < g->n_kv; i++) {
            lv_free(g->kv[i].key);
            lv_free(g->kv[i].str_off);
        }
    lv_free(g->kv);
    lv_free(g->tensors);
    lv_free(g->names);
    if (g->mapped) munmap((void *)g->base, g->size);
    lv_free(g);
}

uint32_t lv_gguf_version(const lv_gguf *g) { return g->version; }
uint64_t lv_gguf_alignment(const lv_gguf *g) { return g->alignment; }
uint64_t lv_gguf_data_offset(const lv_gguf *g) { return g->data_offset; }
uint64_t lv_gguf_file_size(const lv_gguf *g) { return g->size; }
int64_t lv_gguf_n_kv(const lv_gguf *g) { return g->n_kv; }
int64_t lv_gguf_n_tensors(const lv_gguf *g) { return g->n_tensors; }

const char *lv_gguf_kv_key(const lv_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? g->kv[i].key : NULL;
}

lv_gguf_vtype lv_gguf_kv_type(const lv_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? g->kv[i].type : LV_GGUF_NTYPES;
}

int64_t lv_gguf_find_key(const lv_gguf *g, const char *key)
{
    for (int64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key && strcmp(g->kv[i].key, key) == 0) return i;
    return -1;
}

static int is_signed(lv_gguf_vtype t)
{
    return t == LV_GGUF_INT8 || t == LV_GGUF_INT16 || t == LV_GGUF_INT32 || t == LV_GGUF_INT64;
}
static int is_int(lv_gguf_vtype t)
{
    return t == LV_GGUF_UINT8 || t == LV_GGUF_UINT16 || t == LV_GGUF_UINT32 || t == LV_GGUF_UINT64 ||
           t == LV_GGUF_BOOL || is_signed(t);
}

int lv_gguf_kv_i64(const lv_gguf *g, int64_t i, int64_t *out)
{
    if (i < 0 || i >= g->n_kv || !is_int(g->kv[i].type)) return -1;
    if (is_signed(g->kv[i].type)) *out = g->kv[i].v.i;
    else if (g->kv[i].v.u > (uint64_t)INT64_MAX) return -1;
    else *out = (int64_t)g->kv[i].v.u;
    return 0;
}

int lv_gguf_kv_u64(const lv_gguf *g, int64_t i, uint64_t *out)
{
    if (i < 0 || i >= g->n_kv || !is_int(g->kv[i].type)) return -1;
    if (is_signed(g->kv[i].type)) {
        if (g->kv[i].v.i < 0) return -1;
        *out = (uint64_t)g->kv[i].v.i;
    } else {
        *out = g->kv[i].v.u;
    }
    return 0;
}

int lv_gguf_kv_f64(const lv_gguf *g, int64_t i, double *out)
{
    if (i < 0 || i >= g->n_kv) return -1;
    lv_gguf_vtype t = g->kv[i].type;
    if (t == LV_GGUF_FLOAT32 || t == LV_GGUF_FLOAT64) *out = g->kv[i].v.f;
    else if (is_signed(t)) *out = (double)g->kv[i].v.i;
    else if (is_int(t)) *out = (double)g->kv[i].v.u;
    else return -1;
    return 0;
}

int lv_gguf_kv_bool(const lv_gguf *g, int64_t i, int *out)
{
    if (i < 0 || i >= g->n_kv || g->kv[i].type != LV_GGUF_BOOL) return -1;
    *out = (int)g->kv[i].v.u;
    return 0;
}

int lv_gguf_kv_str(const lv_gguf *g, int64_t i, const char **s, size_t *len)
{
    if (i < 0 || i >= g->n_kv || g->kv[i].type != LV_GGUF_STRING) return -1;
    *s = (const char *)g->base + g->kv[i].off;
    *len = (size_t)g->kv[i].len;
    return 0;
}

int lv_gguf_kv_arr(const lv_gguf *g, int64_t i, lv_gguf_vtype *elem_type, uint64_t *count, const void **data)
{
    if (i < 0 || i >= g->n_kv || g->kv[i].type != LV_GGUF_ARRAY) return -1;
    *elem_type = g->kv[i].elem;
    *count = g->kv[i].count;
    if (data) *data = (g->kv[i].elem == LV_GGUF_STRING || g->kv[i].elem == LV_GGUF_ARRAY) ? NULL : g->base + g->kv[i].off;
    return 0;
}

int lv_gguf_kv_arr_str(const lv_gguf *g, int64_t i, uint64_t j, const char **s, size_t *len)
{
    if (i < 0 || i >= g->n_kv || g->kv[i].type != LV_GGUF_ARRAY || g->kv[i].elem != LV_GGUF_STRING ||
        j >= g->kv[i].count)
        return -1;
    uint64_t off = g->kv[i].str_off[j], n;
    memcpy(&n, g->base + off, 8);
    *s = (const char *)g->base + off + 8;
    *len = (size_t)n;
    return 0;
}

int lv_gguf_get_u32(const lv_gguf *g, const char *key, uint32_t *out, lv_error *err)
{
    int64_t i = lv_gguf_find_key(g, key);
    uint64_t v;
    if (i < 0) return 1;
    if (lv_gguf_kv_u64(g, i, &v) || v > UINT32_MAX)
        return lv_errorf(err, "metadata '%s' is not an unsigned 32-bit integer", key);
    *out = (uint32_t)v;
    return 0;
}

int lv_gguf_get_f32(const lv_gguf *g, const char *key, float *out, lv_error *err)
{
    int64_t i = lv_gguf_find_key(g, key);
    double v;
    if (i < 0) return 1;
    if (lv_gguf_kv_f64(g, i, &v)) return lv_errorf(err, "metadata '%s' is not a number", key);
    *out = (float)v;
    return 0;
}

int lv_gguf_get_bool(const lv_gguf *g, const char *key, int *out, lv_error *err)
{
    int64_t i = lv_gguf_find_key(g, key);
    if (i < 0) return 1;
    if (lv_gguf_kv_bool(g, i, out)) return lv_errorf(err, "metadata '%s' is not a bool", key);
    return 0;
}

int lv_gguf_get_str(const lv_gguf *g, const char *key, char **out, lv_error *err)
{
    int64_t i = lv_gguf_find_key(g, key);
    const char *s;
    size_t n;
    if (i < 0) return 1;
    if (lv_gguf_kv_str(g, i, &s, &n)) return lv_errorf(err, "metadata '%s' is not a string", key);
    if (memchr(s, 0, n)) return lv_errorf(err, "metadata '%s' contains a NUL byte", key);
    *out = lv_strndup(s, n);
    if (!*out) return lv_errorf(err, "out of memory");
    return 0;
}

const lv_gguf_tensor *lv_gguf_tensor_at(const lv_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const lv_gguf_tensor *lv_gguf_find_tensor(const lv_gguf *g, const char *name)
{
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}
