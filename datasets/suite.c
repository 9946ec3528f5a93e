/* datasets/suite.c — loading, validating and writing suite folders (see suite.h). */
#include "datasets/suite.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/sha256.h"

#define SAMPLES_FILE_CAP ((size_t)1 << 30)   /* samples.jsonl: 1 GiB */

static const char *const known_tasks[] = {"vqa", "textvqa", "yesno", "caption", "choice", NULL};

int suite_task_known(const char *task)
{
    for (int i = 0; task && known_tasks[i]; i++)
        if (strcmp(task, known_tasks[i]) == 0) return 1;
    return 0;
}

/* ======================================================================== */
/* String set: open addressing, FNV-1a. Keys are borrowed, values are ints. */

typedef struct {
    const char **keys;
    int *vals;
    size_t cap, n;     /* cap is a power of two, n < cap / 2 */
} strset;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static void strset_free(strset *t)
{
    lv_free(t->keys);
    lv_free(t->vals);
    memset(t, 0, sizeof *t);
}

/* Inserts key; returns 1 (and *old = the existing value) if it was already there,
 * 0 if inserted, -1 on allocation failure. */
static int strset_put(strset *t, const char *key, int val, int *old)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        strset nt = {lv_calloc(ncap, sizeof *nt.keys), lv_calloc(ncap, sizeof *nt.vals), ncap, 0};
        if (!nt.keys || !nt.vals) { strset_free(&nt); return -1; }
        for (size_t i = 0; i < t->cap; i++)
            if (t->keys[i]) strset_put(&nt, t->keys[i], t->vals[i], NULL);
        strset_free(t);
        *t = nt;
    }
    for (size_t i = fnv1a(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->keys[i]) {
            t->keys[i] = key;
            t->vals[i] = val;
            t->n++;
            return 0;
        }
        if (strcmp(t->keys[i], key) == 0) {
            if (old) *old = t->vals[i];
            return 1;
        }
    }
}

/* ======================================================================== */
/* Hostile-input helpers                                                     */

char *suite_read_file(const char *path, size_t cap, size_t *len, lv_error *err)
{
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { lv_errorf(err, "%s: %s", path, strerror(errno)); return NULL; }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        lv_errorf(err, "%s: not a regular file", path);
        goto fail;
    }
    if ((uint64_t)st.st_size > cap) {
        lv_errorf(err, "%s: %lld bytes is over the %zu-byte limit", path, (long long)st.st_size, cap);
        goto fail;
    }
    buf = lv_malloc((size_t)st.st_size + 1);
    if (!buf) { lv_errorf(err, "%s: out of memory", path); goto fail; }
    /* Read up to cap + 1 bytes so a file that grew after fstat is still caught. */
    while (n <= (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { lv_errorf(err, "%s: %s", path, strerror(errno)); goto fail; }
        if (r == 0) break;
        n += (size_t)r;
    }
    if (n > (size_t)st.st_size) { lv_errorf(err, "%s: file changed while reading", path); goto fail; }
    close(fd);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
fail:
    lv_free(buf);
    close(fd);
    return NULL;
}

int suite_check_text(const char *buf, size_t len, lv_error *err)
{
    const uint8_t *p = (const uint8_t *)buf;
    size_t i = 0;
    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        return lv_errorf(err, "byte order mark at the start (save as UTF-8 without BOM)");
    while (i < len) {
        uint8_t c = p[i];
        if (c == 0) return lv_errorf(err, "NUL byte at byte %zu", i);
        if (c == '\\' && i + 1 < len) {
            /* An escape: "\u0000" would silently cut the string cJSON returns. */
            if (p[i + 1] == 'u' && i + 6 <= len && memcmp(p + i + 2, "0000", 4) == 0)
                return lv_errorf(err, "\\u0000 escape at byte %zu", i);
            i += 2;
            continue;
        }
        if (c < 0x80) { i++; continue; }
        int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;   /* continuation bytes */
        uint32_t cp = c & (0x3F >> (n > 0 ? n : 0));
        if (n < 0 || c > 0xF4 || (size_t)n >= len - i) return lv_errorf(err, "invalid UTF-8 at byte %zu", i);
        for (int k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return lv_errorf(err, "invalid UTF-8 at byte %zu", i);
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF are invalid. */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return lv_errorf(err, "invalid UTF-8 at byte %zu", i);
        i += (size_t)n + 1;
    }
    return 0;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Rejects an object (at any depth) with two members of one name: cJSON keeps both
 * and lookups would silently take the first. */
static int check_dup_keys(const cJSON *node, lv_error *err)
{
    const cJSON *c;
    size_t n = 0, i = 0;
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node)) return 0;
    for (c = node->child; c; c = c->next) {
        n++;
        if (check_dup_keys(c, err)) return -1;
    }
    if (!cJSON_IsObject(node) || n < 2) return 0;
    const char **names = lv_malloc(n * sizeof *names);
    if (!names) return lv_errorf(err, "out of memory");
    for (c = node->child; c; c = c->next) names[i++] = c->string ? c->string : "";
    qsort(names, n, sizeof *names, cmp_str_ptr);
    for (i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            lv_errorf(err, "duplicate key \"%.64s\"", names[i]);
            lv_free(names);
            return -1;
        }
    lv_free(names);
    return 0;
}

