/* datasets/import_mme.c — the official MME folder layout to a yes/no suite.
 *
 *   MME_Benchmark_release_version/<subtask>/questions_answers_YN/<img>.txt + images/<img>.jpg
 *   MME_Benchmark_release_version/<subtask>/<img>.txt + <img>.png   (the other subtasks)
 * Each .txt holds the two questions about one image, "question<TAB>Yes|No" per line. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "datasets/import.h"

#define MAX_ENTRIES 100000

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names in dir (no dot files) with the given suffix ("" = folders only), so the
 * suite does not depend on readdir order. */
static char **list_dir(const char *dir, const char *suffix, int *n, lv_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **v = NULL;
    *n = 0;
    if (!d) { lv_errorf(err, "%s: cannot open folder", dir); return NULL; }
    while ((de = readdir(d))) {
        char p[4096];
        struct stat st;
        size_t len = strlen(de->d_name), sl = strlen(suffix);
        if (de->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) != 0) continue;
        if (sl ? !S_ISREG(st.st_mode) || len <= sl || strcmp(de->d_name + len - sl, suffix) != 0 : !S_ISDIR(st.st_mode))
            continue;
        if (*n == MAX_ENTRIES) break;
        char **nv = lv_realloc(v, (size_t)(*n + 1) * sizeof *v);
        if (!nv) break;
        v = nv;
        if (!(v[*n] = lv_strndup(de->d_name, len))) break;
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(v, (size_t)*n, sizeof *v, cmp_str);
    return v ? v : lv_calloc(1, sizeof *v);
}

static void free_names(char **v, int n)
{
    for (int i = 0; i < n; i++) lv_free(v[i]);
    lv_free(v);
}

/* The image beside a question file: same base name, one of the extensions MME uses. */
static int find_image(const char *dir, const char *base, char *out, size_t cap)
{
    static const char *const ext[] = {".jpg", ".png", ".jpeg", ".JPG", ".PNG", NULL};
    struct stat st;
    for (int i = 0; ext[i]; i++) {
        char p[4096];
        if ((size_t)snprintf(out, cap, "%s%s", base, ext[i]) >= cap ||
            (size_t)snprintf(p, sizeof p, "%s/%s", dir, out) >= sizeof p)
            return -1;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    }
    return -1;
}

/* Imports one question file; counts yes/no answers into *n_q. */
static int mme_file(suite_import_ctx *c, const char *subtask, const char *txt_path, const char *img_rel_dir,
                    const char *img_dir, const char *base, long *n_q, lv_error *err)
{
    char img[512], name[1024], rel[SUITE_MAX_PATH + 1], sid[1200], pair[1100], meta[1300];
    size_t len;
    lv_error e2;
    int lineno = 0, k = 0, r, rc = -1;
    char *text = suite_read_file(txt_path, 1 << 16, &len, err), *line, *next;
    if (!text) return -1;
    if (suite_check_text(text, len, &e2)) { lv_errorf(err, "%s: %s", txt_path, e2.msg); goto done; }
    if (find_image(img_dir, base, img, sizeof img)) {
        if (c->o->skip_missing) { c->n_missing++; rc = 0; goto done; }
        lv_errorf(err, "%s: no image %s.{jpg,png} beside it", txt_path, base);
        goto done;
    }
    if ((size_t)snprintf(name, sizeof name, "%s%s", img_rel_dir, img) >= sizeof name ||
        (size_t)snprintf(pair, sizeof pair, "%s/%s", subtask, base) >= sizeof pair) {
        lv_errorf(err, "%s: name too long", txt_path);
        goto done;
    }
    for (line = text; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        size_t ll = strlen(line);
        while (ll && (line[ll - 1] == '\r' || line[ll - 1] == ' ')) line[--ll] = 0;
        if (!ll) continue;
        char *tab = strrchr(line, '\t');
        const char *label = NULL;
        if (tab) {
            *tab = 0;
            label = strcasecmp(tab + 1, "yes") == 0 ? "yes" : strcasecmp(tab + 1, "no") == 0 ? "no" : NULL;
        }
        if (!label || !line[0]) { lv_errorf(err, "%s:%d: expected \"question<TAB>Yes|No\"", txt_path, lineno); goto done; }
        if (k == 0 && (r = suite_import_image(c, "", name, rel, err)) != 0) { rc = r < 0 ? -1 : 0; goto done; }
        snprintf(sid, sizeof sid, "%s/%d", pair, k);
        /* meta.pair: MME's acc+ needs both questions of an image right. */
        snprintf(meta, sizeof meta, "{\"pair\":\"%s\"}", pair);
        suite_sample_in in = {.id = sid, .image = rel, .question = line, .label = label, .category = subtask,
                              .meta_json = meta};
        if (suite_writer_add(c->w, &in, &e2)) { lv_errorf(err, "%s:%d: %s", txt_path, lineno, e2.msg); goto done; }
        k++;
        (*n_q)++;
    }
    rc = 0;
done:
    lv_free(text);
    return rc;
}

int suite_import_mme(suite_import_ctx *c, const char *const *srcs, int n, char *summary, lv_error *err)
{
    int n_sub = 0, rc = -1;
    char **subs = NULL;
    if (n != 1) return lv_errorf(err, "mme: give the MME_Benchmark_release_version folder");
    if (!(subs = list_dir(c->images_real, "", &n_sub, err))) return -1;
    for (int s = 0; s < n_sub; s++) {
        char qdir[4096], idir[4096], rel_dir[1100], txt[8192];
        struct stat st;
        int n_txt = 0;
        long n_q = 0;
        lv_error e2;
        if (suite_check_relpath(subs[s], &e2) || strchr(subs[s], '"') || strchr(subs[s], '\\')) continue;
        snprintf(qdir, sizeof qdir, "%s/%s/questions_answers_YN", c->images_real, subs[s]);
        if (stat(qdir, &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(idir, sizeof idir, "%s/%s/images", c->images_real, subs[s]);
            snprintf(rel_dir, sizeof rel_dir, "%s/images/", subs[s]);
        } else {
            snprintf(qdir, sizeof qdir, "%s/%s", c->images_real, subs[s]);
            snprintf(idir, sizeof idir, "%s", qdir);
            snprintf(rel_dir, sizeof rel_dir, "%s/", subs[s]);
        }
        char **txts = list_dir(qdir, ".txt", &n_txt, err);
        if (!txts) goto done;
        for (int t = 0; t < n_txt; t++) {
            char base[1024];
            snprintf(base, sizeof base, "%.*s", (int)(strlen(txts[t]) - 4), txts[t]);
            snprintf(txt, sizeof txt, "%s/%s", qdir, txts[t]);
            if (strchr(base, '"') || strchr(base, '\\')) continue;   /* kept out of the JSON by hand below */
            if (mme_file(c, subs[s], txt, rel_dir, idir, base, &n_q, err)) { free_names(txts, n_txt); goto done; }
        }
        free_names(txts, n_txt);
        if (n_q)
            snprintf(summary + strlen(summary), 480 - strlen(summary), "%s%s %ld", summary[0] ? ", " : "", subs[s], n_q);
    }
    rc = 0;
done:
    free_names(subs, n_sub);
    return rc;
}
