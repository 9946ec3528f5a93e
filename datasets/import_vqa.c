/* datasets/import_vqa.c — VQAv2 (questions + annotations) and TextVQA (val JSON, with
 * optional Rosetta OCR tokens) to open-answer suites. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/import.h"

#define MAX_ANSWERS 32

/* Collects the strings of a JSON list (or of member `key` of its objects, NULL = the
 * items themselves) into out[]; returns the count or -1 when an item has another type. */
static int string_list(const cJSON *list, const char *key, const char *out[MAX_ANSWERS])
{
    const cJSON *e;
    int n = 0;
    if (!cJSON_IsArray(list)) return -1;
    cJSON_ArrayForEach(e, list) {
        const cJSON *s = key ? cJSON_GetObjectItemCaseSensitive(e, key) : e;
        if (!cJSON_IsString(s) || n == MAX_ANSWERS) return -1;
        out[n++] = s->valuestring;
    }
    return n;
}

static int cmp_qid(const void *a, const void *b)
{
    long long x = ((const long long *)a)[0], y = ((const long long *)b)[0];
    return x < y ? -1 : x > y;
}

/* The meta object as compact JSON text (lv_malloc'd). */
static char *meta_string(cJSON *meta)
{
    char *p = cJSON_PrintUnformatted(meta), *d = p ? lv_strndup(p, strlen(p)) : NULL;
    cJSON_free(p);
    return d;
}