struct cJSON *suite_parse_json(const char *text, size_t len, lv_error *err)
{
    const char *end = NULL;
    cJSON *j;
    if (suite_check_text(text, len, err)) return NULL;
    j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        lv_errorf(err, "bad JSON at byte %zu", at);
        return NULL;
    }
    /* Only whitespace may follow the value. */
    for (; end && (size_t)(end - text) < len; end++)
        if (!strchr(" \t\r\n", *end)) {
            lv_errorf(err, "bad JSON: text after the value at byte %zu", (size_t)(end - text));
            cJSON_Delete(j);
            return NULL;
        }
    if (check_dup_keys(j, err)) { cJSON_Delete(j); return NULL; }
    return j;
}

struct cJSON *suite_parse_json_file(const char *path, size_t cap, lv_error *err)
{
    size_t len;
    lv_error e2;
    char *text = suite_read_file(path, cap, &len, err);
    cJSON *j;
    if (!text) return NULL;
    j = suite_parse_json(text, len, &e2);
    lv_free(text);
    if (!j) lv_errorf(err, "%s: %s", path, e2.msg);
    return j;
}

/* ======================================================================== */
/* Path rules                                                                */

int suite_check_relpath(const char *p, lv_error *err)
{
    size_t len, start = 0;
    if (!p || !*p) return lv_errorf(err, "empty path");
    len = strlen(p);
    if (len > SUITE_MAX_PATH) return lv_errorf(err, "path longer than %d bytes", SUITE_MAX_PATH);
    if (p[0] == '/') return lv_errorf(err, "absolute path '%.200s' is not allowed", p);
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\\') return lv_errorf(err, "backslash in path '%.200s' is not allowed", p);
        if (c && c < 0x20) return lv_errorf(err, "control character in path");
        if (c == '/' || c == 0) {
            size_t n = i - start;
            if (n == 0) return lv_errorf(err, "empty component in path '%.200s'", p);
            if (n == 2 && p[start] == '.' && p[start + 1] == '.')
                return lv_errorf(err, "'..' in path '%.200s' is not allowed", p);
            if (n == 1 && p[start] == '.') return lv_errorf(err, "'.' component in path '%.200s'", p);
            start = i + 1;
        }
    }
    return 0;
}

char *suite_resolve(const char *root_real, const char *rel, lv_error *err)
{
    char joined[PATH_MAX], *real;
    size_t rl = strlen(root_real);
    struct stat st;
    if (suite_check_relpath(rel, err)) return NULL;
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", root_real, rel) >= sizeof joined) {
        lv_errorf(err, "path too long");
        return NULL;
    }
    real = realpath(joined, NULL);
    if (!real) {
        lv_errorf(err, "'%.200s': %s", rel, strerror(errno));
        return NULL;
    }
    /* The check that catches symlinks pointing out of the suite. */
    if (strncmp(real, root_real, rl) != 0 || (real[rl] != '/' && strcmp(root_real, "/") != 0)) {
        lv_errorf(err, "'%.200s' resolves outside the suite folder", rel);
        free(real);
        return NULL;
    }
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        lv_errorf(err, "'%.200s' is not a regular file", rel);
        free(real);
        return NULL;
    }
    return real;
}

/* ======================================================================== */
/* Loader                                                                    */

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++) lv_free(v[i]);
    lv_free(v);
}

static void sample_clear(suite_sample *s)
{
    lv_free(s->id); lv_free(s->image); free(s->image_path); lv_free(s->question);
    lv_free(s->label); lv_free(s->category); lv_free(s->meta_json);
    free_list(s->answers, s->n_answers);
    free_list(s->choices, s->n_choices);
    free_list(s->objects, s->n_objects);
    memset(s, 0, sizeof *s);
}

void suite_free(suite *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_samples; i++) sample_clear(&s->samples[i]);
    lv_free(s->samples);
    free(s->dir);
    lv_free(s->name); lv_free(s->task); lv_free(s->prompt); lv_free(s->provenance_json);
    free_list(s->metrics, s->n_metrics);
    lv_free(s);
}

static char *dup_str(const char *s)
{
    return s ? lv_strndup(s, strlen(s)) : NULL;
}

/* Member key of o as a string. required: absent is an error; else *out = NULL. */
static int get_str(const cJSON *o, const char *key, int required, char **out, lv_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v) return required ? lv_errorf(err, "missing field \"%s\"", key) : 0;
    if (!cJSON_IsString(v)) return lv_errorf(err, "field \"%s\" must be a string", key);
    if (!(*out = dup_str(v->valuestring))) return lv_errorf(err, "out of memory");
    return 0;
}

