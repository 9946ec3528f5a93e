/* engine/f16lut.h — f16 → f32 by table lookup (65536 floats, filled once, thread-safe),
 * for kernels that widen many halves. Exact: the table holds lv_fp16_to_fp32(h). */
#ifndef LV_F16LUT_H
#define LV_F16LUT_H

#include <stdint.h>

extern float lv_f16_table_[65536];   /* valid once lv_f16_ready_ is set */
extern int lv_f16_ready_;
/* Fills the table (once) and returns it. */
const float *lv_f16_lut_init(void);

/* The table, filled on first use. */
static inline const float *lv_f16_lut(void)
{
    return __atomic_load_n(&lv_f16_ready_, __ATOMIC_ACQUIRE) ? lv_f16_table_ : lv_f16_lut_init();
}

#endif
