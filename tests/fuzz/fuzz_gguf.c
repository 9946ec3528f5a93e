/* tests/fuzz/fuzz_gguf.c — fuzz target: the GGUF reader, and on files it accepts,
 * every metadata getter, the tensor table and the tokenizer built from them.
 * Built with libFuzzer by `make fuzz`; replayed over its corpus by `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"
#include "engine/quant.h"
#include "engine/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lv_error err;
    /* Copy so that reads past the end hit the sanitizer's redzone. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    lv_set_alloc_limit((size_t)1 << 28);
    lv_gguf *g = lv_gguf_open_memory(buf, size, &err);
    if (g) {
        for (int64_t i = 0; i < lv_gguf_n_kv(g); i++) {
            int64_t iv; uint64_t uv; double dv; int bv; const char *s; size_t n;
            lv_gguf_vtype et; uint64_t count; const void *p;
            lv_gguf_kv_i64(g, i, &iv);
            lv_gguf_kv_u64(g, i, &uv);
            lv_gguf_kv_f64(g, i, &dv);
            lv_gguf_kv_bool(g, i, &bv);
            lv_gguf_kv_str(g, i, &s, &n);
            if (lv_gguf_kv_arr(g, i, &et, &count, &p) == 0 && et == LV_GGUF_STRING)
                for (uint64_t j = 0; j < count && j < 64; j++) lv_gguf_kv_arr_str(g, i, j, &s, &n);
        }
        for (int64_t i = 0; i < lv_gguf_n_tensors(g); i++) {
            const lv_gguf_tensor *t = lv_gguf_tensor_at(g, i);
            float row[512];
            /* dequantize the first row (when short enough): touches the payload */
            if (t->ne[0] <= 512) lv_dequantize_row(t->type, t->data, row, (int64_t)t->ne[0]);
        }
        lv_tokenizer *t = lv_tok_load(g, &err);
        if (t) {
            static const char text[] = "Hello <s> world</s>\n\xF0\x9F\xA4\x96 \xFF ";
            int32_t *ids;
            int64_t n;
            if (lv_tok_encode(t, text, sizeof text - 1, 1, 1, &ids, &n, &err) == 0) {
                size_t len;
                char *back = lv_tok_decode(t, ids, n, 1, 1, &len, &err);
                lv_free(back);
                lv_free(ids);
            }
            lv_tok_free(t);
        }
        lv_gguf_close(g);
    }
    lv_set_alloc_limit(0);
    free(buf);
    return 0;
}
