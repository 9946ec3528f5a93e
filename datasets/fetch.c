/* datasets/fetch.c — resumable, verified downloads (see fetch.h). */
#include "datasets/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/import.h"
#include "datasets/suite.h"
#include "engine/sha256.h"

#define POPE_BASE "https://raw.githubusercontent.com/RUCAIBox/POPE/e3e39262c85a6a83f26cf5094022a782cb0df58d/output/coco/"

/* Pinned from ecosystem.md §1. POPE at e3e3926 is the commit LLaVA-1.5's numbers use. */
const fetch_entry fetch_catalog[] = {
    {"pope", "POPE COCO question files at RUCAIBox/POPE e3e3926 (random, popular, adversarial)",
     {{"pope/coco_pope_random.json", POPE_BASE "coco_pope_random.json", 360212,
       "c16b65d2df6d70bb0814c8a4375833d39cdb09928fd936d3fc546491efa37f35"},
      {"pope/coco_pope_popular.json", POPE_BASE "coco_pope_popular.json", 370234,
       "5b16653023bf4f64d57eb0d168259de6627f5cde7538b85ebed3cc33034aa6cc"},
      {"pope/coco_pope_adversarial.json", POPE_BASE "coco_pope_adversarial.json", 370459,
       "1d8f0906a9b50c05640f6f23abfac97523be2a1bed28f7eadc63b811699b2d26"},
      {NULL, NULL, 0, NULL}}},
    {"textvqa-val", "TextVQA 0.5.1 val questions and answers (5000 questions)",
     {{"textvqa/TextVQA_0.5.1_val.json", "https://dl.fbaipublicfiles.com/textvqa/data/TextVQA_0.5.1_val.json",
       3116162, "4ceb5aadc1a41719d0a3e4dfdf06838bcfee1db569a9a65ee67d31c99893081d"},
      {NULL, NULL, 0, NULL}}},
    {"textvqa-images", "TextVQA train+val images (zip, 7.1 GB; unzip it yourself)",
     {{"textvqa/train_val_images.zip", "https://dl.fbaipublicfiles.com/textvqa/images/train_val_images.zip",
       7072297970ull, "ecf35005640d0708eae185aab1c0a10f89b2db7420b29185a1ed92a8f4290498"},
      {NULL, NULL, 0, NULL}}},
    {"coco-annotations-2014", "COCO 2014 captions + instances (zip, 253 MB; for CHAIR and POPE)",
     {{"coco/annotations_trainval2014.zip", "http://images.cocodataset.org/annotations/annotations_trainval2014.zip",
       252872794, "031296bbc80c45a1d1f76bf9a90ead27e94e99ec629208449507a4917a3bf009"},
      {NULL, NULL, 0, NULL}}},
    {"coco-val2014", "COCO val2014 images (zip, 6.6 GB; unzip it yourself)",
     {{"coco/val2014.zip", "http://images.cocodataset.org/zips/val2014.zip", 6645013297ull,
       "fe9be816052049c34717e077d9e34aa60814a55679f804cd043e3cbee3b9fde0"},
      {NULL, NULL, 0, NULL}}},
    {NULL, NULL, {{NULL, NULL, 0, NULL}}},
};

const fetch_entry *fetch_find(const char *name)
{
    for (const fetch_entry *e = fetch_catalog; name && e->name; e++)
        if (strcmp(e->name, name) == 0) return e;
    return NULL;
}

const fetch_item *fetch_find_by_sha256(const char *hex)
{
    for (const fetch_entry *e = fetch_catalog; hex && e->name; e++)
        for (const fetch_item *it = e->items; it->name; it++)
            if (strcasecmp(it->sha256, hex) == 0) return it;
    return NULL;
}

char *fetch_default_cache(void)
{
    const char *v = getenv("LLAVA_EVAL_CACHE"), *home;
    char buf[PATH_MAX];
    if (v && *v) return strdup(v);
    if ((v = getenv("XDG_CACHE_HOME")) && *v) snprintf(buf, sizeof buf, "%s/llava-eval", v);
    else if ((home = getenv("HOME")) && *home) snprintf(buf, sizeof buf, "%s/.cache/llava-eval", home);
    else snprintf(buf, sizeof buf, ".llava-eval-cache");
    return strdup(buf);
}

/* ======================================================================== */
/* One transfer                                                              */

