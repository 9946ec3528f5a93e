/* datasets/import.h — importers: official benchmark files to suite folders.
 *
 * Formats (one row each in import.c's table, one file per source):
 *   pope           RUCAIBox/POPE coco_pope_{random,popular,adversarial}.json (one JSON
 *                  object per line: question_id, image, text, label); several files make
 *                  one suite, each sample's category = the split, from the line's
 *                  "category" or else the file name. Task yesno.
 *   vqav2          v2_OpenEnded_mscoco_val2014_questions.json + v2_mscoco_val2014_
 *                  annotations.json (either order). Task vqa, 10 answers per question,
 *                  category = answer_type. Images COCO_<subtype>_<id:012>.jpg.
 *   textvqa        TextVQA_0.5.1_val.json, optionally + TextVQA_Rosetta_OCR_v0.2_val.json;
 *                  with ocr_tokens the question gets LLaVA's "\nReference OCR token: a, b"
 *                  line (recorded in provenance.ocr_tokens). Images <image_id>.jpg.
 *   mme            the MME_Benchmark_release_version folder: per subtask either
 *                  questions_answers_YN/NAME.txt + images/, or NAME.txt beside the image;
 *                  each .txt line "question<TAB>Yes|No". Task yesno, category = subtask,
 *                  meta.pair groups the two questions of one image (acc+).
 *   coco-captions  captions_val2014.json + instances_val2014.json: one sample per image,
 *                  answers = reference captions, objects = ground-truth object names
 *                  (for CHAIR). Task caption.
 * The images an import uses are hard-linked (or copied) from the image folder into the
 * suite, so the suite is self-contained; every name from an official file is checked
 * by suite_check_relpath and resolved inside the image folder. Every source file's
 * SHA-256 goes into provenance, with "pinned": true when it matches the catalogue.
 *
 * Ownership: nothing is kept; suite_import writes out_dir and returns.
 */
#ifndef LV_IMPORT_H
#define LV_IMPORT_H

#include <stddef.h>

#include "datasets/suite.h"
#include "engine/base.h"

#define SUITE_IMPORT_JSON_CAP  ((size_t)1 << 30)   /* one official JSON file */
#define SUITE_IMPORT_TEXT_CAP  ((size_t)64 << 20)  /* one JSONL / txt file */
#define SUITE_IMPORT_IMAGE_CAP ((uint64_t)64 << 20) /* one image */

typedef struct {
    const char *images_dir;   /* where official image names resolve (mme: default SRC) */
    int         ocr_tokens;   /* textvqa: OCR tokens in the prompt */
    int         skip_missing; /* drop samples whose image is absent instead of failing */
    long        limit;        /* keep the first N samples (coco-captions: images); 0 = all */
    const char *name;         /* suite name; NULL = the format's default */
} suite_import_opts;

extern const char *const suite_import_formats[];   /* NULL-terminated */

/* Imports srcs (n_srcs files or folders) as format into the new suite folder out_dir.
 * summary (may be NULL) receives one line of counts. */
int suite_import(const char *format, const char *const *srcs, int n_srcs, const suite_import_opts *o,
                 const char *out_dir, char summary[512], lv_error *err);

/* Sorted distinct image names the POPE files ask about, each checked with
 * suite_check_relpath (for fetching just those images). Free with suite_import_free_names. */
int  suite_pope_image_names(const char *const *paths, int n, char ***names, size_t *n_names, lv_error *err);
void suite_import_free_names(char **names, size_t n);

/* ---- Shared by the importer files ---- */

typedef struct {
    suite_writer            *w;
    const suite_import_opts *o;
    char                    *images_real;   /* realpath of o->images_dir */
    long                     n_missing;     /* samples dropped for a missing image */
    int                      n_pinned, n_sources;
} suite_import_ctx;

/* Links the official image `name` (relative to the image folder) into the suite as
 * images/<prefix><name>, writing the suite path into rel. Returns 0, 1 when the image
 * is missing and skip_missing dropped it, -1 on error. */
int suite_import_image(suite_import_ctx *c, const char *prefix, const char *name, char rel[SUITE_MAX_PATH + 1],
                       lv_error *err);
/* Records a source file in provenance (hash, size, pinned). */
int suite_import_source(suite_import_ctx *c, const char *path, lv_error *err);
/* Whole-number JSON value in [0, 2^53) into *out; -1 if it is not one. */
struct cJSON;
int suite_import_id(const struct cJSON *v, long long *out);

int suite_import_pope(suite_import_ctx *c, const char *const *srcs, int n, char *summary, lv_error *err);
int suite_import_vqav2(suite_import_ctx *c, const char *const *srcs, int n, char *summary, lv_error *err);
int suite_import_textvqa(suite_import_ctx *c, const char *const *srcs, int n, char *summary, lv_error *err);
int suite_import_mme(suite_import_ctx *c, const char *const *srcs, int n, char *summary, lv_error *err);
int suite_import_coco(suite_import_ctx *c, const char *const *srcs, int n, char *summary, lv_error *err);

#endif