/* Member key of o as a list of strings with at least min items. */
static int get_list(const cJSON *o, const char *key, int required, int min,
                    char ***out, int *n, lv_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key), *c;
    int cnt, i = 0;
    *out = NULL; *n = 0;
    if (!v) return required ? lv_errorf(err, "missing field \"%s\"", key) : 0;
    if (!cJSON_IsArray(v)) return lv_errorf(err, "field \"%s\" must be a list of strings", key);
    cnt = cJSON_GetArraySize(v);
    if (cnt < min) return lv_errorf(err, "field \"%s\" needs at least %d item(s)", key, min);
    if (!(*out = lv_calloc((size_t)cnt + 1, sizeof **out))) return lv_errorf(err, "out of memory");
    cJSON_ArrayForEach(c, v) {
        if (!cJSON_IsString(c)) return lv_errorf(err, "field \"%s\" must be a list of strings", key);
        if (!((*out)[i] = dup_str(c->valuestring))) return lv_errorf(err, "out of memory");
        *n = ++i;
    }
    return 0;
}

/* Fills smp from one parsed line; the caller adds "file:line" to err. */
static int parse_sample(const suite *s, const cJSON *j, suite_sample *smp, lv_error *err)
{
    const cJSON *meta;
    lv_error e2;
    if (!cJSON_IsObject(j)) return lv_errorf(err, "a sample must be a JSON object");
    if (get_str(j, "id", 1, &smp->id, err)) return -1;
    if (!smp->id[0] || strlen(smp->id) > SUITE_MAX_ID)
        return lv_errorf(err, "id must be 1 to %d bytes", SUITE_MAX_ID);
    if (get_str(j, "image", 1, &smp->image, &e2) || get_str(j, "question", 1, &smp->question, &e2) ||
        get_str(j, "category", 0, &smp->category, &e2) || get_str(j, "label", 0, &smp->label, &e2) ||
        get_list(j, "answers", 0, 0, &smp->answers, &smp->n_answers, &e2) ||
        get_list(j, "choices", 0, 0, &smp->choices, &smp->n_choices, &e2) ||
        get_list(j, "objects", 0, 0, &smp->objects, &smp->n_objects, &e2))
        return lv_errorf(err, "sample '%.64s': %s", smp->id, e2.msg);
    if (!smp->question[0]) return lv_errorf(err, "sample '%.64s': empty question", smp->id);
    meta = cJSON_GetObjectItemCaseSensitive(j, "meta");
    if (meta) {
        if (!cJSON_IsObject(meta)) return lv_errorf(err, "sample '%.64s': \"meta\" must be an object", smp->id);
        if (!(smp->meta_json = cJSON_PrintUnformatted(meta))) return lv_errorf(err, "out of memory");
        /* cJSON allocated it with malloc; keep one allocator for suite_free. */
        char *m = dup_str(smp->meta_json);
        cJSON_free(smp->meta_json);
        if (!(smp->meta_json = m)) return lv_errorf(err, "out of memory");
    }
    /* Ground truth the task needs. */
    if (strcmp(s->task, "yesno") == 0) {
        if (!smp->label || (strcmp(smp->label, "yes") != 0 && strcmp(smp->label, "no") != 0))
            return lv_errorf(err, "sample '%.64s': task yesno needs \"label\": \"yes\" or \"no\"", smp->id);
    } else if (strcmp(s->task, "caption") == 0) {
        if (!cJSON_GetObjectItemCaseSensitive(j, "objects"))
            return lv_errorf(err, "sample '%.64s': task caption needs \"objects\"", smp->id);
    } else {
        if (smp->n_answers < 1)
            return lv_errorf(err, "sample '%.64s': task %s needs \"answers\" with at least one item", smp->id, s->task);
        if (strcmp(s->task, "choice") == 0) {
            int found = 0;
            if (smp->n_choices < 2)
                return lv_errorf(err, "sample '%.64s': task choice needs \"choices\" with two or more items", smp->id);
            for (int i = 0; i < smp->n_choices; i++) found |= strcmp(smp->choices[i], smp->answers[0]) == 0;
            if (!found) return lv_errorf(err, "sample '%.64s': the answer is not one of the choices", smp->id);
        }
    }
    smp->image_path = suite_resolve(s->dir, smp->image, &e2);
    if (!smp->image_path) return lv_errorf(err, "sample '%.64s': image %s", smp->id, e2.msg);
    return 0;
}

/* suite.json: the header fields. Returns the expected sample count or -1 (none) in
 * *n_expected and the pinned samples hash (or "") in want_hash. */