typedef struct {
    int       fd;            /* the .part, open read-write */
    uint64_t  offset;        /* bytes in the part when the transfer started */
    uint64_t  written;       /* part size now */
    uint64_t  expect;        /* expected total, 0 = unknown */
    lv_sha256 hash;          /* over the part's bytes, in order */
    long      status;        /* status of the response being received */
    int       checked;       /* the final response's status has been acted on */
    int       restarted;     /* a 200 answered our Range: the part was restarted */
    char      validator[256], content_range[128];
    const char *validator_path;
    char      why[300];      /* reason when a callback aborts the transfer */
    int       n_responses;   /* status lines seen (redirects count) */
    char      linked_sha[65];/* X-Linked-Etag of the first response (Hugging Face LFS) */
    uint64_t  linked_size;   /* X-Linked-Size of the first response, 0 = none */
    const char *label;       /* progress line label; NULL = no progress */
    double    last_ms;       /* when the progress line was last drawn */
} xfer;

/* A one-line progress meter on a terminal, redrawn at most twice a second. */
static int on_progress(void *ud, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total, curl_off_t ul_now)
{
    xfer *x = ud;
    double now = lv_now_ms();
    (void)dl_total; (void)dl_now; (void)ul_total; (void)ul_now;
    if (!x->label || now - x->last_ms < 500) return 0;
    x->last_ms = now;
    if (x->expect)
        fprintf(stderr, "\r  %s: %.1f / %.1f MB (%.0f%%)  ", x->label, (double)x->written / 1e6, (double)x->expect / 1e6,
                100.0 * (double)x->written / (double)x->expect);
    else
        fprintf(stderr, "\r  %s: %.1f MB  ", x->label, (double)x->written / 1e6);
    return 0;
}

/* Header lines of every response (redirects too); a status line starts a new one. */
static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n, k;
    char line[512];
    k = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, buf, k);
    line[k] = 0;
    line[strcspn(line, "\r\n")] = 0;
    if (strncmp(line, "HTTP/", 5) == 0) {
        const char *sp = strchr(line, ' ');
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        x->validator[0] = x->content_range[0] = 0;
        x->n_responses++;
    } else if (strncasecmp(line, "X-Linked-Etag:", 14) == 0 && x->n_responses == 1) {
        /* The hub names the LFS file's SHA-256 before redirecting to the CDN. */
        char v[80];
        snprintf(v, sizeof v, "%s", line + 14 + strspn(line + 14, " \t\"W/"));
        v[strcspn(v, "\"")] = 0;
        if (lv_sha256_valid_hex(v)) for (int i = 0; i < 65; i++) x->linked_sha[i] = (char)(v[i] | (i < 64 ? 0x20 : 0));
    } else if (strncasecmp(line, "X-Linked-Size:", 14) == 0 && x->n_responses == 1) {
        x->linked_size = strtoull(line + 14, NULL, 10);
    } else if (strncasecmp(line, "ETag:", 5) == 0) {
        snprintf(x->validator, sizeof x->validator, "%s", line + 5 + strspn(line + 5, " \t"));
    } else if (strncasecmp(line, "Last-Modified:", 14) == 0 && !x->validator[0]) {
        snprintf(x->validator, sizeof x->validator, "%s", line + 14 + strspn(line + 14, " \t"));
    } else if (strncasecmp(line, "Content-Range:", 14) == 0) {
        snprintf(x->content_range, sizeof x->content_range, "%s", line + 14 + strspn(line + 14, " \t"));
    }
    return len;
}

static int write_all(int fd, const void *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)p + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        off += (size_t)w;
    }
    return 0;
}

/* Acts on the final response's status before its first body byte is stored. */
static int check_response(xfer *x)
{
    x->checked = 1;
    if (x->status == 206) {
        unsigned long long start = 0;
        if (sscanf(x->content_range, "bytes %llu-", &start) != 1 || start != x->offset) {
            snprintf(x->why, sizeof x->why, "server resumed at the wrong place (Content-Range '%.100s', wanted %llu)",
                     x->content_range, (unsigned long long)x->offset);
            return -1;
        }
    } else if (x->status == 200) {
        /* A full body: drop whatever the part held (server ignored Range, or If-Range
         * saw a changed file). */
        if (x->offset > 0) {
            if (ftruncate(x->fd, 0) != 0 || lseek(x->fd, 0, SEEK_SET) != 0) {
                snprintf(x->why, sizeof x->why, "cannot truncate the part: %s", strerror(errno));
                return -1;
            }
            x->restarted = 1;
        }
        x->offset = x->written = 0;
        lv_sha256_init(&x->hash);
    } else {
        return 0;   /* an error page: its body is discarded, the status reported */
    }
    /* Remember what this part is a prefix of, for If-Range next time. */
    FILE *f = fopen(x->validator_path, "w");
    if (f) {
        fprintf(f, "%s\n", x->validator);
        fclose(f);
    }
    return 0;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (!x->checked && check_response(x)) return 0;
    if (x->status != 200 && x->status != 206) return len;
    if (x->expect && x->written + len > x->expect) {
        snprintf(x->why, sizeof x->why, "server sent more than the expected %llu bytes", (unsigned long long)x->expect);
        return 0;
    }
    if (write_all(x->fd, buf, len)) {
        snprintf(x->why, sizeof x->why, "cannot write the part: %s", strerror(errno));
        return 0;
    }
    lv_sha256_update(&x->hash, buf, len);
    x->written += len;
    return len;
}

