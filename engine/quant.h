/* engine/quant.h — ggml tensor types: block layouts, fp16/bf16 conversion,
 * dequantization, the reference file quantizers, the runtime activation quantizers
 * and the scalar dot-product kernels (weight row · converted activation row).
 *
 * Everything here is the scalar reference: bit-exact with the spec in
 * gguf-quant-tokenizer.md §2–3 (compiled with -ffp-contract=off). Fast SIMD kernels
 * live in other files and are tested against these.
 *
 * Type ids are ggml's. A "row" is ne0 values; ne0 must be a multiple of the block
 * size. Functions take element counts n (a multiple of the block size).
 */
#ifndef LV_QUANT_H
#define LV_QUANT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LV_TYPE_F32 = 0, LV_TYPE_F16 = 1, LV_TYPE_Q4_0 = 2, LV_TYPE_Q4_1 = 3,
    LV_TYPE_Q5_0 = 6, LV_TYPE_Q5_1 = 7, LV_TYPE_Q8_0 = 8, LV_TYPE_Q8_1 = 9,
    LV_TYPE_Q2_K = 10, LV_TYPE_Q3_K = 11, LV_TYPE_Q4_K = 12, LV_TYPE_Q5_K = 13,
    LV_TYPE_Q6_K = 14, LV_TYPE_Q8_K = 15, LV_TYPE_IQ4_NL = 20, LV_TYPE_BF16 = 30,
    LV_TYPE_COUNT = 39
} lv_type;

#define LV_QK 32      /* values per block, legacy types */
#define LV_QK_K 256   /* values per super-block, K types */

/* Block layouts (packed; all fields little-endian; sizes pinned in quant.c). */
typedef struct { uint16_t d; uint8_t qs[16]; } lv_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } lv_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } lv_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } lv_block_q5_1;
typedef struct { uint16_t d; int8_t qs[32]; } lv_block_q8_0;
typedef struct { uint16_t d, s; int8_t qs[32]; } lv_block_q8_1;
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; } lv_block_q2_K;
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } lv_block_q3_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } lv_block_q4_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } lv_block_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } lv_block_q6_K;
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } lv_block_q8_K;
typedef struct { uint16_t d; uint8_t qs[16]; } lv_block_iq4_nl;

typedef struct {
    const char *name;       /* "Q4_0" */
    int   block;            /* values per block (0: not a valid type id) */
    int   bytes;            /* bytes per block */
    int   supported;        /* 1 if the engine can hold weights of this type */
    int   vec_dot_type;     /* activation format for its dot product */
} lv_type_traits;

/* Traits for a type id, or NULL for ids that are unknown, removed, or out of range. */
const lv_type_traits *lv_type_info(int type);
/* Type id by name (case-insensitive, "q4_0"), or -1. */
int lv_type_from_name(const char *name);
/* llama.cpp's general.file_type for a file whose weights are all of this type
 * (the "_S" code for K types), or -1 for a type no file is written in. */
int lv_type_file_type(int type);
/* Bytes of a row of ne0 values; -1 if ne0 is not a multiple of the block size. */
int lv_type_row_bytes(int type, uint64_t ne0, uint64_t *out);

/* Half precision. */
float    lv_fp16_to_fp32(uint16_t h);
uint16_t lv_fp32_to_fp16(float f);   /* round to nearest even */
float    lv_bf16_to_fp32(uint16_t h);
uint16_t lv_fp32_to_bf16(float f);   /* ggml's rounding, NaN kept quiet */

/* Dequantizes n values of a row of `type` (including F32/F16/BF16). Returns -1
 * for a type without a dequantizer. */
int lv_dequantize_row(int type, const void *src, float *dst, int64_t n);

/* Reference file quantizers (what llama-quantize writes without an imatrix), for
 * Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and F16/BF16/F32.
 * Returns -1 for an unsupported type. */
int lv_quantize_row_ref(int type, const float *src, void *dst, int64_t n);
/* The K types alone (engine/quant_k.c). */
int lv_quantize_row_ref_k(int type, const float *src, void *dst, int64_t n);

/* Runtime activation quantizers (llama.cpp x86 behaviour, §3.2). */
void lv_quantize_act_q8_0(const float *x, lv_block_q8_0 *y, int64_t n);
void lv_quantize_act_q8_1(const float *x, lv_block_q8_1 *y, int64_t n);
void lv_quantize_act_q8_K(const float *x, lv_block_q8_K *y, int64_t n);
/* Converts an activation row to `act_type` (F32 copy, F16, BF16, Q8_0, Q8_1, Q8_K).
 * dst needs lv_type_row_bytes(act_type, n) bytes. */
int lv_quantize_act(int act_type, const float *x, void *dst, int64_t n);

/* Scalar reference dot product of one weight row (type `wtype`, n values) with one
 * activation row already converted to that type's vec_dot_type (§3.3). */
float lv_vec_dot(int wtype, int64_t n, const void *w, const void *act);

#endif
