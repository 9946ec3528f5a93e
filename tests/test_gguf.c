/* tests/test_gguf.c — the GGUF reader and writer.
 *
 * 1. `info --json` on every fixture GGUF lists the same keys, values, tensor
 *    names, types and shapes as an independent reading (tests/tools/gguf_dump.py).
 * 2. The writer round-trips every metadata type and tensors.
 * 3. A generated corpus of malformed files (truncations at every header offset,
 *    huge counts and lengths, bad types, nested arrays, n_dims 0/5/255, overflowing
 *    shapes, offsets past the end / misaligned / overlapping, duplicate keys and
 *    names, bad alignment, bad versions) is refused: in-process with an error
 *    message and no large allocation, and through the CLI with exit 2, one line,
 *    in under a second.
 */
#include "tests/test.h"

#include <cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/gguf.h"
#include "engine/quant.h"

/* ------------------------------------------------ 1. info --json vs python */

static int json_same(const cJSON *a, const cJSON *b, char *path, size_t cap)
{
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
        double x = a->valuedouble, y = b->valuedouble;
        return x == y || fabs(x - y) <= 1e-6 * fabs(y);
    }
    if ((a->type & 0xFF) != (b->type & 0xFF)) {
        /* python writes booleans as true/false too; anything else is a mismatch */
        return 0;
    }
    if (cJSON_IsString(a)) return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next) {
            if (cJSON_IsObject(a) && strcmp(x->string, y->string) != 0) {
                snprintf(path, cap, "key %s vs %s", x->string, y->string);
                return 0;
            }
            if (!json_same(x, y, path, cap)) {
                if (!path[0]) snprintf(path, cap, "%s", x->string ? x->string : "[elem]");
                return 0;
            }
        }
        return !x && !y;
    }
    return 1;
}

