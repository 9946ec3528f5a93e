/* harness/cmd_info.c — 'llava-eval info FILE.gguf [--json]': metadata and tensor table. */
#include "harness/cli.h"

#include <inttypes.h>
#include <string.h>

#include "engine/gguf.h"
#include "engine/quant.h"
#include "harness/jsonw.h"

static int opt_json;
static long opt_max_array = 8;

static const cli_opt opts[] = {
    {0, "json", CLI_FLAG, &opt_json, NULL, "one JSON object: version, metadata (arrays in full), tensors", 0, 0},
    {0, "max-array", CLI_INT, &opt_max_array, "N", "text output: array elements shown (default 8)", 0, 1e9},
    {0, NULL, 0, NULL, NULL, NULL, 0, 0},
};

static const cli_spec spec = {
    "info", "info FILE.gguf [--json]",
    "Shows a GGUF file's metadata and tensor table (name, type, shape, offset).",
    "The file is fully validated first; a malformed file is refused with one line and exit 2.",
    opts,
};

/* One array element or scalar of a fixed-size type, read from raw little-endian bytes. */
static void put_raw(FILE *f, lv_gguf_vtype t, const uint8_t *p, int json)
{
    switch (t) {
    case LV_GGUF_UINT8: fprintf(f, "%u", p[0]); break;
    case LV_GGUF_INT8: fprintf(f, "%d", (int8_t)p[0]); break;
    case LV_GGUF_BOOL: fputs(p[0] ? "true" : "false", f); break;
    case LV_GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); fprintf(f, "%u", v); break; }
    case LV_GGUF_INT16: { int16_t v; memcpy(&v, p, 2); fprintf(f, "%d", v); break; }
    case LV_GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); fprintf(f, "%" PRIu32, v); break; }
    case LV_GGUF_INT32: { int32_t v; memcpy(&v, p, 4); fprintf(f, "%" PRId32, v); break; }
    case LV_GGUF_UINT64: { uint64_t v; memcpy(&v, p, 8); fprintf(f, "%" PRIu64, v); break; }
    case LV_GGUF_INT64: { int64_t v; memcpy(&v, p, 8); fprintf(f, "%" PRId64, v); break; }
    case LV_GGUF_FLOAT32: { float v; memcpy(&v, p, 4); if (json) jw_f32(f, v); else fprintf(f, "%.9g", (double)v); break; }
    case LV_GGUF_FLOAT64: { double v; memcpy(&v, p, 8); if (json) jw_f64(f, v); else fprintf(f, "%.17g", v); break; }
    default: fputs("null", f);
    }
}

