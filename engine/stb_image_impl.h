/* engine/stb_image_impl.h — private to engine/image.c: the one entry point into the
 * hardened stb_image build in engine/stb_image_impl.c. Nothing else includes it.
 *
 * lv_stbi_decode() decodes a JPEG or PNG (the caller has checked the magic bytes)
 * into 8-bit RGB, forcing 3 channels. All of stb's memory comes from a per-call
 * arena capped at `mem_cap` bytes and freed whole on return, success or failure;
 * an STBI_ASSERT inside the decoder longjmps back here and becomes an error.
 * On success *rgb is a fresh lv_malloc buffer of w·h·3 bytes (caller frees).
 */
#ifndef LV_STB_IMAGE_IMPL_H
#define LV_STB_IMAGE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base.h"

/* Header only: dimensions and channel count, no pixel decoding. 0 ok, -1 error. */
int lv_stbi_info(const void *buf, size_t len, int *w, int *h, int *comp, lv_error *err);

/* Full decode. max_side and max_pixels are checked (again) before decoding. */
int lv_stbi_decode(const void *buf, size_t len, int max_side, uint64_t max_pixels,
                   size_t mem_cap, int *w, int *h, uint8_t **rgb, lv_error *err);

#endif
