/* engine/matmul.h — y = W·x for a weight matrix of any supported tensor type.
 *
 * A weight is a view (lv_mat) of `rows` rows of `cols` values each, stored in one of
 * the ggml types, typically pointing into a GGUF mapping. lv_matmul() follows
 * llama.cpp's CPU numerics (gguf-quant-tokenizer.md §3): every activation row is
 * converted once to the weight type's vec_dot_type (F16, BF16, Q8_0, Q8_1, Q8_K or
 * F32), then each output element is one lv_vec_dot() of a weight row with a
 * converted activation row. Results do not depend on the thread count or on how
 * many activation rows are passed together.
 *
 * Kernels are chosen per type through a table (matmul.c: `kernels`), so a SIMD
 * version of one type's dot product slots in as one row. Q4_0, Q8_0, Q4_K and Q6_K
 * go through AVX-512 VNNI tile kernels (quant_simd.h: 4 weight rows × up to 4
 * activation rows per pass) when the CPU has them; those change only the order of
 * the float summation, identically for every tiling. Threads come from the engine
 * pool (pool.h).
 *
 * The caller owns every buffer; lv_matmul() allocates nothing.
 */
#ifndef LV_MATMUL_H
#define LV_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base.h"

typedef struct {
    int         type;       /* lv_type of the stored values */
    int64_t     cols;       /* values per row (ggml ne0): the input dimension */
    int64_t     rows;       /* rows (ggml ne1): the output dimension */
    size_t      row_bytes;  /* bytes per stored row */
    const void *data;       /* rows × row_bytes, not owned; or the x16 layout */
    int         packed;     /* 1: data is row-interleaved (quant_simd.h, lv_mat_pack) */
} lv_mat;

/* Fills m for a weight of `type` with ne = [cols, rows] at data. Fails when the type
 * has no dot kernel or cols is not a multiple of its block size. */
int lv_mat_init(lv_mat *m, int type, int64_t cols, int64_t rows, const void *data, lv_error *err);

/* Bytes of m repacked into the x16 layout (quant_simd.h), or 0 when m's type or shape
 * has no x16 kernel, SIMD is off, or m is packed already (Q4_0, Q8_0: the original
 * size; Q4_K: 2.8 % more). */
size_t lv_mat_pack_bytes(const lv_mat *m);
/* Repacks m into dst (lv_mat_pack_bytes(m) bytes, owned by the caller, who keeps it
 * alive while m is used) and points m at it. */
void lv_mat_pack(lv_mat *m, void *dst);
/* The same in steps, so a loader can drop each slice's source pages as it goes: rows
 * r0 … r0+nr-1 (r0 a multiple of 16; nr too, or the rest) into their place in dst,
 * m unchanged; then lv_mat_use_packed() points m at dst. */
void lv_mat_pack_rows(const lv_mat *m, void *dst, int64_t r0, int64_t nr);
void lv_mat_use_packed(lv_mat *m, void *dst);

/* SIMD kernels are used when the CPU has them (and $LV_NO_SIMD is unset); 0 forces
 * the scalar reference everywhere, 1 returns to automatic choice. Not thread-safe:
 * call before matmuls start. */
void lv_matmul_set_simd(int on);
/* 1 when SIMD kernels are in use (x86-64 with AVX2, FMA and F16C, $LV_NO_SIMD unset):
 * other modules use it to pick their own SIMD paths consistently. */
int lv_matmul_simd(void);

/* 1 when the engine can multiply weights of this type. */
int lv_matmul_type_ok(int type);

/* Bytes of scratch lv_matmul() needs for n_tok activation rows of `cols` values
 * against weights of `type` (0 on error). */
size_t lv_matmul_scratch_bytes(int type, int64_t cols, int64_t n_tok);

/* y[t][o] = Σ_i W[o][i]·x[t][i] for t < n_tok, o < W->rows.
 *   x:       [n_tok][W->cols] f32
 *   y:       [n_tok][W->rows] f32 (must not alias x)
 *   scratch: lv_matmul_scratch_bytes(W->type, W->cols, n_tok) bytes
 *   n_threads: 1 = this thread only; more splits the output rows.
 * Returns 0, or -1 when the activation conversion fails (unsupported type). */
int lv_matmul(const lv_mat *W, const float *x, float *y, int64_t n_tok, void *scratch,
              int n_threads);

/* Several weights applied to one input: y_i = W_i·x for i < nw. When all have the same
 * type, cols and packing (q, k, v; gate, up) x is converted once and one dispatch splits
 * their rows; otherwise they run one by one. Each output is what lv_matmul() gives. */
int lv_matmul_n(const lv_mat *const *W, int nw, const float *x, float *const *y, int64_t n_tok, void *scratch,
                int n_threads);

#endif
