/* datasets/import.c — the importer table and what the importers share (see import.h). */
#include "datasets/import.h"

#include <cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/fetch.h"
#include "engine/sha256.h"

typedef struct {
    const char *format, *name, *task, *prompt;
    const char *metrics[3];
    int         needs_images;   /* --images required */
    int       (*run)(suite_import_ctx *c, const char *const *srcs, int n, char *summary, lv_error *err);
} import_row;

#define SHORT_ANSWER "{question}\nAnswer the question using a single word or phrase."

static const import_row rows[] = {
    {"pope", "pope", "yesno", SHORT_ANSWER, {"yesno", NULL, NULL}, 1, suite_import_pope},
    {"vqav2", "vqav2-val", "vqa", SHORT_ANSWER, {"vqa", NULL, NULL}, 1, suite_import_vqav2},
    {"textvqa", "textvqa-val", "textvqa", SHORT_ANSWER, {"vqa", "anls", NULL}, 1, suite_import_textvqa},
    {"mme", "mme", "yesno", "{question}", {"mme", NULL, NULL}, 0, suite_import_mme},
    {"coco-captions", "coco-captions-val2014", "caption", "{question}", {"chair", NULL, NULL}, 1, suite_import_coco},
};

const char *const suite_import_formats[] = {"pope", "vqav2", "textvqa", "mme", "coco-captions", NULL};

int suite_import_id(const cJSON *v, long long *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= 9007199254740992.0 ||
        v->valuedouble != (double)(long long)v->valuedouble)
        return -1;
    *out = (long long)v->valuedouble;
    return 0;
}

int suite_import_image(suite_import_ctx *c, const char *prefix, const char *name, char rel[SUITE_MAX_PATH + 1],
                       lv_error *err)
{
    lv_error e2;
    char *src;
    struct stat st;
    if (suite_check_relpath(name, &e2)) return lv_errorf(err, "image name: %s", e2.msg);
    if ((size_t)snprintf(rel, SUITE_MAX_PATH + 1, "images/%s%s", prefix, name) > SUITE_MAX_PATH)
        return lv_errorf(err, "image name too long");
    if (!(src = suite_resolve(c->images_real, name, &e2))) {
        char joined[PATH_MAX];
        snprintf(joined, sizeof joined, "%s/%s", c->images_real, name);
        /* Absent is skippable; present but unsafe (a link out, not a file) never is. */
        if (c->o->skip_missing && lstat(joined, &st) != 0) {
            c->n_missing++;
            return 1;
        }
        return lv_errorf(err, "image %s%s", e2.msg, c->o->skip_missing ? "" : " (--skip-missing drops such samples)");
    }
    int rc = suite_writer_link_image(c->w, rel, src, SUITE_IMPORT_IMAGE_CAP, err);
    free(src);
    return rc;
}

int suite_import_source(suite_import_ctx *c, const char *path, lv_error *err)
{
    char hex[65];
    if (suite_writer_prov_source(c->w, path, hex, err)) return -1;
    /* A file identical to a catalogue pin names its exact origin (URL with commit). */
    const fetch_item *pin = fetch_find_by_sha256(hex);
    c->n_sources++;
    c->n_pinned += pin != NULL;
    if (pin && suite_writer_prov_source_url(c->w, pin->url)) return lv_errorf(err, "out of memory");
    return 0;
}

int suite_import(const char *format, const char *const *srcs, int n_srcs, const suite_import_opts *o,
                 const char *out_dir, char summary[512], lv_error *err)
{
    const import_row *row = NULL;
    suite_import_ctx c = {0};
    char sum[512] = "";
    int rc = -1;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (format && strcmp(rows[i].format, format) == 0) row = &rows[i];
    if (!row) return lv_errorf(err, "unknown format '%s' (pope, vqav2, textvqa, mme, coco-captions)", format ? format : "");
    if (n_srcs < 1) return lv_errorf(err, "%s: no source files given", row->format);
    const char *images = o->images_dir ? o->images_dir : row->needs_images ? NULL : srcs[0];
    if (!images) return lv_errorf(err, "%s: needs --images DIR (the folder the official image names are in)", row->format);
    c.o = o;
    if (!(c.images_real = realpath(images, NULL))) return lv_errorf(err, "--images %s: not found", images);
    if (!(c.w = suite_writer_open(out_dir, err))) goto done;
    if (row->run(&c, srcs, n_srcs, sum, err)) goto done;
    if (suite_writer_count(c.w) == 0) { lv_errorf(err, "%s: no samples imported", row->format); goto done; }
    suite_writer_prov_str(c.w, "source", row->format);
    suite_writer_prov_str(c.w, "generator", "llava-eval suite import");
    suite_writer_prov_bool(c.w, "pinned", c.n_sources > 0 && c.n_pinned == c.n_sources);
    suite_writer_prov_bool(c.w, "ocr_tokens", o->ocr_tokens);
    suite_writer_prov_num(c.w, "skipped_missing_images", (double)c.n_missing);
    if (o->limit) suite_writer_prov_num(c.w, "limit", (double)o->limit);
    char name[128];
    snprintf(name, sizeof name, "%s%s", o->name ? o->name : row->name, !o->name && o->ocr_tokens ? "-ocr" : "");
    suite_info info = {.name = name, .task = row->task, .prompt = row->prompt, .metrics = row->metrics};
    size_t n = suite_writer_count(c.w);
    rc = suite_writer_finish(c.w, &info, err);
    c.w = NULL;
    /* The importers keep their part of the summary under 480 bytes, so this fits. */
    if (rc == 0 && summary &&
        (size_t)snprintf(summary, 512, "%zu samples%s%.480s%s", n, sum[0] ? " (" : "", sum, sum[0] ? ")" : "") < 480 &&
        c.n_missing)
        snprintf(summary + strlen(summary), 512 - strlen(summary), "; %ld dropped for missing images", c.n_missing);
done:
    suite_writer_abort(c.w);
    free(c.images_real);
    return rc;
}