/* Hashes the first n bytes of fd into h. */
static int hash_prefix(int fd, uint64_t n, lv_sha256 *h)
{
    char buf[65536];
    uint64_t done = 0;
    if (lseek(fd, 0, SEEK_SET) != 0) return -1;
    while (done < n) {
        ssize_t r = read(fd, buf, n - done < sizeof buf ? (size_t)(n - done) : sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        lv_sha256_update(h, buf, (size_t)r);
        done += (uint64_t)r;
    }
    return 0;
}

static void read_line_file(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    out[0] = 0;
    if (!f) return;
    if (!fgets(out, (int)cap, f)) out[0] = 0;
    out[strcspn(out, "\r\n")] = 0;
    fclose(f);
}

/* One HTTP transfer into the part. Returns 0 when the body arrived whole (or 416 says
 * the part already is), -1 with err otherwise. */
static int transfer(const fetch_opts *o, const fetch_item *it, xfer *x, const char *etag_path, lv_error *err)
{
    char errbuf[CURL_ERROR_SIZE] = "", range[48], ifrange[300];
    struct curl_slist *hdrs = NULL;
    CURL *c = curl_easy_init();
    CURLcode rc;
    long status = 0;
    if (!c) return lv_errorf(err, "cannot start libcurl");
    curl_easy_setopt(c, CURLOPT_URL, it->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, o->protocols ? o->protocols : "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, o->redir_protocols ? o->redir_protocols : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s > 0 ? o->connect_timeout_s : 15L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes > 0 ? o->low_speed_bytes : 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s > 0 ? o->low_speed_time_s : 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "llava-eval/0.1");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    if (x->label) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    if (x->offset > 0) {
        char v[256];
        snprintf(range, sizeof range, "%llu-", (unsigned long long)x->offset);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
        read_line_file(etag_path, v, sizeof v);
        if (v[0]) {
            snprintf(ifrange, sizeof ifrange, "If-Range: %s", v);
            hdrs = curl_slist_append(hdrs, ifrange);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        }
    }
    rc = curl_easy_perform(c);
    if (x->label && x->last_ms > 0) fputc('\n', stderr);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);

    if (rc == CURLE_OK && status == 416 && x->offset > 0) return 0;   /* the part is whole */
    if (rc == CURLE_OK && status != 200 && status != 206)
        return lv_errorf(err, "HTTP %ld from %s", status, it->url);
    if (rc == CURLE_OK) return 0;
    if (x->why[0]) return lv_errorf(err, "%s", x->why);
    switch (rc) {
    case CURLE_PARTIAL_FILE:
        return lv_errorf(err, "connection closed after %llu bytes%s; run again to resume",
                         (unsigned long long)x->written, x->expect ? " of the expected size" : "");
    case CURLE_OPERATION_TIMEDOUT:
        return lv_errorf(err, "%s after %llu bytes; run again to resume",
                         x->written || x->checked ? "transfer stalled (below the low-speed limit)" : "timed out",
                         (unsigned long long)x->written);
    case CURLE_UNSUPPORTED_PROTOCOL:
        return lv_errorf(err, "refused URL or redirect with a protocol outside '%s' (%s)",
                         o->redir_protocols ? o->redir_protocols : "https", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    case CURLE_TOO_MANY_REDIRECTS:
        return lv_errorf(err, "too many redirects from %s", it->url);
    case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST:
        return lv_errorf(err, "cannot connect to %s (%s)", it->url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    default:
        return lv_errorf(err, "%s (curl %d)", errbuf[0] ? errbuf : curl_easy_strerror(rc), (int)rc);
    }
}

/* ======================================================================== */
/* The cache                                                                 */

static int mkdirs_for(const char *file, lv_error *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", file);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return lv_errorf(err, "%s: %s", buf, strerror(errno));
        *p = '/';
    }
    return 0;
}

static void fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return;
    *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) { fsync(fd); close(fd); }
}

