/* datasets/import_pope.c — POPE question files (one JSON object per line) to a yes/no suite. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/import.h"

static const char *const splits[] = {"random", "popular", "adversarial"};

/* The split named in the file name (coco_pope_random.json → random), or -1. */
static int split_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    int found = -1;
    base = base ? base + 1 : path;
    for (int i = 0; i < 3; i++)
        if (strstr(base, splits[i])) {
            if (found >= 0) return -1;   /* two names: ambiguous */
            found = i;
        }
    return found;
}

static int split_index(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, splits[i]) == 0) return i;
    return -1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* One line → one sample. counts[split][0 = yes, 1 = no]. */
static int pope_line(suite_import_ctx *c, const cJSON *j, int file_split, long counts[3][2], char ***names,
                     size_t *n_names, lv_error *err)
{
    const cJSON *qid = cJSON_GetObjectItemCaseSensitive(j, "question_id");
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(j, "image");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(j, "label");
    const cJSON *cat = cJSON_GetObjectItemCaseSensitive(j, "category");
    long long id;
    int split = file_split, r;
    char rel[SUITE_MAX_PATH + 1], sid[64], meta[64];
    if (!cJSON_IsObject(j)) return lv_errorf(err, "not a JSON object");
    if (!qid || suite_import_id(qid, &id)) return lv_errorf(err, "\"question_id\" must be a whole number");
    if (!cJSON_IsString(img) || !cJSON_IsString(text) || !text->valuestring[0])
        return lv_errorf(err, "\"image\" and \"text\" must be strings");
    if (!cJSON_IsString(label) || (strcmp(label->valuestring, "yes") != 0 && strcmp(label->valuestring, "no") != 0))
        return lv_errorf(err, "\"label\" must be \"yes\" or \"no\"");
    if (cat && (!cJSON_IsString(cat) || (split = split_index(cat->valuestring)) < 0))
        return lv_errorf(err, "\"category\" must be random, popular or adversarial");
    if (split < 0)
        return lv_errorf(err, "cannot tell the split: name the file after it (coco_pope_random.json, ...)");
    if ((r = suite_import_image(c, "", img->valuestring, rel, err)) != 0) return r < 0 ? -1 : 0;
    /* question_ids restart in every split file, so the split is part of the id. */
    snprintf(sid, sizeof sid, "%s-%lld", splits[split], id);
    snprintf(meta, sizeof meta, "{\"question_id\":%lld}", id);
    suite_sample_in in = {.id = sid, .image = rel, .question = text->valuestring, .label = label->valuestring,
                          .category = splits[split], .meta_json = meta};
    if (suite_writer_add(c->w, &in, err)) return -1;
    counts[split][label->valuestring[0] == 'n']++;
    if (!(*names = lv_realloc(*names, (*n_names + 1) * sizeof **names)) ||
        !((*names)[(*n_names)++] = lv_strndup(img->valuestring, strlen(img->valuestring))))
        return lv_errorf(err, "out of memory");
    return 0;
}

int suite_import_pope(suite_import_ctx *c, const char *const *srcs, int n, char *summary, lv_error *err)
{
    long counts[3][2] = {{0}};
    char **names = NULL;
    size_t n_names = 0, images = 0;
    int rc = -1;
    for (int f = 0; f < n; f++) {
        size_t len;
        lv_error e2;
        char *text = suite_read_file(srcs[f], SUITE_IMPORT_TEXT_CAP, &len, err), *line, *next;
        int lineno = 0, split = split_from_name(srcs[f]);
        if (!text) goto done;
        if (suite_import_source(c, srcs[f], err)) { lv_free(text); goto done; }
        for (line = text; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = 0;
            lineno++;
            size_t ll = strlen(line);
            if (ll && line[ll - 1] == '\r') line[--ll] = 0;
            if (!ll) continue;
            if (c->o->limit && (long)suite_writer_count(c->w) >= c->o->limit) break;
            cJSON *j = suite_parse_json(line, ll, &e2);
            if (!j || pope_line(c, j, split, counts, &names, &n_names, &e2)) {
                lv_errorf(err, "%s:%d: %s", srcs[f], lineno, e2.msg);
                cJSON_Delete(j);
                lv_free(text);
                goto done;
            }
            cJSON_Delete(j);
        }
        lv_free(text);
    }
    /* Distinct images, for the summary (POPE: 500 per split). */
    if (n_names) qsort(names, n_names, sizeof *names, cmp_str);
    for (size_t i = 0; i < n_names; i++) images += i == 0 || strcmp(names[i], names[i - 1]) != 0;
    for (int s = 0; s < 3; s++)
        if (counts[s][0] + counts[s][1])
            snprintf(summary + strlen(summary), 480 - strlen(summary), "%s %ld: %ld yes / %ld no; ", splits[s],
                     counts[s][0] + counts[s][1], counts[s][0], counts[s][1]);
    snprintf(summary + strlen(summary), 480 - strlen(summary), "%zu images", images);
    rc = 0;
done:
    for (size_t i = 0; i < n_names; i++) lv_free(names[i]);
    lv_free(names);
    return rc;
}

void suite_import_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) lv_free(names[i]);
    lv_free(names);
}

int suite_pope_image_names(const char *const *paths, int n, char ***names, size_t *n_names, lv_error *err)
{
    char **v = NULL;
    size_t nv = 0, out = 0;
    *names = NULL;
    *n_names = 0;
    for (int f = 0; f < n; f++) {
        size_t len;
        int lineno = 0;
        char *text = suite_read_file(paths[f], SUITE_IMPORT_TEXT_CAP, &len, err), *line, *next;
        if (!text) goto fail;
        for (line = text; *line; line = next) {
            lv_error e2;
            next = strchr(line, '\n');
            next = next ? (*next = 0, next + 1) : line + strlen(line);
            lineno++;
            if (strspn(line, " \t\r") == strlen(line)) continue;
            cJSON *j = suite_parse_json(line, strlen(line), &e2);
            const cJSON *img = cJSON_GetObjectItemCaseSensitive(j, "image");
            if (!j || !cJSON_IsString(img) || suite_check_relpath(img->valuestring, &e2)) {
                lv_errorf(err, "%s:%d: %s", paths[f], lineno, j ? "bad \"image\"" : e2.msg);
                cJSON_Delete(j);
                lv_free(text);
                goto fail;
            }
            char **nvp = lv_realloc(v, (nv + 1) * sizeof *v);
            if (nvp) v = nvp;
            if (!nvp || !(v[nv] = lv_strndup(img->valuestring, strlen(img->valuestring)))) {
                lv_errorf(err, "out of memory");
                cJSON_Delete(j);
                lv_free(text);
                goto fail;
            }
            nv++;
            cJSON_Delete(j);
        }
        lv_free(text);
    }
    if (nv) qsort(v, nv, sizeof *v, cmp_str);
    for (size_t i = 0; i < nv; i++) {
        if (out && strcmp(v[i], v[out - 1]) == 0) { lv_free(v[i]); continue; }
        v[out++] = v[i];
    }
    *names = v;
    *n_names = out;
    return 0;
fail:
    suite_import_free_names(v, nv);
    return -1;
}