static int load_header(suite *s, const char *path, long long *n_expected, char want_hash[65], lv_error *err)
{
    lv_error e2;
    cJSON *j = suite_parse_json_file(path, SUITE_MAX_JSON, err), *v;
    int rc = -1;
    *n_expected = -1;
    want_hash[0] = 0;
    if (!j) return -1;
    if (!cJSON_IsObject(j)) { lv_errorf(err, "%s:1: must be a JSON object", path); goto done; }
    v = cJSON_GetObjectItemCaseSensitive(j, "format");
    if (v && (!cJSON_IsNumber(v) || v->valuedouble != SUITE_FORMAT)) {
        lv_errorf(err, "%s: unsupported \"format\" (this program reads format %d)", path, SUITE_FORMAT);
        goto done;
    }
    if (get_str(j, "name", 1, &s->name, &e2) || get_str(j, "task", 1, &s->task, &e2) ||
        get_str(j, "prompt", 1, &s->prompt, &e2) ||
        get_list(j, "metrics", 1, 1, &s->metrics, &s->n_metrics, &e2)) {
        lv_errorf(err, "%s: %s", path, e2.msg);
        goto done;
    }
    if (!s->name[0]) { lv_errorf(err, "%s: empty \"name\"", path); goto done; }
    if (!suite_task_known(s->task)) {
        lv_errorf(err, "%s: unknown task \"%.32s\" (vqa, textvqa, yesno, caption, choice)", path, s->task);
        goto done;
    }
    if (!strstr(s->prompt, "{question}")) {
        lv_errorf(err, "%s: \"prompt\" must contain {question}", path);
        goto done;
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "n_samples");
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > SUITE_MAX_SAMPLES ||
            v->valuedouble != (double)(long long)v->valuedouble) {
            lv_errorf(err, "%s: \"n_samples\" must be a whole number up to %d", path, SUITE_MAX_SAMPLES);
            goto done;
        }
        *n_expected = (long long)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "samples_sha256");
    if (v) {
        if (!cJSON_IsString(v) || !lv_sha256_valid_hex(v->valuestring)) {
            lv_errorf(err, "%s: \"samples_sha256\" must be 64 hex digits", path);
            goto done;
        }
        for (int i = 0; i < 65; i++) want_hash[i] = (char)(v->valuestring[i] | (i < 64 ? 0x20 : 0));
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "provenance");
    if (v && !cJSON_IsObject(v)) { lv_errorf(err, "%s: \"provenance\" must be an object", path); goto done; }
    if (v) {
        char *p = cJSON_PrintUnformatted(v);
        s->provenance_json = p ? dup_str(p) : NULL;
        cJSON_free(p);
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

/* Reads one line (without '\n' or a final '\r') into buf[SUITE_MAX_LINE + 1].
 * Returns 1 with *len, 0 at EOF, -1 if the line is over the cap. The hash sees
 * every byte read, terminator included. */
static int read_line(FILE *f, char *buf, size_t *len, lv_sha256 *h)
{
    size_t n = 0;
    int c = EOF;
    while ((c = getc_unlocked(f)) != EOF && c != '\n') {
        if (n >= SUITE_MAX_LINE) return -1;
        buf[n++] = (char)c;
    }
    if (n == 0 && c == EOF) return 0;
    lv_sha256_update(h, buf, n);
    if (c == '\n') lv_sha256_update(h, "\n", 1);
    if (n && buf[n - 1] == '\r') n--;
    buf[n] = 0;
    *len = n;
    return 1;
}

suite *suite_load(const char *dir, lv_error *err)
{
    suite *s = lv_calloc(1, sizeof *s);
    char *hdr_path = NULL, *smp_path = NULL, *line = NULL, want_hash[65], got_hash[65];
    FILE *f = NULL;
    strset ids = {0};
    size_t cap = 0, len;
    long long n_expected;
    lv_error e2;
    lv_sha256 h;
    uint8_t digest[32];
    struct stat st;
    int lineno = 0, r, dup_line;

    if (!s) { lv_errorf(err, "out of memory"); return NULL; }
    if (!(s->dir = realpath(dir, NULL)) || stat(s->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        lv_errorf(err, "%s: not a suite folder (%s)", dir, s->dir ? "not a directory" : strerror(errno));
        goto fail;
    }
    /* The manifests themselves must be inside the folder too. */
    if (!(hdr_path = suite_resolve(s->dir, "suite.json", &e2)) ||
        !(smp_path = suite_resolve(s->dir, "samples.jsonl", &e2))) {
        lv_errorf(err, "%s: %s", dir, e2.msg);
        goto fail;
    }
    if (load_header(s, hdr_path, &n_expected, want_hash, err)) goto fail;
    if (!(f = fopen(smp_path, "rb")) || fstat(fileno(f), &st) != 0) {
        lv_errorf(err, "%s: %s", smp_path, strerror(errno));
        goto fail;
    }
    if ((uint64_t)st.st_size > SAMPLES_FILE_CAP) {
        lv_errorf(err, "%s: over the %zu-byte limit", smp_path, SAMPLES_FILE_CAP);
        goto fail;
    }
    if (!(line = lv_malloc(SUITE_MAX_LINE + 1))) { lv_errorf(err, "out of memory"); goto fail; }
    lv_sha256_init(&h);
    while ((r = read_line(f, line, &len, &h)) != 0) {
        cJSON *j;
        lineno++;
        if (r < 0) { lv_errorf(err, "%s:%d: line longer than %u bytes", smp_path, lineno, SUITE_MAX_LINE); goto fail; }
        if (len == 0 || strspn(line, " \t") == len) continue;
        if (s->n_samples >= SUITE_MAX_SAMPLES) {
            lv_errorf(err, "%s:%d: more than %d samples", smp_path, lineno, SUITE_MAX_SAMPLES);
            goto fail;
        }
        if (!(j = suite_parse_json(line, len, &e2))) {
            lv_errorf(err, "%s:%d: %s", smp_path, lineno, e2.msg);
            goto fail;
        }
        if (s->n_samples == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            suite_sample *ns = lv_realloc(s->samples, ncap * sizeof *ns);
            if (!ns) { cJSON_Delete(j); lv_errorf(err, "out of memory"); goto fail; }
            s->samples = ns;
            cap = ncap;
        }
        suite_sample *smp = &s->samples[s->n_samples++];
        memset(smp, 0, sizeof *smp);
        smp->line = lineno;
        r = parse_sample(s, j, smp, &e2);
        cJSON_Delete(j);
        if (r) { lv_errorf(err, "%s:%d: %s", smp_path, lineno, e2.msg); goto fail; }
        r = strset_put(&ids, smp->id, lineno, &dup_line);
        if (r < 0) { lv_errorf(err, "out of memory"); goto fail; }
        if (r > 0) {
            lv_errorf(err, "%s:%d: duplicate id '%.64s' (first on line %d)", smp_path, lineno, smp->id, dup_line);
            goto fail;
        }
    }
    if (ferror(f)) { lv_errorf(err, "%s: read error", smp_path); goto fail; }
    if (s->n_samples == 0) { lv_errorf(err, "%s: no samples", smp_path); goto fail; }
    if (n_expected >= 0 && (size_t)n_expected != s->n_samples) {
        lv_errorf(err, "%s: %zu samples, but suite.json says %lld", smp_path, s->n_samples, n_expected);
        goto fail;
    }
    lv_sha256_final(&h, digest);
    lv_sha256_to_hex(digest, got_hash);
    if (want_hash[0] && strcmp(want_hash, got_hash) != 0) {
        lv_errorf(err, "%s: SHA-256 %s differs from suite.json's samples_sha256 (file edited?)", smp_path, got_hash);
        goto fail;
    }
    fclose(f);
    strset_free(&ids);
    lv_free(line); free(hdr_path); free(smp_path);
    return s;
fail:
    if (f) fclose(f);
    strset_free(&ids);
    lv_free(line); free(hdr_path); free(smp_path);
    suite_free(s);
    return NULL;
}

char *suite_prompt(const suite *s, const suite_sample *smp)
{
    const char *at = strstr(s->prompt, "{question}");
    size_t pre = at ? (size_t)(at - s->prompt) : strlen(s->prompt);
    size_t q = strlen(smp->question), post = at ? strlen(at + 10) : 0;
    char *out = lv_malloc(pre + q + post + 1);
    if (!out) return NULL;
    memcpy(out, s->prompt, pre);
    memcpy(out + pre, smp->question, at ? q : 0);
    memcpy(out + pre + (at ? q : 0), at ? at + 10 : "", post);
    out[pre + (at ? q : 0) + post] = 0;
    return out;
}

/* ======================================================================== */
/* Writer                                                                    */

struct suite_writer {
    char   *dir;          /* as given */
    FILE   *samples;      /* samples.jsonl.tmp */
    lv_sha256 samples_hash;
    strset  ids, images;  /* keys owned by the pools below */
    char  **pool;         /* every string the sets borrow */
    size_t  n_pool, cap_pool;
    char   *files;        /* files.sha256 text so far */
    size_t  n_files, cap_files;
    cJSON  *prov, *sources;
    size_t  n;
};

static char *pool_dup(suite_writer *w, const char *s)
{
    if (w->n_pool == w->cap_pool) {
        size_t nc = w->cap_pool ? w->cap_pool * 2 : 256;
        char **np = lv_realloc(w->pool, nc * sizeof *np);
        if (!np) return NULL;
        w->pool = np;
        w->cap_pool = nc;
    }
    return (w->pool[w->n_pool++] = dup_str(s));
}

static int path_join(char *out, size_t cap, const char *a, const char *b, lv_error *err)
{
    if ((size_t)snprintf(out, cap, "%s/%s", a, b) >= cap) return lv_errorf(err, "path too long");
    return 0;
}

suite_writer *suite_writer_open(const char *dir, lv_error *err)
{
    suite_writer *w;
    char path[PATH_MAX];
    struct stat st;
    if (stat(dir, &st) == 0) {
        DIR *d;
        struct dirent *de;
        int empty = 1;
        if (!S_ISDIR(st.st_mode)) { lv_errorf(err, "%s: exists and is not a folder", dir); return NULL; }
        /* Never mix a new suite into an old folder or the leftovers of a failed run. */
        if (!(d = opendir(dir))) { lv_errorf(err, "%s: %s", dir, strerror(errno)); return NULL; }
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) empty = 0;
        closedir(d);
        if (!empty) { lv_errorf(err, "%s: folder is not empty (remove it first)", dir); return NULL; }
    } else {
        /* mkdir -p */
        if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) { lv_errorf(err, "path too long"); return NULL; }
        for (char *p = path + 1; ; p++) {
            if (*p && *p != '/') continue;
            char c = *p;
            *p = 0;
            if (mkdir(path, 0777) != 0 && errno != EEXIST) { lv_errorf(err, "%s: %s", path, strerror(errno)); return NULL; }
            if (!(*p = c)) break;
        }
    }
    if (!(w = lv_calloc(1, sizeof *w))) { lv_errorf(err, "out of memory"); return NULL; }
    w->dir = dup_str(dir);
    w->prov = cJSON_CreateObject();
    if (!w->dir || !w->prov || path_join(path, sizeof path, dir, "samples.jsonl.tmp", err)) goto fail;
    if (!(w->samples = fopen(path, "wb"))) { lv_errorf(err, "%s: %s", path, strerror(errno)); goto fail; }
    lv_sha256_init(&w->samples_hash);
    return w;
fail:
    if (!err || !err->msg[0]) lv_errorf(err, "out of memory");
    suite_writer_abort(w);
    return NULL;
}

