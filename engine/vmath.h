/* engine/vmath.h — vector math shared by the engine's AVX-512 paths (engine-internal).
 *
 * exp over 16 floats for softmax and SiLU: Cody-Waite reduction x = n·ln2 + r, a
 * degree-7 Taylor polynomial of e^r (|r| ≤ ln2/2, truncation 5e-9 relative), then
 * ×2^n by vscalefps, which handles overflow (inf) and underflow (0, subnormals). Within
 * 2 ulp of expf over [-104, 89] (tests/test_kernels.c measures it); inputs are clamped
 * to that range, so -inf gives 0 and +inf gives inf.
 */
#ifndef LV_VMATH_H
#define LV_VMATH_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define LV_TGT_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))

LV_TGT_AVX512 static inline __m512 lv_exp512(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(89.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* ln2 split so that n·hi is exact for |n| ≤ 2^8 */
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* 1 when the CPU runs LV_TGT_AVX512 code. */
static inline int lv_vmath_avx512_ok(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}
#endif

#endif