/* Checks a file already in the cache. 1 = good, 0 = absent or to be refetched. */
static int cached_ok(const fetch_opts *o, const fetch_item *it, const char *final, const char *want, lv_error *err)
{
    struct stat st;
    char hex[LV_SHA256_HEX];
    if (stat(final, &st) != 0) return 0;
    if (!S_ISREG(st.st_mode)) return lv_errorf(err, "%s: not a regular file", final);
    if ((it->size && (uint64_t)st.st_size != it->size) ||
        (o->verify_cached && want[0] && (lv_sha256_file(final, hex, NULL, err) || strcasecmp(hex, want) != 0))) {
        if (!o->quiet) fprintf(stderr, "llava-eval: fetch: %s: cached copy does not match the catalogue; fetching again\n", it->name);
        unlink(final);
        return 0;
    }
    return 1;
}

int fetch_file(const fetch_opts *o, const fetch_item *it, char **path_out, lv_error *err)
{
    static int curl_ready;
    char final[PATH_MAX], part[PATH_MAX + 16], etag[PATH_MAX + 16], lock[PATH_MAX + 16], tofu[PATH_MAX + 16];
    char want[LV_SHA256_HEX] = "", got[LV_SHA256_HEX];
    char *cache = o->cache_dir ? strdup(o->cache_dir) : fetch_default_cache();
    int lock_fd = -1, rc = -1, r;
    xfer x;
    lv_error e2;
    uint8_t digest[LV_SHA256_BYTES];

    memset(&x, 0, sizeof x);
    x.fd = -1;
    if (path_out) *path_out = NULL;
    if (!cache) return lv_errorf(err, "out of memory");
    if (suite_check_relpath(it->name, &e2)) { lv_errorf(err, "%s: bad cache name: %s", it->name, e2.msg); goto done; }
    if (it->sha256 && !lv_sha256_valid_hex(it->sha256)) { lv_errorf(err, "%s: bad pinned hash", it->name); goto done; }
    if ((size_t)snprintf(final, sizeof final, "%s/%s", cache, it->name) >= sizeof final - 16) {
        lv_errorf(err, "%s: cache path too long", it->name);
        goto done;
    }
    snprintf(part, sizeof part, "%s.part", final);
    snprintf(etag, sizeof etag, "%s.part.etag", final);
    snprintf(lock, sizeof lock, "%s.lock", final);
    snprintf(tofu, sizeof tofu, "%s.sha256", final);
    if (mkdirs_for(final, err)) goto done;

    /* One process per file: a second waits (or, with no_wait, gives up). */
    if ((lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0) {
        lv_errorf(err, "%s: %s", lock, strerror(errno));
        goto done;
    }
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK || o->no_wait) {
            lv_errorf(err, "%s: another process is fetching it (lock %s)", it->name, lock);
            goto done;
        }
        if (!o->quiet) fprintf(stderr, "llava-eval: fetch: %s: waiting for another process to finish\n", it->name);
        if (flock(lock_fd, LOCK_EX) != 0) { lv_errorf(err, "%s: %s", lock, strerror(errno)); goto done; }
    }

    if (it->sha256) {
        for (int i = 0; i < 65; i++) want[i] = (char)(i < 64 ? it->sha256[i] | 0x20 : 0);
    } else {
        read_line_file(tofu, want, sizeof want);   /* the hash recorded on first use */
        if (!lv_sha256_valid_hex(want)) want[0] = 0;
    }
    if ((r = cached_ok(o, it, final, want, err)) != 0) { rc = r > 0 ? 0 : -1; goto found; }

    for (int attempt = 0; attempt < 2; attempt++) {
        struct stat st;
        x.fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (x.fd < 0 || fstat(x.fd, &st) != 0) { lv_errorf(err, "%s: %s", part, strerror(errno)); goto done; }
        x.offset = (uint64_t)st.st_size;
        x.expect = it->size;
        x.validator_path = etag;
        x.label = !o->quiet && isatty(2) ? it->name : NULL;
        x.last_ms = 0;
        x.checked = x.restarted = x.n_responses = 0;
        x.linked_sha[0] = 0;
        x.linked_size = 0;
        x.why[0] = 0;
        lv_sha256_init(&x.hash);
        /* A part longer than the file, or one with neither a hash nor a validator to
         * prove the rest belongs to it, starts over. */
        char v[256];
        read_line_file(etag, v, sizeof v);
        if ((it->size && x.offset > it->size) || (!want[0] && !v[0] && x.offset > 0)) {
            if (ftruncate(x.fd, 0) != 0) { lv_errorf(err, "%s: %s", part, strerror(errno)); goto done; }
            x.offset = 0;
        }
        if (x.offset > 0 && hash_prefix(x.fd, x.offset, &x.hash)) { lv_errorf(err, "%s: cannot read", part); goto done; }
        if (lseek(x.fd, (off_t)x.offset, SEEK_SET) < 0) { lv_errorf(err, "%s: %s", part, strerror(errno)); goto done; }
        x.written = x.offset;
        if (!o->quiet)
            fprintf(stderr, "llava-eval: fetch: %s%s\n", it->url, x.offset ? " (resuming)" : "");
        if (!(it->size && x.offset == it->size)) {
            if (!curl_ready) { curl_global_init(CURL_GLOBAL_DEFAULT); curl_ready = 1; }
            if (transfer(o, it, &x, etag, &e2)) {
                lv_errorf(err, "%s: %s", it->name, e2.msg);
                goto done;
            }
        }
        if (fsync(x.fd) != 0) { lv_errorf(err, "%s: %s", part, strerror(errno)); goto done; }
        close(x.fd);
        x.fd = -1;
        if (!want[0] && x.linked_sha[0]) memcpy(want, x.linked_sha, sizeof want);   /* hub-declared hash */
        if (!it->size && x.linked_size && x.written != x.linked_size) {
            lv_errorf(err, "%s: got %llu bytes, the server declared %llu", it->name, (unsigned long long)x.written,
                      (unsigned long long)x.linked_size);
            goto done;
        }
        if (it->size && x.written != it->size) {
            /* Short without a Content-Length to tell curl: keep it to resume. */
            lv_errorf(err, "%s: got %llu of %llu bytes; run again to resume", it->name,
                      (unsigned long long)x.written, (unsigned long long)it->size);
            goto done;
        }
        lv_sha256_final(&x.hash, digest);
        lv_sha256_to_hex(digest, got);
        if (!want[0] || strcmp(got, want) == 0) break;
        unlink(part);
        unlink(etag);
        if (x.offset > 0 && !x.restarted && attempt == 0) {
            /* The old prefix may be what was wrong: one clean download. */
            if (!o->quiet) fprintf(stderr, "llava-eval: fetch: %s: checksum mismatch after resuming; starting over\n", it->name);
            continue;
        }
        lv_errorf(err, "%s: checksum mismatch: got %s, expected %s; file rejected", it->name, got, want);
        goto done;
    }
    if (rename(part, final) != 0) { lv_errorf(err, "%s: %s", final, strerror(errno)); goto done; }
    fsync_dir_of(final);
    unlink(etag);
    if (!want[0]) {
        FILE *f = fopen(tofu, "w");
        if (f) { fprintf(f, "%s\n", got); fclose(f); }
        if (!o->quiet)
            fprintf(stderr, "llava-eval: fetch: %s: no pinned hash; recorded SHA-256 %s (trust on first use)\n", it->name, got);
    }
    rc = 0;
