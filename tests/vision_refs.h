/* tests/vision_refs.h — helpers shared by test_image.c and test_clip.c (header
 * only, static functions): reading the tiny-llava reference folders
 * (shared/fixtures/tiny-llava/refs and refs-llava), their JSON records and raw
 * float32 dumps, and comparing float tensors with the summaries stored there.
 */
#ifndef LV_TEST_VISION_REFS_H
#define LV_TEST_VISION_REFS_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base.h"
#include "engine/image.h"
#include "tests/test.h"

#define VR_DIR "tiny-llava/"

/* A fixture file (relative to shared/fixtures), malloc'd and NUL-terminated, or NULL. */
static inline char *vr_read(const char *rel, size_t *len)
{
    const char *path = t_fixture(rel);
    *len = 0;
    return path ? t_read_file(path, len) : NULL;
}

/* Parsed JSON of a fixture file, or NULL. */
static inline cJSON *vr_json(const char *rel)
{
    size_t len;
    char *txt = vr_read(rel, &len);
    cJSON *j = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    return j;
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

/* The element of array `arr` whose string field `field` equals `id`. */
static inline const cJSON *vr_find(const cJSON *arr, const char *field, const char *id)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, arr) {
        const char *v = vr_str(r, field);
        if (v && strcmp(v, id) == 0) return r;
    }
    return NULL;
}

/* One reference case: its cases.json entry, its generation/text.json record and
 * the fixture-relative path of its image. */
typedef struct {
    const char  *id, *mmproj;
    const cJSON *entry, *rec;
    char         image[256];
} vr_ref_case;

typedef void (*vr_case_fn)(const vr_ref_case *rc, void *ctx);

/* Calls fn for every case of `refs` ("refs" or "refs-llava"), in cases.json order.
 * Returns the number of cases visited, or -1 when the folder is absent. */
static inline int vr_each_case(const char *refs, vr_case_fn fn, void *ctx)
{
    char rel[128];
    cJSON *cases, *gen;
    const cJSON *e;
    int n = 0;
    snprintf(rel, sizeof rel, VR_DIR "%s/cases.json", refs);
    cases = vr_json(rel);
    snprintf(rel, sizeof rel, VR_DIR "%s/generation/text.json", refs);
    gen = vr_json(rel);
    if (!cases || !gen) {
        cJSON_Delete(cases);
        cJSON_Delete(gen);
        return -1;
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cases, "cases")) {
        vr_ref_case rc;
        rc.id = vr_str(e, "id");
        rc.mmproj = vr_str(e, "mmproj");
        rc.entry = e;
        rc.rec = rc.id ? vr_find(cJSON_GetObjectItemCaseSensitive(gen, "results"), "case", rc.id) : NULL;
        if (!rc.rec || !rc.mmproj || !vr_str(e, "image")) {
            T_CHECK(0, "%s: case %s has no record", refs, rc.id ? rc.id : "?");
            continue;
        }
        snprintf(rc.image, sizeof rc.image, VR_DIR "%s", vr_str(e, "image"));
        fn(&rc, ctx);
        n++;
    }
    cJSON_Delete(cases);
    cJSON_Delete(gen);
    return n;
}

/* Raw float32 file (relative to shared/fixtures) into a malloc'd array. The
 * buffer from t_read_file comes from malloc, so it is suitably aligned. */
static inline float *vr_f32(const char *rel, size_t *n)
{
    size_t len;
    char *b = vr_read(rel, &len);
    *n = len / sizeof(float);
    return (float *)(void *)b;
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