void suite_writer_abort(suite_writer *w)
{
    if (!w) return;
    if (w->samples) fclose(w->samples);
    strset_free(&w->ids);
    strset_free(&w->images);
    for (size_t i = 0; i < w->n_pool; i++) lv_free(w->pool[i]);
    lv_free(w->pool);
    lv_free(w->files);
    cJSON_Delete(w->prov);
    cJSON_Delete(w->sources);
    lv_free(w->dir);
    lv_free(w);
}

size_t suite_writer_count(const suite_writer *w) { return w->n; }

/* Appends "<hex>  <rel>\n" to the files.sha256 text. */
static int files_add(suite_writer *w, const char *hex, const char *rel, lv_error *err)
{
    size_t need = strlen(hex) + strlen(rel) + 4;
    if (w->n_files + need > w->cap_files) {
        size_t nc = w->cap_files ? w->cap_files * 2 : 65536;
        while (nc < w->n_files + need) nc *= 2;
        char *nb = lv_realloc(w->files, nc);
        if (!nb) return lv_errorf(err, "out of memory");
        w->files = nb;
        w->cap_files = nc;
    }
    w->n_files += (size_t)sprintf(w->files + w->n_files, "%s  %s\n", hex, rel);
    return 0;
}

/* Creates the parent folders of rel under w->dir. */
static int make_parents(const suite_writer *w, const char *rel, lv_error *err)
{
    char path[PATH_MAX];
    size_t base;
    if (path_join(path, sizeof path, w->dir, rel, err)) return -1;
    base = strlen(w->dir) + 1;
    for (char *p = path + base; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            lv_errorf(err, "%s: %s", path, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    return 0;
}

/* Registers rel as an image; 1 if it was already written, 0 if new, -1 on error. */
static int claim_image(suite_writer *w, const char *rel, lv_error *err)
{
    char *k;
    int r;
    if (suite_check_relpath(rel, err)) return -1;
    if (strcmp(rel, "suite.json") == 0 || strncmp(rel, "samples.jsonl", 13) == 0 ||
        strncmp(rel, "files.sha256", 12) == 0)
        return lv_errorf(err, "'%s' is a reserved name", rel);
    if (!(k = pool_dup(w, rel))) return lv_errorf(err, "out of memory");
    r = strset_put(&w->images, k, 0, NULL);
    if (r < 0) return lv_errorf(err, "out of memory");
    if (r == 0 && make_parents(w, rel, err)) return -1;
    return r;
}

int suite_writer_put_image(suite_writer *w, const char *rel, const void *data, size_t len, lv_error *err)
{
    char path[PATH_MAX], hex[LV_SHA256_HEX];
    int r = claim_image(w, rel, err), fd;
    if (r) return r < 0 ? -1 : lv_errorf(err, "image '%s' written twice", rel);
    if (path_join(path, sizeof path, w->dir, rel, err)) return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) return lv_errorf(err, "%s: %s", path, strerror(errno));
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, (const char *)data + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { close(fd); return lv_errorf(err, "%s: %s", path, strerror(errno)); }
        off += (size_t)n;
    }
    if (close(fd) != 0) return lv_errorf(err, "%s: %s", path, strerror(errno));
    lv_sha256_hex(data, len, hex);
    return files_add(w, hex, rel, err);
}

