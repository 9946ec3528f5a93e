/* harness/cmd_model.c — 'llava-eval model pack SPEC.json OUT.gguf [--vocab FILE]':
 * builds a GGUF file with the program's own writer from raw float32 tensors and a
 * JSON spec (what models/train/train.py exports), so trained weights reach the
 * engine in exactly the layout of real files.
 *
 * SPEC:
 *   {"data": "weights.bin",                 raw little-endian float32, relative to SPEC
 *    "kv": [[KEY, TYPE, VALUE], ...],       in file order; TYPE is str, u32, i32, f32,
 *                                           bool, f32[], i32[] or copy ("PREFIX*": every
 *                                           key of --vocab starting with PREFIX, in order)
 *    "tensors": [{"name", "type": "F32"|"F16", "ne": [ne0, ...], "offset": N}, ...]}
 *                                           offset counts floats from the start of data
 *
 * Every tensor's extent is checked against the data file before anything is written;
 * OUT is written to a temporary file and renamed into place when complete.
 */
#include "harness/cli.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"
#include "engine/quant.h"

/* ---- pack ---- */

static const char *pack_vocab;

static const cli_opt pack_opts[] = {
    {0, "vocab", CLI_STR, &pack_vocab, "FILE", "GGUF whose keys a \"copy\" row copies (a text model or vocab file)", 0, 0},
    {0, NULL, 0, NULL, NULL, NULL, 0, 0},
};

static const cli_spec pack_spec = {
    "model pack", "model pack SPEC.json OUT.gguf [--vocab FILE]",
    "Writes OUT.gguf from raw float32 tensors and a JSON spec.",
    "SPEC is {\"data\": FILE, \"kv\": [[KEY, TYPE, VALUE], ...], \"tensors\": [{\"name\",\n"
    "\"type\", \"ne\", \"offset\"}, ...]}. DATA (relative to SPEC) holds little-endian\n"
    "float32 values; a tensor's offset counts floats. TYPE of a key: str, u32, i32,\n"
    "f32, bool, f32[], i32[], or copy with KEY \"PREFIX*\" (the keys of --vocab that start\n"
    "with PREFIX, in their order). Tensor types: F32, or F16 (rounded to nearest even).\n"
    "Keys and tensors are written in the spec's order; OUT is replaced atomically.",
    pack_opts,
};

/* Reads a whole file into a malloc'd buffer (NUL-terminated); NULL with err set. */
static char *slurp(const char *path, size_t *len, lv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) { lv_errorf(err, "%s: cannot open", path); return NULL; }
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = lv_malloc((size_t)n + 1))) {
            if (fread(buf, 1, (size_t)n, f) == (size_t)n) {
                buf[n] = 0;
                *len = (size_t)n;
            } else {
                lv_free(buf);
                buf = NULL;
            }
        }
    }
    fclose(f);
    if (!buf) lv_errorf(err, "%s: cannot read", path);
    return buf;
}

