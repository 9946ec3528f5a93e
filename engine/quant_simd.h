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

#include "engine/quant.h"

/* Converted activations with per-block side data, built once per matmul. */
typedef struct {
    const uint8_t *q;        /* [n_tok][row_bytes] rows in the weight's vec_dot_type; for the
                                Q4_0 / Q8_0 x16 kernels the Q8_0 quants interleaved by tiles of
                                8 rows like f32 below: block b of row t is entry e = ts·nb +
                                b·w + t - ts, its quants at q + 32·e, its scale d[e], its sum
                                s1[e] */
    size_t         row_bytes;
    int64_t        nb;       /* blocks per row (32 values for Q8_0, 256 for Q8_K) */
    const float   *d;        /* [n_tok][nb] Q8_0 block scales as f32 (NULL for Q8_K; x16: see q) */
    const int32_t *s;        /* [n_tok][nb][8] Q8_0 blocks: the weight type's offset (8 for
                                Q4_0, 128 for Q8_0) × Σ of each 4 consecutive quants */
    const int32_t *s1;       /* [n_tok][nb] -(the same offset) × Σ of the block's 32 quants (x16: see q) */
    const float   *f32;      /* F16 rows as f32 (x16 path), interleaved by tiles of 8 rows so
                                that a tile's values of one column are adjacent: row t, value
                                k at [ts·n + k·w + t - ts], ts = t - t % 8, w = min(8, n_tok - ts) */
    const int32_t *kb;       /* Q8_K rows: [n_tok][nb][4] int16 pairs (b_2p, b_2p+1), b_s the
                                Σ of the 32 quants of sub-block s */
} lv_act;

/* y[c·ys + r] = dot(weight row r, activation row t0 + c) for r < nr, c < nc.
 *   n:  values per row; w: [nr rows][ws bytes]; y: f32 with row stride ys. */
typedef void (*lv_tile_fn)(int64_t n, const uint8_t *w, size_t ws, int nr, const lv_act *a,
                           int64_t t0, int nc, float *y, size_t ys);

/* Row-interleaved ("x16") weights, repacked once at load: 16 rows per group, and per
 * 32-value block of the group the 16 f16 scales, then the quants laid out so that
 * 32-bit lane i of a 512-bit register holds 4 consecutive quants of row i. One
 * vpdpbusd then advances 16 rows by 4 values with no horizontal sums, and the f32
 * arithmetic per row and block is the oracle's, in its order: the results are
 * bit-identical to lv_vec_dot() for the quantized types.
 *   Q4_0 group-block: d[16] f16, qs[4][16][4]: byte t of lane i of register j is
 *                     the file's qs[4j + t] of row i (low nibble value 4j+t, high 4j+t+16)
 *   Q8_0 group-block: d[16] f16, qs[8][16][4]: value 4j+t of row i, stored as q ^ 0x80
 *   Q4_K group-superblock: d[16], dmin[16] f16; sc[8][16] u8 (6-bit scale of sub-block
 *                     s, row i); mn[4][16][2] u8 (mins of sub-blocks 2p, 2p+1);
 *                     qs[4][8][16][4]: chunk c, register j, lane i = the file's
 *                     qs[32c + 4j … +3] of row i (low nibbles sub-block 2c, high 2c+1).
 *                     2368 bytes for 16 × 144 (2.8 % more than the file).
 *   Q6_K group-superblock: d[16] f16; sc[8][16][2] i8 (scales 2p, 2p+1 of row i);
 *                     ql[2 h][2 half][8 j][16][4] = the file's ql[64h + 32half + 4j …];
 *                     qh[2 h][8 j][16][4] = the file's qh[32h + 4j …]. 3360 = 16 × 210.
 *   F16 group:        [cols][16] f16 (value k of the 16 rows together); f32 sums in
 *                     two chains (even / odd k): not the oracle's order (it sums in
 *                     double), within f32 rounding of it.
 * y[c·ys + i] = dot(row i of the group at w, activation row t0 + c), i < 16, c < nc ≤ 8. */
typedef void (*lv_x16_fn)(int64_t n, const uint8_t *w, const lv_act *a, int64_t t0, int nc, float *y,
                          size_t ys);

/* The x16 kernel of a weight type (NULL: none; then it is not repacked). */
lv_x16_fn lv_simd_x16(int wtype);

/* Bytes of the x16 layout of rows × cols of `type` (0: no such layout). */
size_t lv_simd_x16_bytes(int type, int64_t rows, int64_t cols);

/* Repacks rows (a multiple of 16) × cols of `type` (row_bytes each) into dst
 * (lv_simd_x16_bytes). Plain C; valid for any type lv_simd_x16() accepts. */
void lv_simd_pack_x16(int type, const uint8_t *src, size_t row_bytes, int64_t rows, int64_t cols,
                      uint8_t *dst);

/* Activation rows for the x16 kernels, bit-identical to lv_quantize_act (quant.h) and
 * the side data matmul.c derives from it: n values of x to Q8_0 blocks y with d[nb]
 * (f32 scales), s4[nb][8] (off × sums of 4 quants), s1[nb] (-off × block sums); or to
 * Q8_K super-blocks with kb[nb][4] (lv_act.kb). Only when lv_simd_tiles_ok(). */
void lv_simd_act_q8_0(const float *x, int64_t n, lv_block_q8_0 *y, float *d, int32_t *s4, int32_t *s1,
                      int32_t off);
void lv_simd_act_q8_K(const float *x, int64_t n, lv_block_q8_K *y, int32_t *kb);
/* The same Q8_0 quants for the Q4_0 / Q8_0 x16 kernels, block i to qs + i·stride·32
 * with its f32 scale at d[i·stride] and -off × its sum at s1[i·stride] (lv_act.q). */
void lv_simd_act_q8_0_x16(const float *x, int64_t n, int8_t *qs, float *d, int32_t *s1, int64_t stride,
                          int32_t off);
/* F16 rows for the F16 x16 kernel: value i rounded to f16, as f32, at dst[i·stride]
 * (lv_act.f32). */
void lv_simd_act_f16_x16(const float *x, int64_t n, float *dst, int64_t stride);

/* 1 when the CPU runs the kernels below. */
int lv_simd_tiles_ok(void);

/* The tile kernel of a weight type, or NULL when it has none. */
lv_tile_fn lv_simd_tile(int wtype);

#endif
