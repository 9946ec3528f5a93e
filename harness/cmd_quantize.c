/* harness/cmd_quantize.c — 'llava-eval quantize IN.gguf OUT.gguf TYPE': every 2-D
 * weight re-quantized to TYPE with the engine's reference quantizers (what
 * llama-quantize writes without an importance matrix); 1-D tensors (norms,
 * biases) and tensors whose rows do not divide into TYPE's blocks are kept. */
#include "harness/cli.h"

#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"
#include "engine/quant.h"

static const cli_opt opts[] = {
    {0, NULL, 0, NULL, NULL, NULL, 0, 0},
};

static const cli_spec spec = {
    "quantize", "quantize IN.gguf OUT.gguf TYPE",
    "Writes OUT with every 2-D weight re-quantized to TYPE (norms and biases stay F32).",
    "TYPE: F32, F16, BF16, Q8_0, Q5_1, Q5_0, Q4_1, Q4_0, Q6_K, Q5_K, Q4_K, Q3_K, Q2_K.\n"
    "Rows are widened to float32 and quantized with the reference routines, so an F16\n"
    "input gives the bytes llama-quantize would write for that type (no imatrix).\n"
    "Tensors whose rows are not a multiple of TYPE's block size stay as they are.\n"
    "OUT is written to a temporary file and renamed into place when complete.",
    opts,
};


int cmd_quantize(int argc, char **argv)
{
    char *pos[3];
    int npos, rc = CLI_FAILED;
    lv_error err = {{0}};
    lv_gguf *g = NULL;
    lv_gguf_writer *w = NULL;
    void **bufs = NULL;
    float *row = NULL;

    int prc = cli_parse(&spec, argc, argv, pos, 3, &npos);
    if (prc) return prc > 0 ? CLI_OK : CLI_USAGE;
    if (npos != 3) return cli_error("quantize", "expected IN.gguf OUT.gguf TYPE (see --help)");
    int type = lv_type_from_name(pos[2]);
    if (type < 0 || lv_type_file_type(type) < 0 || type == LV_TYPE_Q8_1 || type == LV_TYPE_Q8_K)
        return cli_error("quantize", "'%s' is not a type this tool can write (see --help)", pos[2]);
    if (strcmp(pos[0], pos[1]) == 0) return cli_error("quantize", "OUT must differ from IN");

    g = lv_gguf_open(pos[0], &err);
    if (!g) return cli_error(pos[0], "%s", err.msg);
    w = lv_gguf_writer_new();
    int64_t nt = lv_gguf_n_tensors(g);
    bufs = calloc((size_t)(nt ? nt : 1), sizeof *bufs);
    if (!w || !bufs) { rc = cli_error("quantize", "out of memory"); goto done; }

    for (int64_t i = 0; i < lv_gguf_n_kv(g); i++) {
        const char *key = lv_gguf_kv_key(g, i);
        if (strcmp(key, "general.file_type") == 0) continue;    /* rewritten below */
        if (lv_gguf_w_copy_kv(w, g, i, &err)) { rc = cli_error(pos[0], "%s", err.msg); goto done; }
    }
    int any_quant = 0;
    for (int64_t i = 0; i < nt; i++) {
        const lv_gguf_tensor *t = lv_gguf_tensor_at(g, i);
        int out_type = t->type;
        uint64_t row_bytes;
        if (t->n_dims >= 2 && lv_type_row_bytes(type, t->ne[0], &row_bytes) == 0) out_type = type;
        if (out_type == t->type) {
            if (lv_gguf_w_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, &err)) goto werr;
            continue;
        }
        uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3], in_row;
        lv_type_row_bytes(t->type, t->ne[0], &in_row);
        if (!(bufs[i] = malloc((size_t)(row_bytes * rows))) ||
            !(row = realloc(row, (size_t)t->ne[0] * sizeof *row))) {
            rc = cli_error("quantize", "out of memory");
            goto done;
        }
        for (uint64_t r = 0; r < rows; r++) {
            if (lv_dequantize_row(t->type, (const uint8_t *)t->data + r * in_row, row, (int64_t)t->ne[0]) ||
                lv_quantize_row_ref(type, row, (uint8_t *)bufs[i] + r * row_bytes, (int64_t)t->ne[0])) {
                rc = cli_error("quantize", "%s: cannot convert %s to %s", t->name,
                               lv_type_info(t->type)->name, lv_type_info(type)->name);
                goto done;
            }
        }
        if (lv_gguf_w_tensor(w, t->name, type, t->n_dims, t->ne, bufs[i], &err)) goto werr;
        any_quant |= type >= LV_TYPE_Q4_0 && type != LV_TYPE_BF16;
    }
    if (any_quant && lv_gguf_find_key(g, "general.quantization_version") < 0 &&
        lv_gguf_w_u32(w, "general.quantization_version", 2, &err))
        goto werr;
    if (lv_gguf_w_u32(w, "general.file_type", (uint32_t)lv_type_file_type(type), &err)) goto werr;
    if (lv_gguf_w_save(w, pos[1], &err)) { rc = cli_error(pos[1], "%s", err.msg); goto done; }
    rc = CLI_OK;
    goto done;
werr:
    rc = cli_error(pos[1], "%s", err.msg);
done:
    for (int64_t i = 0; bufs && i < nt; i++) free(bufs[i]);
    free(bufs);
    free(row);
    lv_gguf_writer_free(w);
    lv_gguf_close(g);
    return rc;
}
