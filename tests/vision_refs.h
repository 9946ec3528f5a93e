/* tests/vision_refs.h — helpers shared by test_image.c and test_clip.c (header
 * only, static functions): reading the tiny-llava reference folders
 * (shared/fixtures/tiny-llava/refs and refs-llava), their JSON records and raw
 * float32 dumps, and comparing float tensors with the summaries stored there.
 */
#ifndef LV_TEST_VISION_REFS_H
#define LV_TEST_VISION_REFS_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base.h"
#include "engine/image.h"
#include "tests/test.h"

#define VR_DIR "tiny-llava/"

/* Parsed JSON of a fixture file (relative to shared/fixtures), or NULL. */
static inline cJSON *vr_json(const char *rel)
{
    const char *path = t_fixture(rel);
    size_t len;
    char *txt;
    cJSON *j;
    if (!path) return NULL;
    txt = t_read_file(path, &len);
    if (!txt) return NULL;
    j = cJSON_Parse(txt);
    free(txt);
    return j;
}

/* The record of case `id` in a generation JSON ({"results": [...]}). */
static inline const cJSON *vr_case(const cJSON *gen, const char *id)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(gen, "results")) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "case");
        if (cJSON_IsString(c) && strcmp(c->valuestring, id) == 0) return r;
    }
    return NULL;
}

/* The entry of case `id` in a cases.json ({"cases": [...]}). */
static inline const cJSON *vr_case_of(const cJSON *cases, const char *id)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(cases, "cases")) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "id");
        if (cJSON_IsString(c) && strcmp(c->valuestring, id) == 0) return r;
    }
    return NULL;
}

static inline const char *vr_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline double vr_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Raw float32 file (relative to shared/fixtures) into a malloc'd array. */
static inline float *vr_f32(const char *rel, size_t *n)
{
    const char *path = t_fixture(rel);
    size_t len;
    char *b;
    float *f;
    *n = 0;
    if (!path) return NULL;
    b = t_read_file(path, &len);
    if (!b) return NULL;
    f = malloc(len ? len : 1);
    memcpy(f, b, len);
    free(b);
    *n = len / sizeof(float);
    return f;
}

/* Decodes a fixture image with the engine's decoder. */
static inline int vr_image(const char *rel, lv_image *img)
{
    const char *path = t_fixture(rel);
    lv_error err;
    if (!path) return -1;
    if (lv_image_load(path, img, &err)) {
        T_CHECK(0, "decode %s: %s", rel, err.msg);
        return -1;
    }
    return 0;
}

/* The preprocessing parameters of the two tiny mmproj files (README values), so
 * the image tests do not depend on engine/clip. */
static inline lv_image_params vr_params(const char *mmproj)
{
    static const int pins[5][2] = { {336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008} };
    lv_image_params p;
    int i;
    memset(&p, 0, sizeof p);
    p.image_size = 336;
    p.patch_size = 14;
    p.mean[0] = 0.48145466f; p.mean[1] = 0.4578275f; p.mean[2] = 0.40821073f;
    p.std[0] = 0.26862954f; p.std[1] = 0.26130258f; p.std[2] = 0.27577711f;
    if (strstr(mmproj, "anyres")) {
        p.spatial_unpad = 1;
        p.n_pinpoints = 5;
        for (i = 0; i < 5; i++) { p.pinpoints[i][0] = pins[i][0]; p.pinpoints[i][1] = pins[i][1]; }
    }
    return p;
}

/* Stats of n floats: mean and population std in double, min, max. */
typedef struct { double mean, std, min, max; } vr_stats;

static inline vr_stats vr_stats_of(const float *x, size_t n)
{
    vr_stats s = { 0, 0, INFINITY, -INFINITY };
    double sum = 0, sq = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] < s.min) s.min = x[i];
        if (x[i] > s.max) s.max = x[i];
    }
    s.mean = sum / (double)n;
    for (i = 0; i < n; i++) sq += ((double)x[i] - s.mean) * ((double)x[i] - s.mean);
    s.std = sqrt(sq / (double)n);
    return s;
}

/* Compares x[0..n) with a JSON float list exactly (the lists hold 9 significant
 * digits, enough to round-trip a float). Returns the number of mismatches. */
static inline int vr_exact_list(const float *x, size_t n, const cJSON *list, const char *what)
{
    int bad = 0;
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, list) {
        if (i >= n) break;
        if ((float)v->valuedouble != x[i]) {
            if (bad < 3) T_CHECK(0, "%s[%zu] = %.9g, expected %.9g", what, i, x[i], v->valuedouble);
            bad++;
        }
        i++;
    }
    if (i == 0) T_CHECK(0, "%s: empty reference list", what);
    return bad;
}

/* Largest |x[i] − list[i]|. */
static inline double vr_maxdiff_list(const float *x, size_t n, const cJSON *list)
{
    double m = 0;
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, list) {
        double d;
        if (i >= n) break;
        d = fabs((double)x[i] - v->valuedouble);
        if (d > m) m = d;
        i++;
    }
    return m;
}

#endif