int suite_import_vqav2(suite_import_ctx *c, const char *const *srcs, int n, char *summary, lv_error *err)
{
    cJSON *qs = NULL, *as = NULL, *doc[2] = {NULL, NULL};
    long long (*index)[2] = NULL;   /* (question_id, position in annotations), sorted */
    const cJSON *questions, *annotations, *e;
    const char *subtype = "val2014";
    long n_ann = 0, by_type[3] = {0};
    int rc = -1;
    if (n != 2) return lv_errorf(err, "vqav2: give the questions JSON and the annotations JSON");
    for (int i = 0; i < 2; i++) {
        if (!(doc[i] = suite_parse_json_file(srcs[i], SUITE_IMPORT_JSON_CAP, err))) goto done;
        if (suite_import_source(c, srcs[i], err)) goto done;
        if (cJSON_GetObjectItemCaseSensitive(doc[i], "questions")) qs = doc[i];
        else if (cJSON_GetObjectItemCaseSensitive(doc[i], "annotations")) as = doc[i];
    }
    if (!qs || !as) { lv_errorf(err, "vqav2: need one file with \"questions\" and one with \"annotations\""); goto done; }
    questions = cJSON_GetObjectItemCaseSensitive(qs, "questions");
    annotations = cJSON_GetObjectItemCaseSensitive(as, "annotations");
    e = cJSON_GetObjectItemCaseSensitive(qs, "data_subtype");
    if (cJSON_IsString(e)) subtype = e->valuestring;
    if (strspn(subtype, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(subtype) || strlen(subtype) > 32) {
        lv_errorf(err, "vqav2: odd data_subtype"); goto done;
    }
    if (!cJSON_IsArray(questions) || !cJSON_IsArray(annotations)) { lv_errorf(err, "vqav2: \"questions\"/\"annotations\" must be lists"); goto done; }
    /* Index the annotations by question_id for lookup. */
    int na = cJSON_GetArraySize(annotations);
    if (!(index = lv_calloc((size_t)na + 1, sizeof *index))) { lv_errorf(err, "out of memory"); goto done; }
    cJSON_ArrayForEach(e, annotations) {
        if (suite_import_id(cJSON_GetObjectItemCaseSensitive(e, "question_id"), &index[n_ann][0])) {
            lv_errorf(err, "%s: annotation %ld: \"question_id\" must be a whole number", srcs[as == doc[1]], n_ann);
            goto done;
        }
        index[n_ann][1] = n_ann;
        n_ann++;
    }
    qsort(index, (size_t)n_ann, sizeof *index, cmp_qid);
    long k = 0;
    cJSON_ArrayForEach(e, questions) {
        long long qid, iid, key[2];
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "question"), *ann;
        const char *answers[MAX_ANSWERS];
        char img[64], rel[SUITE_MAX_PATH + 1], sid[32];
        int r, na2;
        if (c->o->limit && (long)suite_writer_count(c->w) >= c->o->limit) break;
        if (suite_import_id(cJSON_GetObjectItemCaseSensitive(e, "question_id"), &qid) ||
            suite_import_id(cJSON_GetObjectItemCaseSensitive(e, "image_id"), &iid) || !cJSON_IsString(q)) {
            lv_errorf(err, "%s: question %ld: needs question_id, image_id and question", srcs[qs == doc[1]], k);
            goto done;
        }
        key[0] = qid;
        long long (*hit)[2] = bsearch(key, index, (size_t)n_ann, sizeof *index, cmp_qid);
        if (!hit) { lv_errorf(err, "vqav2: question %lld has no annotation", qid); goto done; }
        ann = cJSON_GetArrayItem(annotations, (int)(*hit)[1]);
        na2 = string_list(cJSON_GetObjectItemCaseSensitive(ann, "answers"), "answer", answers);
        if (na2 < 1) { lv_errorf(err, "vqav2: annotation of question %lld: bad \"answers\"", qid); goto done; }
        snprintf(img, sizeof img, "COCO_%s_%012lld.jpg", subtype, iid);
        if ((r = suite_import_image(c, "", img, rel, err)) < 0) goto done;
        k++;
        if (r) continue;
        const cJSON *atype = cJSON_GetObjectItemCaseSensitive(ann, "answer_type");
        const cJSON *qtype = cJSON_GetObjectItemCaseSensitive(ann, "question_type");
        const cJSON *mca = cJSON_GetObjectItemCaseSensitive(ann, "multiple_choice_answer");
        const char *cat = cJSON_IsString(atype) ? atype->valuestring : NULL;
        cJSON *meta = cJSON_CreateObject();
        cJSON_AddNumberToObject(meta, "question_id", (double)qid);
        cJSON_AddNumberToObject(meta, "image_id", (double)iid);
        if (cJSON_IsString(qtype)) cJSON_AddStringToObject(meta, "question_type", qtype->valuestring);
        if (cJSON_IsString(mca)) cJSON_AddStringToObject(meta, "multiple_choice_answer", mca->valuestring);
        char *m = meta_string(meta);
        cJSON_Delete(meta);
        snprintf(sid, sizeof sid, "%lld", qid);
        suite_sample_in in = {.id = sid, .image = rel, .question = q->valuestring, .answers = answers,
                              .n_answers = na2, .category = cat, .meta_json = m};
        r = m ? suite_writer_add(c->w, &in, err) : lv_errorf(err, "out of memory");
        lv_free(m);
        if (r) goto done;
        if (cat) by_type[strcmp(cat, "yes/no") == 0 ? 0 : strcmp(cat, "number") == 0 ? 1 : 2]++;
    }
    snprintf(summary, 480, "yes/no %ld, number %ld, other %ld", by_type[0], by_type[1], by_type[2]);
    rc = 0;
done:
    lv_free(index);
    cJSON_Delete(doc[0]);
    cJSON_Delete(doc[1]);
    return rc;
}

/* ---- TextVQA ---- */

/* Finds the OCR token list for image_id: the entry's own "ocr_tokens", else the OCR file's. */
static const cJSON *ocr_for(const cJSON *entry, const cJSON *ocr_data, const char *image_id)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(entry, "ocr_tokens"), *e;
    if (t) return t;
    cJSON_ArrayForEach(e, ocr_data) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "image_id");
        if (cJSON_IsString(id) && strcmp(id->valuestring, image_id) == 0)
            return cJSON_GetObjectItemCaseSensitive(e, "ocr_tokens");
    }
    return NULL;
}