static const int vsize[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static void put_value(FILE *f, const lv_gguf *g, int64_t i, int json)
{
    lv_gguf_vtype t = lv_gguf_kv_type(g, i);
    const char *s;
    size_t n;
    if (t == LV_GGUF_STRING) {
        lv_gguf_kv_str(g, i, &s, &n);
        jw_str(f, s, n);
        return;
    }
    if (t != LV_GGUF_ARRAY) {
        /* Scalars: re-read through the typed getters. */
        int64_t iv; uint64_t uv; double dv; int bv;
        if (t == LV_GGUF_BOOL && lv_gguf_kv_bool(g, i, &bv) == 0) fputs(bv ? "true" : "false", f);
        else if (t == LV_GGUF_FLOAT32 && lv_gguf_kv_f64(g, i, &dv) == 0) { if (json) jw_f32(f, (float)dv); else fprintf(f, "%.9g", dv); }
        else if (t == LV_GGUF_FLOAT64 && lv_gguf_kv_f64(g, i, &dv) == 0) { if (json) jw_f64(f, dv); else fprintf(f, "%.17g", dv); }
        else if (lv_gguf_kv_i64(g, i, &iv) == 0) fprintf(f, "%" PRId64, iv);
        else if (lv_gguf_kv_u64(g, i, &uv) == 0) fprintf(f, "%" PRIu64, uv);
        else fputs("null", f);
        return;
    }
    lv_gguf_vtype et;
    uint64_t count;
    const void *data;
    lv_gguf_kv_arr(g, i, &et, &count, &data);
    uint64_t shown = json ? count : (count < (uint64_t)opt_max_array ? count : (uint64_t)opt_max_array);
    if (et == LV_GGUF_ARRAY) {   /* nested arrays are skipped by the reader */
        fprintf(f, json ? "null" : "[nested arrays, %" PRIu64 " elements]", count);
        return;
    }
    fputc('[', f);
    for (uint64_t j = 0; j < shown; j++) {
        if (j) fputs(json ? "," : ", ", f);
        if (et == LV_GGUF_STRING) {
            lv_gguf_kv_arr_str(g, i, j, &s, &n);
            jw_str(f, s, n);
        } else {
            put_raw(f, et, (const uint8_t *)data + j * (uint64_t)vsize[et], json);
        }
    }
    if (shown < count) fprintf(f, ", ... (%" PRIu64 " in all)", count);
    fputc(']', f);
}

static void shape_str(const lv_gguf_tensor *t, char *buf, size_t cap)
{
    size_t w = 0;
    for (int d = 0; d < t->n_dims && w < cap; d++)
        w += (size_t)snprintf(buf + w, cap - w, "%s%" PRIu64, d ? ", " : "", t->ne[d]);
}

int cmd_info(int argc, char **argv)
{
    char *pos[1];
    int npos;
    lv_error err = {{0}};
    int rc = cli_parse(&spec, argc, argv, pos, 1, &npos);
    if (rc) return rc > 0 ? CLI_OK : CLI_USAGE;
    if (npos != 1) return cli_error("info", "expected one GGUF file (see --help)");
    lv_gguf *g = lv_gguf_open(pos[0], &err);
    if (!g) return cli_error(pos[0], "%s", err.msg);

    FILE *f = stdout;
    if (opt_json) {
        fprintf(f, "{\"version\":%u,\"alignment\":%" PRIu64 ",\"data_offset\":%" PRIu64 ",\"metadata\":{",
                lv_gguf_version(g), lv_gguf_alignment(g), lv_gguf_data_offset(g));
        for (int64_t i = 0; i < lv_gguf_n_kv(g); i++) {
            if (i) fputc(',', f);
            jw_cstr(f, lv_gguf_kv_key(g, i));
            fputc(':', f);
            put_value(f, g, i, 1);
        }
        fputs("},\"tensors\":[", f);
        for (int64_t i = 0; i < lv_gguf_n_tensors(g); i++) {
            const lv_gguf_tensor *t = lv_gguf_tensor_at(g, i);
            fputs(i ? ",{\"name\":" : "{\"name\":", f);
            jw_cstr(f, t->name);
            fprintf(f, ",\"type\":\"%s\",\"shape\":[", lv_type_info(t->type)->name);
            for (int d = 0; d < t->n_dims; d++) fprintf(f, "%s%" PRIu64, d ? "," : "", t->ne[d]);
            fprintf(f, "],\"offset\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", t->offset, t->nbytes);
        }
        fputs("]}\n", f);
    } else {
        fprintf(f, "GGUF v%u, %" PRId64 " metadata keys, %" PRId64 " tensors, alignment %" PRIu64 ", data at %" PRIu64 "\n\n",
                lv_gguf_version(g), lv_gguf_n_kv(g), lv_gguf_n_tensors(g), lv_gguf_alignment(g), lv_gguf_data_offset(g));
        for (int64_t i = 0; i < lv_gguf_n_kv(g); i++) {
            lv_gguf_vtype t = lv_gguf_kv_type(g, i);
            fprintf(f, "%-48s %-4s ", lv_gguf_kv_key(g, i), lv_gguf_vtype_name(t));
            put_value(f, g, i, 0);
            fputc('\n', f);
        }
        if (lv_gguf_n_tensors(g)) fprintf(f, "\n%-40s %-6s %-24s %s\n", "tensor", "type", "shape", "offset");
        for (int64_t i = 0; i < lv_gguf_n_tensors(g); i++) {
            const lv_gguf_tensor *t = lv_gguf_tensor_at(g, i);
            char shape[128];
            shape_str(t, shape, sizeof shape);
            fprintf(f, "%-40s %-6s %-24s %" PRIu64 "\n", t->name, lv_type_info(t->type)->name, shape, t->offset);
        }
    }
    lv_gguf_close(g);
    return CLI_OK;
}