/* Copies src to dst (new file) with a size cap. */
static int copy_file(const char *src, const char *dst, uint64_t max_bytes, lv_error *err)
{
    char buf[65536];
    uint64_t total = 0;
    ssize_t n;
    int rc = -1, in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
    if (in < 0) return lv_errorf(err, "%s: %s", src, strerror(errno));
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (out < 0) { lv_errorf(err, "%s: %s", dst, strerror(errno)); goto done; }
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { lv_errorf(err, "%s: %s", src, strerror(errno)); goto done; }
        if ((total += (uint64_t)n) > max_bytes) { lv_errorf(err, "%s: over the size limit", src); goto done; }
        if (write(out, buf, (size_t)n) != n) { lv_errorf(err, "%s: %s", dst, strerror(errno)); goto done; }
    }
    rc = 0;
done:
    close(in);
    if (out >= 0 && close(out) != 0 && rc == 0) rc = lv_errorf(err, "%s: %s", dst, strerror(errno));
    if (rc) unlink(dst);
    return rc;
}

int suite_writer_link_image(suite_writer *w, const char *rel, const char *src, uint64_t max_bytes, lv_error *err)
{
    char path[PATH_MAX], hex[LV_SHA256_HEX];
    struct stat st;
    int r = claim_image(w, rel, err);
    if (r) return r < 0 ? -1 : 0;     /* several questions about one image: link once */
    if (stat(src, &st) != 0 || !S_ISREG(st.st_mode))
        return lv_errorf(err, "%s: not a regular file", src);
    if ((uint64_t)st.st_size > max_bytes)
        return lv_errorf(err, "%s: %lld bytes is over the %llu-byte image limit", src,
                         (long long)st.st_size, (unsigned long long)max_bytes);
    if (path_join(path, sizeof path, w->dir, rel, err)) return -1;
    if (link(src, path) != 0) {
        if (errno != EXDEV && errno != EPERM && errno != EMLINK)
            return lv_errorf(err, "%s: %s", path, strerror(errno));
        if (copy_file(src, path, max_bytes, err)) return -1;
    }
    if (lv_sha256_file(path, hex, NULL, err)) return -1;
    return files_add(w, hex, rel, err);
}