static int add_kv(lv_gguf_writer *w, const cJSON *row, const lv_gguf *vocab, lv_error *err)
{
    const cJSON *k = cJSON_GetArrayItem(row, 0), *t = cJSON_GetArrayItem(row, 1), *v = cJSON_GetArrayItem(row, 2);
    if (!cJSON_IsArray(row) || !cJSON_IsString(k) || !cJSON_IsString(t))
        return lv_errorf(err, "a kv row must be [KEY, TYPE, VALUE]");
    const char *key = k->valuestring, *type = t->valuestring;
    if (strcmp(type, "copy") == 0) {
        size_t n = strlen(key);
        if (n == 0 || key[n - 1] != '*') return lv_errorf(err, "%s: a copy row's key is \"PREFIX*\"", key);
        if (!vocab) return lv_errorf(err, "%s: a copy row needs --vocab", key);
        int any = 0;
        for (int64_t i = 0; i < lv_gguf_n_kv(vocab); i++)
            if (strncmp(lv_gguf_kv_key(vocab, i), key, n - 1) == 0) {
                if (lv_gguf_w_copy_kv(w, vocab, i, err)) return -1;
                any = 1;
            }
        return any ? 0 : lv_errorf(err, "%s: no such key in --vocab", key);
    }
    if (strcmp(type, "str") == 0) {
        if (!cJSON_IsString(v)) return lv_errorf(err, "%s: value is not a string", key);
        return lv_gguf_w_str(w, key, v->valuestring, err);
    }
    if (strcmp(type, "bool") == 0) {
        if (!cJSON_IsBool(v)) return lv_errorf(err, "%s: value is not a boolean", key);
        return lv_gguf_w_bool(w, key, cJSON_IsTrue(v), err);
    }
    if (strcmp(type, "u32") == 0 || strcmp(type, "i32") == 0 || strcmp(type, "f32") == 0) {
        if (!cJSON_IsNumber(v)) return lv_errorf(err, "%s: value is not a number", key);
        double d = v->valuedouble;
        if (type[0] == 'f') return lv_gguf_w_f32(w, key, (float)d, err);
        if (d != floor(d) || (type[0] == 'u' ? d < 0 || d > 4294967295.0 : d < -2147483648.0 || d > 2147483647.0))
            return lv_errorf(err, "%s: %g does not fit %s", key, d, type);
        return type[0] == 'u' ? lv_gguf_w_u32(w, key, (uint32_t)d, err) : lv_gguf_w_i32(w, key, (int32_t)d, err);
    }
    if (strcmp(type, "f32[]") == 0 || strcmp(type, "i32[]") == 0) {
        int n = cJSON_GetArraySize(v);
        if (!cJSON_IsArray(v) || n == 0) return lv_errorf(err, "%s: value is not a non-empty array", key);
        union { float f; int32_t i; } *vals = lv_malloc((size_t)n * sizeof *vals);
        if (!vals) return lv_errorf(err, "out of memory");
        int i = 0, rc;
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            if (!cJSON_IsNumber(e)) { lv_free(vals); return lv_errorf(err, "%s: element %d is not a number", key, i); }
            if (type[0] == 'f') vals[i].f = (float)e->valuedouble;
            else vals[i].i = (int32_t)e->valuedouble;
        }
        rc = lv_gguf_w_arr(w, key, type[0] == 'f' ? LV_GGUF_FLOAT32 : LV_GGUF_INT32, vals, (uint64_t)n, err);
        lv_free(vals);
        return rc;
    }
    return lv_errorf(err, "%s: unknown type '%s'", key, type);
}

/* Converts one tensor row of the spec; *buf receives its bytes (caller frees). */
static int add_tensor(lv_gguf_writer *w, const cJSON *t, const float *data, uint64_t n_floats,
                      void **buf, lv_error *err)
{
    const cJSON *name = cJSON_GetObjectItem(t, "name"), *type = cJSON_GetObjectItem(t, "type");
    const cJSON *ne = cJSON_GetObjectItem(t, "ne"), *off = cJSON_GetObjectItem(t, "offset");
    if (!cJSON_IsString(name) || !cJSON_IsString(type) || !cJSON_IsArray(ne) || !cJSON_IsNumber(off))
        return lv_errorf(err, "a tensor needs name, type, ne and offset");
    int nd = cJSON_GetArraySize(ne);
    if (nd < 1 || nd > 4) return lv_errorf(err, "%s: 1 to 4 dimensions", name->valuestring);
    uint64_t dims[4], count = 1;
    for (int i = 0; i < nd; i++) {
        const cJSON *e = cJSON_GetArrayItem(ne, i);
        if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > 1e12 || e->valuedouble != floor(e->valuedouble))
            return lv_errorf(err, "%s: bad ne[%d]", name->valuestring, i);
        dims[i] = (uint64_t)e->valuedouble;
        if (lv_mul_u64(count, dims[i], &count)) return lv_errorf(err, "%s: too large", name->valuestring);
    }
    double o = off->valuedouble;
    if (o < 0 || o != floor(o) || (uint64_t)o > n_floats || count > n_floats - (uint64_t)o)
        return lv_errorf(err, "%s: offset %.0f + %llu floats runs past the data file (%llu floats)",
                         name->valuestring, o, (unsigned long long)count, (unsigned long long)n_floats);
    const float *src = data + (uint64_t)o;
    int lt;
    if (strcmp(type->valuestring, "F32") == 0) {
        lt = LV_TYPE_F32;
        float *d = lv_malloc(count * sizeof *d);
        if (!d) return lv_errorf(err, "out of memory");
        memcpy(d, src, count * sizeof *d);
        *buf = d;
    } else if (strcmp(type->valuestring, "F16") == 0) {
        lt = LV_TYPE_F16;
        uint16_t *d = lv_malloc(count * sizeof *d);
        if (!d) return lv_errorf(err, "out of memory");
        for (uint64_t i = 0; i < count; i++) d[i] = lv_fp32_to_fp16(src[i]);
        *buf = d;
    } else {
        return lv_errorf(err, "%s: type must be F32 or F16", name->valuestring);
    }
    return lv_gguf_w_tensor(w, name->valuestring, lt, nd, dims, *buf, err);
}

