/* datasets/import_coco.c — COCO captions + instances to a caption suite whose samples
 * carry the ground-truth object set of each image (what CHAIR compares against). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/import.h"

#define MAX_CAPTIONS 16
#define MAX_OBJECTS  80   /* COCO has 80 categories */

typedef struct {
    long long   id;
    const char *file;
    const char *captions[MAX_CAPTIONS];
    int         n_captions;
    uint8_t     has[MAX_OBJECTS];   /* by category slot */
} coco_image;

static int cmp_image(const void *a, const void *b)
{
    long long x = ((const coco_image *)a)->id, y = ((const coco_image *)b)->id;
    return x < y ? -1 : x > y;
}

static coco_image *find_image(coco_image *v, size_t n, long long id)
{
    coco_image key = {.id = id};
    return bsearch(&key, v, n, sizeof *v, cmp_image);
}

/* Overwrites the value of every member named key (at any depth) with spaces and a 0,
 * before parsing: instances_val2014.json is mostly "segmentation" polygons, which
 * CHAIR does not need and which would cost cJSON over a gigabyte. Returns the number
 * of values blanked; the text stays the same length and valid JSON. */
static long blank_member(char *t, size_t len, const char *key)
{
    size_t kl = strlen(key), i = 0;
    long n = 0;
    while (i < len) {
        if (t[i] != '"') { i++; continue; }
        /* A string: find its end, then see whether it is our key followed by ':'. */
        size_t start = ++i;
        while (i < len && t[i] != '"') i += t[i] == '\\' ? 2 : 1;
        if (i >= len) break;
        int match = i - start == kl && memcmp(t + start, key, kl) == 0;
        i++;
        size_t j = i;
        while (j < len && strchr(" \t\r\n", t[j])) j++;
        if (!match || j >= len || t[j] != ':') continue;
        j++;
        while (j < len && strchr(" \t\r\n", t[j])) j++;
        if (j >= len || (t[j] != '[' && t[j] != '{')) continue;
        /* Blank a bracketed value, skipping brackets inside strings. */
        size_t v = j;
        int depth = 0, in_str = 0;
        for (; j < len; j++) {
            char ch = t[j];
            if (in_str) {
                if (ch == '\\') j++;
                else if (ch == '"') in_str = 0;
                continue;
            }
            if (ch == '"') in_str = 1;
            else if (ch == '[' || ch == '{') depth++;
            else if ((ch == ']' || ch == '}') && --depth == 0) break;
        }
        if (j >= len) break;   /* unbalanced: leave it for the parser to reject */
        memset(t + v, ' ', j + 1 - v);
        t[v] = '0';
        i = j + 1;
        n++;
    }
    return n;
}

/* Reads and parses a COCO JSON file without its segmentation polygons. */
static cJSON *parse_coco(const char *path, lv_error *err)
{
    size_t len;
    lv_error e2;
    char *text = suite_read_file(path, SUITE_IMPORT_JSON_CAP, &len, err);
    cJSON *j;
    if (!text) return NULL;
    blank_member(text, len, "segmentation");
    j = suite_parse_json(text, len, &e2);
    lv_free(text);
    if (!j) lv_errorf(err, "%s: %s", path, e2.msg);
    return j;
}