static int add_str_array(cJSON *o, const char *key, const char *const *v, int n)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    if (!a) return -1;
    for (int i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateString(v[i] ? v[i] : "");
        if (!s) return -1;
        cJSON_AddItemToArray(a, s);
    }
    return 0;
}

int suite_writer_add(suite_writer *w, const suite_sample_in *in, lv_error *err)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL, *k;
    int rc = -1, r;
    if (!o) return lv_errorf(err, "out of memory");
    if (!in->id || !in->id[0] || strlen(in->id) > SUITE_MAX_ID) { lv_errorf(err, "bad sample id"); goto done; }
    if (!in->image || !in->question) { lv_errorf(err, "sample '%s': image and question are required", in->id); goto done; }
    if (!(k = pool_dup(w, in->id))) { lv_errorf(err, "out of memory"); goto done; }
    if ((r = strset_put(&w->ids, k, 0, NULL)) != 0) {
        lv_errorf(err, r < 0 ? "out of memory" : "duplicate sample id '%.64s'", in->id);
        goto done;
    }
    if (!cJSON_AddStringToObject(o, "id", in->id) || !cJSON_AddStringToObject(o, "image", in->image) ||
        !cJSON_AddStringToObject(o, "question", in->question))
        goto oom;
    if (in->n_answers && add_str_array(o, "answers", in->answers, in->n_answers)) goto oom;
    if (in->n_choices && add_str_array(o, "choices", in->choices, in->n_choices)) goto oom;
    if (in->label && !cJSON_AddStringToObject(o, "label", in->label)) goto oom;
    if (in->objects && add_str_array(o, "objects", in->objects, in->n_objects)) goto oom;
    if (in->category && !cJSON_AddStringToObject(o, "category", in->category)) goto oom;
    if (in->meta_json) {
        lv_error e2;
        cJSON *m = suite_parse_json(in->meta_json, strlen(in->meta_json), &e2);
        if (!m || !cJSON_IsObject(m)) {
            cJSON_Delete(m);
            lv_errorf(err, "sample '%s': meta is not a JSON object", in->id);
            goto done;
        }
        cJSON_AddItemToObject(o, "meta", m);
    }
    if (!(text = cJSON_PrintUnformatted(o))) goto oom;
    size_t len = strlen(text);
    text[len] = '\n';   /* cJSON's buffer has the NUL there: reuse it for the newline */
    if (fwrite(text, 1, len + 1, w->samples) != len + 1) { lv_errorf(err, "samples.jsonl: write failed"); goto done; }
    lv_sha256_update(&w->samples_hash, text, len + 1);
    w->n++;
    rc = 0;
    goto done;
oom:
    lv_errorf(err, "out of memory");
done:
    cJSON_free(text);
    cJSON_Delete(o);
    return rc;
}

int suite_writer_prov_str(suite_writer *w, const char *key, const char *val)
{
    return cJSON_AddStringToObject(w->prov, key, val ? val : "") ? 0 : -1;
}

int suite_writer_prov_num(suite_writer *w, const char *key, double val)
{
    return cJSON_AddNumberToObject(w->prov, key, val) ? 0 : -1;
}