static void check_info_file(const char *path)
{
    char cmd[8400];
    t_proc p;
    const char *argv[] = {"info", path, "--json", NULL};
    T_CHECK(t_run(&p, NULL, 0, argv) == 0 && p.rc == 0, "info %s: %s", path, p.err);
    snprintf(cmd, sizeof cmd, "python3 tests/tools/gguf_dump.py '%s'", path);
    FILE *f = popen(cmd, "r");
    size_t cap = 1 << 20, n = 0;
    char *ref = malloc(cap);
    for (size_t r; (r = fread(ref + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (n + 1 == cap) ref = realloc(ref, cap *= 2);
    }
    ref[n] = 0;
    pclose(f);
    cJSON *ours = cJSON_Parse(p.out), *theirs = cJSON_Parse(ref);
    T_CHECK(ours != NULL, "%s: our JSON does not parse", path);
    T_CHECK(theirs != NULL, "%s: reference dump failed", path);
    if (ours && theirs) {
        const char *parts[] = {"version", "metadata", "tensors"};
        for (int i = 0; i < 3; i++) {
            char where[256] = "";
            const cJSON *a = cJSON_GetObjectItem(ours, parts[i]), *b = cJSON_GetObjectItem(theirs, parts[i]);
            if (i == 2) {
                /* compare name, type, shape of each tensor (ours has offset/bytes too) */
                int k = 0;
                const cJSON *x = a ? a->child : NULL, *y = b ? b->child : NULL;
                for (; x && y; x = x->next, y = y->next, k++) {
                    T_CHECK(strcmp(cJSON_GetObjectItem(x, "name")->valuestring, cJSON_GetObjectItem(y, "name")->valuestring) == 0, "%s tensor %d name", path, k);
                    T_CHECK(strcmp(cJSON_GetObjectItem(x, "type")->valuestring, cJSON_GetObjectItem(y, "type")->valuestring) == 0, "%s tensor %d type", path, k);
                    T_CHECK(json_same(cJSON_GetObjectItem(x, "shape"), cJSON_GetObjectItem(y, "shape"), where, sizeof where), "%s tensor %d shape", path, k);
                }
                T_CHECK(!x && !y, "%s: tensor count differs", path);
            } else {
                T_CHECK(a && b && json_same(a, b, where, sizeof where), "%s: %s differs (%s)", path, parts[i], where);
            }
        }
    }
    cJSON_Delete(ours);
    cJSON_Delete(theirs);
    free(ref);
    t_proc_free(&p);
}

static void test_info_matches_independent_reader(void)
{
    if (!t_fixtures()) T_SKIP("shared fixtures absent");
    if (!t_have_python3()) T_SKIP("python3 absent");
    const char *dirs[] = {"tiny-llava", "vocab"};
    int n = 0;
    for (int d = 0; d < 2; d++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", t_fixtures(), dirs[d]);
        DIR *dp = opendir(dir);
        for (struct dirent *e; dp && (e = readdir(dp));) {
            size_t l = strlen(e->d_name);
            if (l < 5 || strcmp(e->d_name + l - 5, ".gguf") != 0) continue;
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            check_info_file(path);
            n++;
        }
        if (dp) closedir(dp);
    }
    T_EQ_INT(n, 11);
}

/* The vocab fixture ends 3 bytes before its nominal data offset (no tensors). */
static void test_vocab_file_short_tail(void)
{
    const char *p = t_fixture("vocab/ggml-vocab-llama-spm.gguf");
    if (!p) T_SKIP("shared fixtures absent");
    lv_error err;
    lv_gguf *g = lv_gguf_open(p, &err);
    T_CHECK(g != NULL, "open: %s", err.msg);
    if (!g) return;
    T_EQ_INT(lv_gguf_n_kv(g), 22);
    T_EQ_INT(lv_gguf_n_tensors(g), 0);
    T_EQ_INT(lv_gguf_data_offset(g), 723872);
    T_EQ_INT(lv_gguf_file_size(g), 723869);
    lv_gguf_close(g);
}

/* ------------------------------------------------------- 2. writer round trip */

static void test_writer_roundtrip(void)
{
    lv_error err;
    lv_gguf_writer *w = lv_gguf_writer_new();
    uint8_t u8s[3] = {1, 2, 255};
    float fs[2] = {1.5f, -0.25f};
    const char *strs[] = {"a", "", "\xE2\x96\x81x"};
    float tdata[64];
    uint16_t hdata[32 * 2];
    for (int i = 0; i < 64; i++) { tdata[i] = (float)i; hdata[i] = lv_fp32_to_fp16((float)i / 8); }
    T_CHECK(lv_gguf_w_str(w, "general.architecture", "llama", &err) == 0, "%s", err.msg);
    T_CHECK(lv_gguf_w_u32(w, "a.u32", 7, &err) == 0, "u32");
    T_CHECK(lv_gguf_w_i32(w, "a.i32", -7, &err) == 0, "i32");
    T_CHECK(lv_gguf_w_f32(w, "a.f32", 0.1f, &err) == 0, "f32");
    T_CHECK(lv_gguf_w_bool(w, "a.bool", 1, &err) == 0, "bool");
    T_CHECK(lv_gguf_w_arr(w, "a.u8s", LV_GGUF_UINT8, u8s, 3, &err) == 0, "arr");
    T_CHECK(lv_gguf_w_arr(w, "a.fs", LV_GGUF_FLOAT32, fs, 2, &err) == 0, "arr");
    T_CHECK(lv_gguf_w_arr_str(w, "a.strs", strs, NULL, 3, &err) == 0, "arr str");
    T_CHECK(lv_gguf_w_u32(w, "a.u32", 8, &err) != 0, "duplicate key must be refused");
    uint64_t ne1[1] = {64}, ne2[2] = {32, 2};
    T_CHECK(lv_gguf_w_tensor(w, "t.f32", LV_TYPE_F32, 1, ne1, tdata, &err) == 0, "%s", err.msg);
    T_CHECK(lv_gguf_w_tensor(w, "t.f16", LV_TYPE_F16, 2, ne2, hdata, &err) == 0, "%s", err.msg);
    T_CHECK(lv_gguf_w_tensor(w, "t.bad", LV_TYPE_Q4_0, 1, (uint64_t[]){33}, hdata, &err) != 0, "33 values are not Q4_0 blocks");
    uint8_t *buf;
    size_t len;
    T_CHECK(lv_gguf_w_to_memory(w, &buf, &len, &err) == 0, "%s", err.msg);
    lv_gguf *g = lv_gguf_open_memory(buf, len, &err);
    T_CHECK(g != NULL, "reopen: %s", err.msg);
    if (g) {
        uint32_t u; float f; int b; char *s = NULL;
        T_CHECK(lv_gguf_get_u32(g, "a.u32", &u, &err) == 0 && u == 7, "u32");
        T_CHECK(lv_gguf_get_f32(g, "a.f32", &f, &err) == 0 && f == 0.1f, "f32");
        T_CHECK(lv_gguf_get_bool(g, "a.bool", &b, &err) == 0 && b == 1, "bool");
        T_CHECK(lv_gguf_get_str(g, "general.architecture", &s, &err) == 0 && strcmp(s, "llama") == 0, "str");
        lv_free(s);
        T_CHECK(lv_gguf_get_u32(g, "a.i32", &u, &err) == -1, "negative i32 is not a u32");
        T_CHECK(lv_gguf_get_u32(g, "missing", &u, &err) == 1, "absent key");
        int64_t ki = lv_gguf_find_key(g, "a.strs");
        const char *sp; size_t sl;
        T_CHECK(lv_gguf_kv_arr_str(g, ki, 2, &sp, &sl) == 0 && sl == 4 && memcmp(sp, "\xE2\x96\x81x", 4) == 0, "string element");
        T_CHECK(lv_gguf_kv_arr_str(g, ki, 3, &sp, &sl) == -1, "index past the end");
        const lv_gguf_tensor *t = lv_gguf_find_tensor(g, "t.f16");
        T_CHECK(t && t->type == LV_TYPE_F16 && t->ne[0] == 32 && t->ne[1] == 2 && t->offset % 32 == 0, "tensor info");
        T_CHECK(t && memcmp(t->data, hdata, sizeof hdata) == 0, "tensor data");
        /* copy every KV into a second writer: the same bytes come out */
        lv_gguf_writer *w2 = lv_gguf_writer_new();
        for (int64_t i = 0; i < lv_gguf_n_kv(g); i++) T_CHECK(lv_gguf_w_copy_kv(w2, g, i, &err) == 0, "copy %lld", (long long)i);
        lv_gguf_w_tensor(w2, "t.f32", LV_TYPE_F32, 1, ne1, tdata, &err);
        lv_gguf_w_tensor(w2, "t.f16", LV_TYPE_F16, 2, ne2, hdata, &err);
        uint8_t *buf2; size_t len2;
        T_CHECK(lv_gguf_w_to_memory(w2, &buf2, &len2, &err) == 0 && len2 == len && memcmp(buf, buf2, len) == 0, "copy identical");
        lv_free(buf2);
        lv_gguf_writer_free(w2);
        lv_gguf_close(g);
    }
    /* save: atomic write to a path, then open from disk */
    char path[256];
    snprintf(path, sizeof path, "%s/w.gguf", t_tmpdir());
    T_CHECK(lv_gguf_w_save(w, path, &err) == 0, "%s", err.msg);
    size_t flen;
    char *disk = t_read_file(path, &flen);
    T_CHECK(disk && flen == len && memcmp(disk, buf, len) == 0, "saved file equals the memory image");
    free(disk);
    lv_free(buf);
    lv_gguf_writer_free(w);
}

/* ------------------------------------------------ 3. the malformed corpus */

/* A raw byte builder, so each case can set any field to any value. */
typedef struct { uint8_t *p; size_t n, cap; } raw;
static void rput(raw *r, const void *s, size_t n)
{
    if (r->n + n > r->cap) { r->cap = (r->n + n) * 2 + 256; r->p = realloc(r->p, r->cap); }
    memcpy(r->p + r->n, s, n);
    r->n += n;
}
static void ru32(raw *r, uint32_t v) { rput(r, &v, 4); }
static void ru64(raw *r, uint64_t v) { rput(r, &v, 8); }
static void rstr(raw *r, const char *s) { ru64(r, strlen(s)); rput(r, s, strlen(s)); }

/* The knobs of one generated file; zero values mean "the valid default". */
typedef struct {
    const char *name;
    uint32_t version, magic_bad;
    uint64_t n_tensors, n_kv;          /* override the declared counts (0: real) */
    uint64_t keylen;                    /* override the first key's length */
    uint32_t vtype;                     /* override the second KV's type tag */
    uint32_t elem_type;                 /* override the array's element type */
    uint64_t arr_count;                 /* override the array's count */
    int      nested, dup_key, dup_tensor, empty_key;
    int      align_mode;                /* 1: alignment 0, 2: 3, 3: 2^31, 4: as i32, 5: 4 */
    uint32_t n_dims;                    /* for the first tensor (set flag below) */
    int      set_n_dims;
    uint64_t ne0, ne1;                  /* for the first tensor */
    int32_t  ttype; int set_ttype;
    uint64_t off1; int set_off1;        /* second tensor's offset */
    size_t   truncate;                  /* keep only this many bytes (0: all) */
} knobs;

static raw build(const knobs *k)
{
    raw r = {0};
    int real_kv = 4 + (k->dup_key ? 1 : 0) + (k->align_mode ? 1 : 0);
    int real_t = 2;
    rput(&r, k->magic_bad ? "GGUG" : "GGUF", 4);
    ru32(&r, k->version ? k->version : 3);
    ru64(&r, k->n_tensors ? k->n_tensors : (uint64_t)real_t);
    ru64(&r, k->n_kv ? k->n_kv : (uint64_t)real_kv);
    /* kv 0: string */
    if (k->keylen) { ru64(&r, k->keylen); rput(&r, "general.architecture", 20); }
    else rstr(&r, k->empty_key ? "" : "general.architecture");
    ru32(&r, 8); rstr(&r, "llama");
    /* kv 1: u32 (or a bad type tag) */
    rstr(&r, "llama.block_count"); ru32(&r, k->vtype ? k->vtype : 4); ru32(&r, 2);
    /* kv 2: array of strings, or nested array */
    rstr(&r, "tokenizer.ggml.tokens"); ru32(&r, 9);
    if (k->nested) {
        ru32(&r, 9); ru64(&r, 1); ru32(&r, 4); ru64(&r, 1); ru32(&r, 5);
    } else {
        ru32(&r, k->elem_type ? k->elem_type : 8);
        ru64(&r, k->arr_count ? k->arr_count : 3);
        rstr(&r, "<unk>"); rstr(&r, "<s>"); rstr(&r, "</s>");
    }
    /* kv 3: float array */
    rstr(&r, "tokenizer.ggml.scores"); ru32(&r, 9); ru32(&r, 6); ru64(&r, 3);
    float sc[3] = {0, -1, -2}; rput(&r, sc, 12);
    if (k->dup_key) { rstr(&r, "llama.block_count"); ru32(&r, 4); ru32(&r, 3); }
    if (k->align_mode) {
        rstr(&r, "general.alignment");
        if (k->align_mode == 4) { ru32(&r, 5); ru32(&r, 32); }
        else { ru32(&r, 4); ru32(&r, k->align_mode == 1 ? 0 : k->align_mode == 2 ? 3 : k->align_mode == 5 ? 4 : 0x80000000u); }
    }
    /* tensor 0: F32 [8, 4] at 0; tensor 1: Q4_0 [32, 2] at 128 */
    rstr(&r, "a.weight");
    uint32_t nd = k->set_n_dims ? k->n_dims : 2;
    ru32(&r, nd);
    for (uint32_t d = 0; d < nd && d < 8; d++) ru64(&r, d == 0 ? (k->ne0 ? k->ne0 : 8) : d == 1 ? (k->ne1 ? k->ne1 : 4) : 1);
    ru32(&r, k->set_ttype ? (uint32_t)k->ttype : 0);
    ru64(&r, 0);
    rstr(&r, k->dup_tensor ? "a.weight" : "b.weight");
    ru32(&r, 2); ru64(&r, 32); ru64(&r, 2); ru32(&r, 2);
    ru64(&r, k->set_off1 ? k->off1 : 128);
    while (r.n % 32) rput(&r, "", 1);
    uint8_t data[128 + 36] = {0};
    rput(&r, data, sizeof data);
    if (k->truncate && k->truncate < r.n) r.n = k->truncate;
    return r;
}

static int expect_reject(const knobs *k, int via_cli)
{
    raw r = build(k);
    lv_error err = {{0}};
    int ok = 1;
    lv_set_alloc_limit(1 << 20);    /* nothing in a 500-byte file justifies more */
    lv_gguf *g = lv_gguf_open_memory(r.p, r.n, &err);
    lv_set_alloc_limit(0);
    if (g) {
        t_failf(__FILE__, __LINE__, "case '%s' was accepted", k->name);
        lv_gguf_close(g);
        ok = 0;
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        t_failf(__FILE__, __LINE__, "case '%s': no one-line message", k->name);
        ok = 0;
    }
    if (via_cli) {
        char path[512];
        snprintf(path, sizeof path, "%s/bad-%s.gguf", t_tmpdir(), k->name);
        for (char *c = path + strlen(t_tmpdir()) + 1; *c; c++) if (*c == ' ' || *c == '/') *c = '_';
        t_write_file(path, r.p, r.n);
        t_proc p;
        const char *argv[] = {"info", path, NULL};
        t_run(&p, NULL, 0, argv);
        char want[600];
        snprintf(want, sizeof want, "llava-eval: %s: ", path);
        T_CHECK(p.rc == 2, "case '%s': exit %d", k->name, p.rc);
        T_CHECK(strncmp(p.err, want, strlen(want)) == 0 && strchr(p.err, '\n') == p.err + p.err_len - 1,
                "case '%s': stderr '%s'", k->name, p.err);
        T_CHECK(p.seconds < 1.0, "case '%s' took %.2f s", k->name, p.seconds);
        T_CHECK(p.out_len == 0, "case '%s' printed to stdout", k->name);
        t_proc_free(&p);
        unlink(path);
    }
    free(r.p);
    return ok;
}

static void test_valid_template(void)
{
    knobs k = {.name = "valid"};
    raw r = build(&k);
    lv_error err;
    lv_gguf *g = lv_gguf_open_memory(r.p, r.n, &err);
    T_CHECK(g != NULL, "the template itself must load: %s", err.msg);
    if (g) {
        T_EQ_INT(lv_gguf_n_tensors(g), 2);
        T_EQ_INT(lv_gguf_n_kv(g), 4);
        lv_gguf_close(g);
    }
    free(r.p);
}

static void test_malformed_corpus(void)
{
    const knobs cases[] = {
        {.name = "bad magic", .magic_bad = 1},
        {.name = "version 1", .version = 1},
        {.name = "version 4", .version = 4},
        {.name = "version 0", .version = 0x7FFFFFFF},
        {.name = "byte-swapped", .version = 0x03000000},
        {.name = "n_tensors 2^63", .n_tensors = 1ull << 63},
        {.name = "n_tensors 2^64-1", .n_tensors = ~0ull},
        {.name = "n_kv 2^63", .n_kv = 1ull << 63},
        {.name = "n_kv 2^64-1", .n_kv = ~0ull},
        {.name = "n_kv one too many", .n_kv = 5},
        {.name = "n_tensors one too many", .n_tensors = 3},
        {.name = "key length 2^64-1", .keylen = ~0ull},
        {.name = "key length 2^32", .keylen = 1ull << 32},
        {.name = "key length past end", .keylen = 100000},
        {.name = "empty key", .empty_key = 1},
        {.name = "value type 13", .vtype = 13},
        {.name = "value type 999", .vtype = 999},
        {.name = "value type -1", .vtype = 0xFFFFFFFFu},
        {.name = "array element type 13", .elem_type = 13},
        {.name = "array count 2^62", .arr_count = 1ull << 62},
        {.name = "array count 2^64-1", .arr_count = ~0ull},
        {.name = "array count too big", .arr_count = 1000},
        {.name = "nested arrays", .nested = 1},
        {.name = "duplicate key", .dup_key = 1},
        {.name = "duplicate tensor", .dup_tensor = 1},
        {.name = "alignment 0", .align_mode = 1},
        {.name = "alignment 3", .align_mode = 2},
        {.name = "alignment 2^31", .align_mode = 3},
        {.name = "alignment as i32", .align_mode = 4},
        {.name = "alignment 4 (not a multiple of 8)", .align_mode = 5},
        {.name = "n_dims 0", .set_n_dims = 1, .n_dims = 0},
        {.name = "n_dims 5", .set_n_dims = 1, .n_dims = 5},
        {.name = "n_dims 255", .set_n_dims = 1, .n_dims = 255},
        {.name = "n_dims 2^32-1", .set_n_dims = 1, .n_dims = 0xFFFFFFFFu},
        {.name = "ne product overflow", .ne0 = 1ull << 40, .ne1 = 1ull << 40},
        {.name = "ne 2^63", .ne0 = 1ull << 63},
        {.name = "ne 2^64-1", .ne0 = ~0ull},
        {.name = "bytes overflow 64 bits", .ne0 = 1ull << 32, .ne1 = 1ull << 30},
        {.name = "nbytes wraps to 0", .ne0 = 1ull << 62, .ne1 = 4},
        {.name = "tensor past end", .ne0 = 8, .ne1 = 1000},
        {.name = "type 4 (removed)", .set_ttype = 1, .ttype = 4},
        {.name = "type 39", .set_ttype = 1, .ttype = 39},
        {.name = "type 999", .set_ttype = 1, .ttype = 999},
        {.name = "type -1", .set_ttype = 1, .ttype = -1},
        {.name = "type 36 (removed)", .set_ttype = 1, .ttype = 36},
        {.name = "ne0 not a block multiple", .set_ttype = 1, .ttype = 2, .ne0 = 8},
        {.name = "offset misaligned", .set_off1 = 1, .off1 = 129},
        {.name = "offset past end", .set_off1 = 1, .off1 = 4096},
        {.name = "offset 2^64-32", .set_off1 = 1, .off1 = ~0ull - 31},
        {.name = "overlapping tensors", .set_off1 = 1, .off1 = 96},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        knobs k = cases[i];
        n += expect_reject(&k, 1);
    }
    T_CHECK(n == (int)(sizeof cases / sizeof cases[0]), "%d of %zu rejected", n, sizeof cases / sizeof cases[0]);
    /* A zero dimension (the knobs use 0 as "default", so patch the bytes). */
    raw r = build(&(knobs){.name = "dim0"});
    uint8_t *pos = memmem(r.p, r.n, "a.weight", 8);
    memset(pos + 8 + 4, 0, 8);      /* after the name: n_dims (4 bytes), then ne[0] */
    lv_error err;
    lv_gguf *g = lv_gguf_open_memory(r.p, r.n, &err);
    T_CHECK(g == NULL && strstr(err.msg, "dimension 0 is 0"), "dimension 0: %s", g ? "accepted" : err.msg);
    lv_gguf_close(g);
    free(r.p);
}

/* Truncation at every byte up to the end of the tensor infos (in process), and
 * every tenth through the CLI. The full data section must be present. */
static void test_truncations(void)
{
    knobs k = {.name = "trunc"};
    raw full = build(&k);
    int bad = 0;
    for (size_t cut = 0; cut < full.n; cut++) {
        lv_error err;
        lv_gguf *g = lv_gguf_open_memory(full.p, cut, &err);
        if (g) { bad++; lv_gguf_close(g); }
    }
    T_CHECK(bad == 0, "%d truncations accepted", bad);
    for (size_t cut = 0; cut < full.n; cut += 37) {
        knobs kk = {.name = "trunc", .truncate = cut ? cut : 1};
        char nm[32];
        snprintf(nm, sizeof nm, "trunc%zu", cut);
        kk.name = nm;
        expect_reject(&kk, 1);
    }
    free(full.p);
}

/* Random byte flips of the valid template never crash (outcome either way). */
static void test_random_mutations(void)
{
    knobs k = {.name = "mut"};
    raw base = build(&k);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int accepted = 0;
    for (int it = 0; it < 20000; it++) {
        uint8_t *buf = malloc(base.n);
        memcpy(buf, base.p, base.n);
        for (int f = 0; f < 1 + it % 4; f++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            buf[(s >> 8) % base.n] = (uint8_t)(s >> 40);
        }
        lv_error err;
        lv_set_alloc_limit(1 << 20);
        lv_gguf *g = lv_gguf_open_memory(buf, base.n, &err);
        lv_set_alloc_limit(0);
        if (g) {
            accepted++;
            /* whatever was accepted must be consistent: every tensor inside the buffer */
            for (int64_t i = 0; i < lv_gguf_n_tensors(g); i++) {
                const lv_gguf_tensor *t = lv_gguf_tensor_at(g, i);
                T_CHECK((const uint8_t *)t->data >= buf && (const uint8_t *)t->data + t->nbytes <= buf + base.n, "tensor outside the file");
            }
            lv_gguf_close(g);
        }
        free(buf);
    }
    T_CHECK(accepted > 0 && accepted < 20000, "accepted %d of 20000 mutants", accepted);
    free(base.p);
}

/* Files from the filesystem: missing, a directory, empty. */
static void test_bad_paths(void)
{
    lv_error err;
    T_CHECK(lv_gguf_open("/nonexistent/x.gguf", &err) == NULL && strstr(err.msg, "cannot open"), "missing: %s", err.msg);
    T_CHECK(lv_gguf_open("/tmp", &err) == NULL, "directory");
    char path[256];
    snprintf(path, sizeof path, "%s/empty.gguf", t_tmpdir());
    t_write_file(path, "", 0);
    T_CHECK(lv_gguf_open(path, &err) == NULL && err.msg[0], "empty file");
    t_proc p;
    const char *argv[] = {"info", path, NULL};
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 2);
    t_proc_free(&p);
}

int main(void)
{
    T_RUN(test_valid_template);
    T_RUN(test_writer_roundtrip);
    T_RUN(test_vocab_file_short_tail);
    T_RUN(test_malformed_corpus);
    T_RUN(test_truncations);
    T_RUN(test_random_mutations);
    T_RUN(test_bad_paths);
    T_RUN(test_info_matches_independent_reader);
    T_MAIN_END();
}
