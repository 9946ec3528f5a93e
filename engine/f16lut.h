/* engine/f16lut.h — f16 → f32 by table lookup (65536 floats, filled once, thread-safe),
 * for kernels that widen many halves. Exact: the table holds lv_fp16_to_fp32(h). */
#ifndef LV_F16LUT_H
#define LV_F16LUT_H

#include <stdint.h>

/* The table, filled on first use. */
const float *lv_f16_lut(void);

#endif