int suite_writer_prov_bool(suite_writer *w, const char *key, int val)
{
    return cJSON_AddBoolToObject(w->prov, key, val) ? 0 : -1;
}

int suite_writer_prov_source(suite_writer *w, const char *path, char hex_out[65], lv_error *err)
{
    char hex[LV_SHA256_HEX];
    uint64_t size;
    const char *base = strrchr(path, '/');
    cJSON *o;
    if (lv_sha256_file(path, hex, &size, err)) return -1;
    if (hex_out) memcpy(hex_out, hex, LV_SHA256_HEX);
    if (!w->sources && !(w->sources = cJSON_CreateArray())) return lv_errorf(err, "out of memory");
    if (!(o = cJSON_CreateObject())) return lv_errorf(err, "out of memory");
    cJSON_AddItemToArray(w->sources, o);
    if (!cJSON_AddStringToObject(o, "name", base ? base + 1 : path) ||
        !cJSON_AddNumberToObject(o, "bytes", (double)size) || !cJSON_AddStringToObject(o, "sha256", hex))
        return lv_errorf(err, "out of memory");
    return 0;
}

int suite_writer_prov_source_url(suite_writer *w, const char *url)
{
    int n = w->sources ? cJSON_GetArraySize(w->sources) : 0;
    if (n == 0) return -1;
    return cJSON_AddStringToObject(cJSON_GetArrayItem(w->sources, n - 1), "url", url) ? 0 : -1;
}

/* Writes data to dir/name through name.tmp, fsync and rename. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len, lv_error *err)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    FILE *f;
    int ok;
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    if (path_join(dst, sizeof dst, dir, name, err)) return -1;
    if (!(f = fopen(tmp, "wb"))) return lv_errorf(err, "%s: %s", tmp, strerror(errno));
    ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !ok || rename(tmp, dst) != 0) {
        unlink(tmp);
        return lv_errorf(err, "%s: write failed", dst);
    }
    return 0;
}

int suite_writer_finish(suite_writer *w, const suite_info *info, lv_error *err)
{
    char tmp[PATH_MAX], dst[PATH_MAX], hex[LV_SHA256_HEX], files_hex[LV_SHA256_HEX], *text = NULL;
    uint8_t d[32];
    cJSON *j = NULL;
    int rc = -1, ok;
    if (!suite_task_known(info->task) || !info->prompt || !strstr(info->prompt, "{question}") || !info->name) {
        lv_errorf(err, "bad suite header (task, name or prompt)");
        goto done;
    }
    if (w->n == 0) { lv_errorf(err, "no samples to write"); goto done; }
    snprintf(tmp, sizeof tmp, "%s/samples.jsonl.tmp", w->dir);
    snprintf(dst, sizeof dst, "%s/samples.jsonl", w->dir);
    ok = fflush(w->samples) == 0 && fsync(fileno(w->samples)) == 0;
    ok = fclose(w->samples) == 0 && ok;
    w->samples = NULL;
    if (!ok || rename(tmp, dst) != 0) { lv_errorf(err, "%s: write failed", dst); goto done; }
    lv_sha256_final(&w->samples_hash, d);
    lv_sha256_to_hex(d, hex);
    if (files_add(w, hex, "samples.jsonl", err)) goto done;
    if (write_atomic(w->dir, "files.sha256", w->files, w->n_files, err)) goto done;
    lv_sha256_hex(w->files, w->n_files, files_hex);

    if (!(j = cJSON_CreateObject())) goto oom;
    if (!cJSON_AddNumberToObject(j, "format", SUITE_FORMAT) || !cJSON_AddStringToObject(j, "name", info->name) ||
        !cJSON_AddStringToObject(j, "task", info->task) || !cJSON_AddStringToObject(j, "prompt", info->prompt))
        goto oom;
    int nm = 0;
    while (info->metrics && info->metrics[nm]) nm++;
    if (add_str_array(j, "metrics", info->metrics, nm)) goto oom;
    if (info->description && !cJSON_AddStringToObject(j, "description", info->description)) goto oom;
    if (!cJSON_AddNumberToObject(j, "n_samples", (double)w->n) ||
        !cJSON_AddStringToObject(j, "samples_sha256", hex) || !cJSON_AddStringToObject(j, "files_sha256", files_hex))
        goto oom;
    if (w->sources) { cJSON_AddItemToObject(w->prov, "sources", w->sources); w->sources = NULL; }
    cJSON_AddItemToObject(j, "provenance", w->prov);
    w->prov = NULL;
    if (!(text = cJSON_Print(j))) goto oom;
    size_t len = strlen(text);
    text[len] = '\n';
    if (write_atomic(w->dir, "suite.json", text, len + 1, err)) goto done;
    rc = 0;
    goto done;
oom:
    lv_errorf(err, "out of memory");
done:
    cJSON_free(text);
    cJSON_Delete(j);
    suite_writer_abort(w);
    return rc;
}
