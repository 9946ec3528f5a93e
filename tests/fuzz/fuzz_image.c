/* tests/fuzz/fuzz_image.c — fuzz target: the image decoder (hardened stb_image),
 * and on images it accepts, --resolution reduction and both preprocessing modes
 * for a flat (1.5) and an anyres (1.6) model, scaled down to 28-pixel tiles so an
 * input runs in milliseconds. Built with libFuzzer by `make fuzz`; replayed over
 * tests/fuzz/corpus/image by `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/image.h"
#include "engine/stb_image_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int pins[4][2] = { { 28, 56 }, { 56, 28 }, { 56, 56 }, { 84, 28 } };
    lv_image_params p;
    lv_image img, small;
    lv_error err;
    /* Copy so that reads past the end hit the sanitizer's redzone. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    /* Headers over 96×96 pixels are parsed (lv_stbi_info) but not decoded: the decode
     * loops are the same at any size (a 96×96 JPEG already has 36 MCUs), and decoding
     * inputs up to a megapixel held the instrumented fuzzer near 140 inputs a second (94 %
     * of it in stb's decode, by perf); the size caps themselves are tested in test_image. */
    int iw = 0, ih = 0, comp = 0;
    if (lv_stbi_info(buf, size, &iw, &ih, &comp, &err) == 0 && (int64_t)iw * ih > 96 * 96) {
        free(buf);
        return 0;
    }
    if (lv_image_decode(buf, size, &img, &err) == 0) {
        memset(&p, 0, sizeof p);
        p.image_size = 28;
        p.patch_size = 14;
        for (int c = 0; c < 3; c++) { p.mean[c] = 0.5f; p.std[c] = 0.25f; }
        /* Reduction (to a 40-pixel longer side, so most images are reduced) and both
         * preprocessing modes; their pixel loops are the same at any size. */
        if (lv_image_reduce(&img, 40, &small, &err) == 0) {
            for (int anyres = 0; anyres < 2; anyres++) {
                p.spatial_unpad = anyres;
                p.n_pinpoints = anyres ? 4 : 0;
                memcpy(p.pinpoints, pins, sizeof pins);
                for (int m = 0; m < 2; m++) {
                    lv_image_batch b;
                    if (lv_image_preprocess(&small, &p, m ? LV_IMAGE_LLAMACPP : LV_IMAGE_LLAVA, &b,
                                            &err) == 0)
                        lv_image_batch_free(&b);
                }
            }
            lv_image_free(&small);
        }
        lv_image_free(&img);
    }
    free(buf);
    return 0;
}
