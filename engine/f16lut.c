/* engine/f16lut.c — the f16 → f32 table (see f16lut.h). */
#include "engine/f16lut.h"

#include <pthread.h>

#include "engine/quant.h"

float lv_f16_table_[65536];
int lv_f16_ready_;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void fill(void)
{
    for (uint32_t i = 0; i < 65536; i++) lv_f16_table_[i] = lv_fp16_to_fp32((uint16_t)i);
    __atomic_store_n(&lv_f16_ready_, 1, __ATOMIC_RELEASE);
}

const float *lv_f16_lut_init(void)
{
    pthread_once(&once, fill);
    return lv_f16_table_;
}
