/* engine/f16lut.c — the f16 → f32 table (see f16lut.h). */
#include "engine/f16lut.h"

#include <pthread.h>

#include "engine/quant.h"

static float table[65536];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void fill(void)
{
    for (uint32_t i = 0; i < 65536; i++) table[i] = lv_fp16_to_fp32((uint16_t)i);
}

const float *lv_f16_lut(void)
{
    pthread_once(&once, fill);
    return table;
}