found:
    if (rc == 0 && path_out && !(*path_out = strdup(final))) rc = lv_errorf(err, "out of memory");
done:
    if (x.fd >= 0) close(x.fd);
    if (lock_fd >= 0) close(lock_fd);   /* releases the flock */
    free(cache);
    return rc;
}

int fetch_pope_images(const fetch_opts *o, const char *const *pope_files, int n, const char *base_url,
                      size_t *n_images, lv_error *err)
{
    char **names = NULL, cache_name[SUITE_MAX_PATH + 32], url[SUITE_MAX_PATH + 512];
    size_t n_names = 0;
    int rc = 0;
    if (suite_pope_image_names(pope_files, n, &names, &n_names, err)) return -1;
    for (size_t i = 0; i < n_names && rc == 0; i++) {
        snprintf(cache_name, sizeof cache_name, "coco/val2014/%s", names[i]);
        snprintf(url, sizeof url, "%s%s", base_url ? base_url : FETCH_COCO_VAL2014, names[i]);
        fetch_item it = {cache_name, url, 0, NULL};
        if (!o->quiet) fprintf(stderr, "llava-eval: fetch: image %zu/%zu\n", i + 1, n_names);
        rc = fetch_file(o, &it, NULL, err);
    }
    if (n_images) *n_images = n_names;
    suite_import_free_names(names, n_names);
    return rc;
}
