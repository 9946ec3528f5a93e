/* datasets/suite.h — the suite format: what an evaluation suite is on disk, the
 * validating loader, and the writer every generator and importer uses.
 *
 * A suite is a folder that is self-contained: nothing outside it is ever read.
 *
 *   suite.json      {"format": 1, "name", "task", "prompt", "metrics": [...],
 *                    "n_samples", "samples_sha256", "files_sha256",
 *                    "provenance": {"source", "version", "generator", "seed",
 *                                   "ocr_tokens", "sources": [{"name","bytes","sha256"}], ...}}
 *   samples.jsonl   one object per line: "id" (string, unique), "image" (path relative
 *                    to the folder), "question", the ground truth for the task
 *                    ("answers" list for vqa/textvqa, "label" yes|no for yesno,
 *                    "objects" list for caption, "choices"+"answers" for choice),
 *                    optional "category" (string) and "meta" (object, e.g. detail_px).
 *   files.sha256    "<hex>  <path>" for samples.jsonl and every image (sha256sum -c).
 *   images/...      the images; importers hard-link (or copy) them in.
 *
 * The prompt is a template in which "{question}" is replaced by the sample's question.
 *
 * Loading treats every byte as hostile: each line is checked (size cap, UTF-8, no NUL,
 * JSON syntax, no duplicate keys, field types, unique ids) and every image path must be
 * relative, '/'-separated, free of '.'/'..'/empty components and backslashes, and must
 * resolve (realpath, so symlinks are followed) to a regular file inside the suite
 * folder. Errors name "FILE:LINE" and the sample id.
 *
 * Ownership: suite_load returns a suite the caller frees with suite_free (which frees
 * every sample and string in it). suite_writer_open returns a writer that
 * suite_writer_finish or suite_writer_abort frees. Helpers returning char * or
 * struct cJSON * give the caller ownership (free / cJSON_Delete).
 */
#ifndef LV_SUITE_H
#define LV_SUITE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/base.h"

#define SUITE_FORMAT        1
#define SUITE_MAX_LINE      (1u << 20)     /* bytes in one samples.jsonl line */
#define SUITE_MAX_JSON      (1u << 20)     /* bytes in suite.json */
#define SUITE_MAX_SAMPLES   10000000       /* lines in samples.jsonl */
#define SUITE_MAX_PATH      1024           /* bytes in a manifest path */
#define SUITE_MAX_ID        256            /* bytes in a sample id */

typedef struct {
    char  *id;
    char  *image;        /* as written in the manifest, relative to the suite */
    char  *image_path;   /* realpath of the image, inside the suite folder */
    char  *question;
    char **answers;      /* n_answers strings (vqa, textvqa, choice; refs for caption) */
    int    n_answers;
    char **choices;      /* n_choices strings (choice only) */
    int    n_choices;
    char  *label;        /* "yes" / "no" (yesno), else NULL */
    char **objects;      /* ground-truth object names (caption), n_objects */
    int    n_objects;
    char  *category;     /* NULL when absent */
    char  *meta_json;    /* the "meta" object as compact JSON, NULL when absent */
    int    line;         /* 1-based line in samples.jsonl */
} suite_sample;

typedef struct {
    char  *dir;          /* realpath of the suite folder */
    char  *name, *task, *prompt;
    char **metrics;
    int    n_metrics;
    char  *provenance_json;  /* compact JSON of "provenance" */
    suite_sample *samples;
    size_t n_samples;
} suite;

/* Loads and validates the suite in folder dir. NULL with err on any problem. */
suite *suite_load(const char *dir, lv_error *err);
void   suite_free(suite *s);
/* The sample's prompt: the suite's template with "{question}" filled in (malloc'd). */
char  *suite_prompt(const suite *s, const suite_sample *smp);

/* 1 if task is one this format knows (vqa, textvqa, yesno, caption, choice). */
int suite_task_known(const char *task);

/* ---- Path rules (used by the loader and by importers on names from official files) ---- */

/* 0 if p is a safe relative path (see above); else -1 with the reason in err. */
int   suite_check_relpath(const char *p, lv_error *err);
/* realpath(root_real/rel), checked to lie strictly inside root_real (itself a
 * realpath) and to be a regular file. Returns a malloc'd path or NULL with err. */
char *suite_resolve(const char *root_real, const char *rel, lv_error *err);

/* ---- Hostile-input helpers shared by the loader and the importers ---- */

struct cJSON;
/* Reads a whole file of at most cap bytes into a NUL-terminated malloc'd buffer. */
char *suite_read_file(const char *path, size_t cap, size_t *len, lv_error *err);
/* 0 if buf[0..len) is valid UTF-8 without NUL bytes and without "\u0000" escapes. */
int   suite_check_text(const char *buf, size_t len, lv_error *err);
/* Parses text (checked with suite_check_text) as JSON and rejects duplicate keys in
 * any object. NULL with err ("... at byte N") on failure. */
struct cJSON *suite_parse_json(const char *text, size_t len, lv_error *err);
/* suite_read_file + suite_parse_json; err starts with the path. */
struct cJSON *suite_parse_json_file(const char *path, size_t cap, lv_error *err);

/* ---- Writing a suite ---- */

typedef struct suite_writer suite_writer;

/* What goes into suite.json besides the generated fields. */
typedef struct {
    const char *name, *task, *prompt;
    const char *const *metrics;  /* NULL-terminated */
    const char *description;     /* may be NULL */
} suite_info;

/* A sample to write; NULL/0 fields are left out. meta_json, when set, must be a JSON
 * object text (written compactly, keys in the given order). */
typedef struct {
    const char *id, *image, *question, *label, *category, *meta_json;
    const char *const *answers;  int n_answers;
    const char *const *choices;  int n_choices;
    const char *const *objects;  int n_objects;
} suite_sample_in;

/* Creates dir (mkdir -p); refuses a dir that exists and is not empty. */
suite_writer *suite_writer_open(const char *dir, lv_error *err);
/* Writes bytes as the image at rel (e.g. "images/000001.png") and records its hash. */
int  suite_writer_put_image(suite_writer *w, const char *rel, const void *data, size_t len, lv_error *err);
/* Hard-links (or, across file systems, copies) src to rel, at most max_bytes. */
int  suite_writer_link_image(suite_writer *w, const char *rel, const char *src, uint64_t max_bytes, lv_error *err);
int  suite_writer_add(suite_writer *w, const suite_sample_in *smp, lv_error *err);
size_t suite_writer_count(const suite_writer *w);
/* Provenance entries, written in the order given. */
int  suite_writer_prov_str(suite_writer *w, const char *key, const char *val);
int  suite_writer_prov_num(suite_writer *w, const char *key, double val);
int  suite_writer_prov_bool(suite_writer *w, const char *key, int val);
/* Hashes the source file at path and records {"name": basename, "bytes", "sha256"};
 * hex (may be NULL) receives the hash. */
int  suite_writer_prov_source(suite_writer *w, const char *path, char hex_out[65], lv_error *err);
/* Adds "url" to the source recorded last (where a pinned copy comes from). */
int  suite_writer_prov_source_url(suite_writer *w, const char *url);
/* Writes files.sha256 and suite.json (last, by rename, so a suite.json means a
 * complete suite) and frees w, also on failure. */
int  suite_writer_finish(suite_writer *w, const suite_info *info, lv_error *err);
/* Frees w and leaves the partial folder for inspection. */
void suite_writer_abort(suite_writer *w);

#endif
