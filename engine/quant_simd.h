/* engine/quant_simd.h — SIMD tile kernels for the quantized matmul (engine-internal).
 *
 * A tile kernel computes a block of dot products at once: nr ≤ 4 consecutive weight
 * rows against nc ≤ 4 consecutive converted activation rows, so every weight block
 * is loaded and unpacked once per nc activation rows and every activation block once
 * per nr weight rows. Integer products are exact per block (VNNI vpdpbusd); only the
 * order of the float summation differs from the scalar oracle lv_vec_dot(). Each
 * output is computed by the same instruction sequence whatever nr and nc are, so a
 * result never depends on tiling, batching or thread count.
 *
 * Kernels are compiled with function-level target attributes and must only be called
 * when lv_simd_tiles_ok() is 1 (the CPU has AVX-512 F/BW/VL and VNNI).
 */
#ifndef LV_QUANT_SIMD_H
#define LV_QUANT_SIMD_H

#include <stddef.h>
#include <stdint.h>

/* Converted activations with per-block side data, built once per matmul. */
typedef struct {
    const uint8_t *q;        /* [n_tok][row_bytes] rows in the weight's vec_dot_type */
    size_t         row_bytes;
    int64_t        nb;       /* blocks per row (32 values for Q8_0, 256 for Q8_K) */
    const float   *d;        /* [n_tok][nb] Q8_0 block scales as f32 (NULL for Q8_K) */
    const int32_t *s;        /* [n_tok][nb][8] Q8_0 blocks: the weight type's offset (8 for
                                Q4_0, 128 for Q8_0) × Σ of each 4 consecutive quants */
} lv_act;

/* y[c·ys + r] = dot(weight row r, activation row t0 + c) for r < nr, c < nc.
 *   n:  values per row; w: [nr rows][ws bytes]; y: f32 with row stride ys. */
typedef void (*lv_tile_fn)(int64_t n, const uint8_t *w, size_t ws, int nr, const lv_act *a,
                           int64_t t0, int nc, float *y, size_t ys);

/* 1 when the CPU runs the kernels below. */
int lv_simd_tiles_ok(void);

/* The tile kernel of a weight type, or NULL when it has none. */
lv_tile_fn lv_simd_tile(int wtype);

#endif