int suite_import_coco(suite_import_ctx *c, const char *const *srcs, int n, char *summary, lv_error *err)
{
    cJSON *doc[2] = {NULL, NULL}, *caps = NULL, *inst = NULL;
    coco_image *img = NULL;
    const cJSON *e;
    struct { long long id; const char *name; } cats[MAX_OBJECTS];
    int n_cats = 0, rc = -1;
    size_t n_img = 0;
    long n_caps = 0, n_objs = 0;
    if (n != 2) return lv_errorf(err, "coco-captions: give captions_val2014.json and instances_val2014.json");
    for (int i = 0; i < 2; i++) {
        if (!(doc[i] = parse_coco(srcs[i], err))) goto done;
        if (suite_import_source(c, srcs[i], err)) goto done;
        if (cJSON_GetObjectItemCaseSensitive(doc[i], "categories")) inst = doc[i];
        else caps = doc[i];
    }
    if (!caps || !inst) { lv_errorf(err, "coco-captions: need a captions file and an instances file (with \"categories\")"); goto done; }
    /* Categories: id → name, at most 80 slots. */
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(inst, "categories")) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (n_cats == MAX_OBJECTS || suite_import_id(cJSON_GetObjectItemCaseSensitive(e, "id"), &cats[n_cats].id) ||
            !cJSON_IsString(nm)) {
            lv_errorf(err, "coco-captions: bad or too many categories");
            goto done;
        }
        cats[n_cats++].name = nm->valuestring;
    }
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(caps, "images");
    if (!cJSON_IsArray(images)) { lv_errorf(err, "coco-captions: captions file has no \"images\""); goto done; }
    if (!(img = lv_calloc((size_t)cJSON_GetArraySize(images) + 1, sizeof *img))) { lv_errorf(err, "out of memory"); goto done; }
    cJSON_ArrayForEach(e, images) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "file_name");
        if (suite_import_id(cJSON_GetObjectItemCaseSensitive(e, "id"), &img[n_img].id) || !cJSON_IsString(f)) {
            lv_errorf(err, "coco-captions: images[%zu]: needs id and file_name", n_img);
            goto done;
        }
        img[n_img++].file = f->valuestring;
    }
    qsort(img, n_img, sizeof *img, cmp_image);
    for (size_t i = 1; i < n_img; i++)
        if (img[i].id == img[i - 1].id) { lv_errorf(err, "coco-captions: image id %lld twice", img[i].id); goto done; }
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(caps, "annotations")) {
        long long iid;
        const cJSON *cap = cJSON_GetObjectItemCaseSensitive(e, "caption");
        coco_image *im;
        if (suite_import_id(cJSON_GetObjectItemCaseSensitive(e, "image_id"), &iid) || !cJSON_IsString(cap)) {
            lv_errorf(err, "coco-captions: caption annotation needs image_id and caption");
            goto done;
        }
        if ((im = find_image(img, n_img, iid)) && im->n_captions < MAX_CAPTIONS) im->captions[im->n_captions++] = cap->valuestring;
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(inst, "annotations")) {
        long long iid, cid;
        coco_image *im;
        if (suite_import_id(cJSON_GetObjectItemCaseSensitive(e, "image_id"), &iid) ||
            suite_import_id(cJSON_GetObjectItemCaseSensitive(e, "category_id"), &cid)) {
            lv_errorf(err, "coco-captions: instance annotation needs image_id and category_id");
            goto done;
        }
        if (!(im = find_image(img, n_img, iid))) continue;
        int slot = -1;
        for (int k = 0; k < n_cats; k++) if (cats[k].id == cid) slot = k;
        if (slot < 0) { lv_errorf(err, "coco-captions: unknown category_id %lld", cid); goto done; }
        im->has[slot] = 1;
    }
    for (size_t i = 0; i < n_img; i++) {
        const char *objs[MAX_OBJECTS];
        char rel[SUITE_MAX_PATH + 1], sid[32], meta[64];
        int no = 0, r;
        if (c->o->limit && (long)suite_writer_count(c->w) >= c->o->limit) break;
        if (img[i].n_captions == 0) continue;
        /* Object names in category-id order: deterministic, as listed by COCO. */
        for (int k = 0; k < n_cats; k++) if (img[i].has[k]) objs[no++] = cats[k].name;
        if ((r = suite_import_image(c, "", img[i].file, rel, err)) < 0) goto done;
        if (r) continue;
        snprintf(sid, sizeof sid, "%lld", img[i].id);
        snprintf(meta, sizeof meta, "{\"image_id\":%lld}", img[i].id);
        suite_sample_in in = {.id = sid, .image = rel, .question = "Please describe this image in detail.",
                              .answers = img[i].captions, .n_answers = img[i].n_captions,
                              .objects = objs, .n_objects = no, .meta_json = meta};
        if (suite_writer_add(c->w, &in, err)) goto done;
        n_caps += img[i].n_captions;
        n_objs += no;
    }
    snprintf(summary, 480, "%ld reference captions, %ld ground-truth objects", n_caps, n_objs);
    rc = 0;
done:
    lv_free(img);
    cJSON_Delete(doc[0]);
    cJSON_Delete(doc[1]);
    return rc;
}
