/* tests/fuzz/fuzz_clip.c — fuzz target: the mmproj loader (every key and tensor
 * shape checked before use) and, on files it accepts that are small, one encode
 * of a synthetic image in one of the two modes. Seeds: tiny flat and anyres mmproj files
 * (image 28, patch 14, hidden 8). Built with libFuzzer by `make fuzz`; replayed
 * over tests/fuzz/corpus/clip by `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/clip.h"
#include "engine/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encode only with tiles of at most 32 px and grids of at most 2×2 tiles: larger ones
 * run the same code, and resizing into them (already fuzzed by fuzz_image) took most
 * of this target's time. */
static int small_grid(const lv_image_params *ip)
{
    for (int k = 0; k < ip->n_pinpoints; k++)
        if (ip->pinpoints[k][0] > 2 * ip->image_size || ip->pinpoints[k][1] > 2 * ip->image_size)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lv_error err;
    lv_gguf *g;
    /* Copy so that reads past the end hit the sanitizer's redzone. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    lv_set_alloc_limit((size_t)1 << 28);
    g = lv_gguf_open_memory(buf, size, &err);
    if (g) {
        lv_clip *c = lv_clip_load_gguf(g, &err);
        if (c) {
            const lv_clip_hparams *hp = lv_clip_get_hparams(c);
            if (hp->n_pos <= 65 && hp->n_embd <= 64 && hp->n_ff <= 256 && hp->n_layer <= 4 &&
                hp->proj_out <= 256 && hp->image_size <= 32 && small_grid(lv_clip_image_params(c))) {
                lv_image img;
                img.w = 40;
                img.h = 30;
                img.rgb = malloc(40 * 30 * 3);
                for (int i = 0; i < 40 * 30 * 3; i++) img.rgb[i] = (uint8_t)(i * 7);
                /* One preprocessing mode per input (by its length's parity): both stay
                 * covered, at half the cost of running both. */
                float *out = NULL;
                int n = 0;
                if (lv_clip_encode_image(c, &img, (size & 1) ? LV_IMAGE_LLAMACPP : LV_IMAGE_LLAVA, &out,
                                         &n, &err) == 0)
                    lv_free(out);
                free(img.rgb);
            }
            lv_clip_free(c);
        }
        lv_gguf_close(g);
    }
    lv_set_alloc_limit(0);
    free(buf);
    return 0;
}