static int model_pack(int argc, char **argv)
{
    char *pos[2];
    int npos, rc = CLI_FAILED;
    lv_error err = {{0}};
    char *spec_text = NULL, *data = NULL, *data_path = NULL;
    size_t spec_len = 0, data_len = 0;
    cJSON *spec = NULL;
    lv_gguf *vocab = NULL;
    lv_gguf_writer *w = NULL;
    void **bufs = NULL;
    int n_tensors = 0;

    pack_vocab = NULL;
    int prc = cli_parse(&pack_spec, argc, argv, pos, 2, &npos);
    if (prc) return prc > 0 ? CLI_OK : CLI_USAGE;
    if (npos != 2) return cli_error("model pack", "expected SPEC.json OUT.gguf (see --help)");

    if (!(spec_text = slurp(pos[0], &spec_len, &err))) { rc = cli_error("model pack", "%s", err.msg); goto done; }
    spec = cJSON_Parse(spec_text);
    const cJSON *jdata = cJSON_GetObjectItem(spec, "data"), *kv = cJSON_GetObjectItem(spec, "kv");
    const cJSON *tens = cJSON_GetObjectItem(spec, "tensors");
    if (!spec || !cJSON_IsString(jdata) || !cJSON_IsArray(kv) || !cJSON_IsArray(tens)) {
        rc = cli_error(pos[0], "not a pack spec (needs data, kv and tensors)");
        goto done;
    }
    /* data is relative to the spec's folder */
    const char *slash = strrchr(pos[0], '/');
    size_t dir_len = slash && jdata->valuestring[0] != '/' ? (size_t)(slash - pos[0] + 1) : 0;
    data_path = lv_malloc(dir_len + strlen(jdata->valuestring) + 1);
    if (!data_path) { rc = cli_error("model pack", "out of memory"); goto done; }
    memcpy(data_path, pos[0], dir_len);
    strcpy(data_path + dir_len, jdata->valuestring);
    if (!(data = slurp(data_path, &data_len, &err))) { rc = cli_error("model pack", "%s", err.msg); goto done; }
    if (data_len % 4) { rc = cli_error(data_path, "size is not a multiple of 4 bytes"); goto done; }
    if (pack_vocab && !(vocab = lv_gguf_open(pack_vocab, &err))) { rc = cli_error(pack_vocab, "%s", err.msg); goto done; }

    w = lv_gguf_writer_new();
    n_tensors = cJSON_GetArraySize(tens);
    bufs = lv_calloc((size_t)(n_tensors ? n_tensors : 1), sizeof *bufs);
    if (!w || !bufs) { rc = cli_error("model pack", "out of memory"); goto done; }
    for (const cJSON *row = kv->child; row; row = row->next)
        if (add_kv(w, row, vocab, &err)) { rc = cli_error(pos[0], "%s", err.msg); goto done; }
    int i = 0;
    for (const cJSON *t = tens->child; t; t = t->next, i++)
        if (add_tensor(w, t, (const float *)data, data_len / 4, &bufs[i], &err)) {
            rc = cli_error(pos[0], "%s", err.msg);
            goto done;
        }
    if (lv_gguf_w_save(w, pos[1], &err)) { rc = cli_error(pos[1], "%s", err.msg); goto done; }
    rc = CLI_OK;
done:
    if (bufs)
        for (int j = 0; j < n_tensors; j++) lv_free(bufs[j]);
    lv_free(bufs);
    lv_gguf_writer_free(w);
    lv_gguf_close(vocab);
    cJSON_Delete(spec);
    lv_free(spec_text);
    lv_free(data);
    lv_free(data_path);
    return rc;
}

/* ---- dispatch ---- */

static const cli_sub subs[] = {
    {"pack", model_pack, "write a GGUF file from raw float32 tensors and a JSON spec"},
    {"synth", cmd_model_synth, "random weights with the shapes and keys of a real file (cmd_synth.c)"},
};

int cmd_model(int argc, char **argv)
{
    return cli_dispatch("model", "Build model files.", subs, sizeof subs / sizeof subs[0], argc, argv);
}