int suite_import_textvqa(suite_import_ctx *c, const char *const *srcs, int n, char *summary, lv_error *err)
{
    cJSON *doc[2] = {NULL, NULL};
    const cJSON *qa = NULL, *ocr = NULL, *e;
    const char *qa_path = NULL;
    char *question = NULL;
    long with_ocr = 0, k = 0;
    int rc = -1;
    if (n < 1 || n > 2) return lv_errorf(err, "textvqa: give the val JSON and optionally the Rosetta OCR JSON");
    for (int i = 0; i < n; i++) {
        const cJSON *data, *first;
        if (!(doc[i] = suite_parse_json_file(srcs[i], SUITE_IMPORT_JSON_CAP, err))) goto done;
        if (suite_import_source(c, srcs[i], err)) goto done;
        data = cJSON_GetObjectItemCaseSensitive(doc[i], "data");
        if (!cJSON_IsArray(data)) { lv_errorf(err, "%s: no \"data\" list", srcs[i]); goto done; }
        first = cJSON_GetArrayItem(data, 0);
        /* The OCR file has tokens per image and no questions. */
        if (first && !cJSON_GetObjectItemCaseSensitive(first, "question")) ocr = data;
        else { qa = data; qa_path = srcs[i]; }
    }
    if (!qa) { lv_errorf(err, "textvqa: no file with questions"); goto done; }
    cJSON_ArrayForEach(e, qa) {
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(e, "question");
        const cJSON *iid = cJSON_GetObjectItemCaseSensitive(e, "image_id"), *tokens = NULL;
        const char *answers[MAX_ANSWERS], *toks[MAX_ANSWERS * 8];
        char img[128], rel[SUITE_MAX_PATH + 1], sid[32];
        long long qid;
        int na, nt = 0, r;
        if (c->o->limit && (long)suite_writer_count(c->w) >= c->o->limit) break;
        k++;
        if (!cJSON_IsString(q) || !cJSON_IsString(iid) || strlen(iid->valuestring) > 100 ||
            suite_import_id(cJSON_GetObjectItemCaseSensitive(e, "question_id"), &qid) ||
            (na = string_list(cJSON_GetObjectItemCaseSensitive(e, "answers"), NULL, answers)) < 1) {
            lv_errorf(err, "%s: data[%ld]: needs question, image_id, question_id and answers", qa_path, k - 1);
            goto done;
        }
        size_t qlen = strlen(q->valuestring) + 32;
        if (c->o->ocr_tokens) {
            const cJSON *t;
            if (!(tokens = ocr_for(e, ocr, iid->valuestring))) {
                lv_errorf(err, "textvqa: --ocr-tokens: no OCR tokens for image %s (add TextVQA_Rosetta_OCR_v0.2_val.json)",
                          iid->valuestring);
                goto done;
            }
            cJSON_ArrayForEach(t, tokens) {
                if (!cJSON_IsString(t) || nt == MAX_ANSWERS * 8) { lv_errorf(err, "textvqa: bad ocr_tokens for image %s", iid->valuestring); goto done; }
                toks[nt++] = t->valuestring;
                qlen += strlen(t->valuestring) + 2;
            }
        }
        snprintf(img, sizeof img, "%s.jpg", iid->valuestring);
        if ((r = suite_import_image(c, "", img, rel, err)) < 0) goto done;
        if (r) continue;
        /* LLaVA's prompt with OCR: "<question>\nReference OCR token: a, b, c". */
        if (!(question = lv_malloc(qlen))) { lv_errorf(err, "out of memory"); goto done; }
        size_t off = (size_t)snprintf(question, qlen, "%s", q->valuestring);
        if (nt) {
            off += (size_t)snprintf(question + off, qlen - off, "\nReference OCR token: ");
            for (int t = 0; t < nt; t++) off += (size_t)snprintf(question + off, qlen - off, "%s%s", t ? ", " : "", toks[t]);
            with_ocr++;
        }
        cJSON *meta = cJSON_CreateObject();
        cJSON_AddNumberToObject(meta, "question_id", (double)qid);
        cJSON_AddStringToObject(meta, "image_id", iid->valuestring);
        if (tokens) cJSON_AddItemToObject(meta, "ocr_tokens", cJSON_Duplicate(tokens, 1));
        char *m = meta_string(meta);
        cJSON_Delete(meta);
        snprintf(sid, sizeof sid, "%lld", qid);
        suite_sample_in in = {.id = sid, .image = rel, .question = question, .answers = answers, .n_answers = na,
                              .meta_json = m};
        r = m ? suite_writer_add(c->w, &in, err) : lv_errorf(err, "out of memory");
        lv_free(m);
        lv_free(question);
        question = NULL;
        if (r) goto done;
    }
    snprintf(summary, 480, "%s; %ld with OCR tokens in the prompt", c->o->ocr_tokens ? "OCR tokens on" : "OCR tokens off",
             with_ocr);
    rc = 0;
done:
    lv_free(question);
    cJSON_Delete(doc[0]);
    cJSON_Delete(doc[1]);
    return rc;
}
