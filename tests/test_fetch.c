/* tests/test_fetch.c — downloads against tests/httpd.py on 127.0.0.1 (started here,
 * killed at the end): clean, resume after a cut, Range ignored, checksum mismatch,
 * redirects, stall, wrong size, HTTP errors, locking, trust on first use. */
#include "tests/test.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "datasets/fetch.h"
#include "engine/sha256.h"

#define PAYLOAD_LEN 300000

static pid_t server_pid;
static int port;
static char root[512], logpath[600], cache[512];
static char *payload;
static char payload_hex[LV_SHA256_HEX];

/* Starts the server; 0 on success. */
static int start_server(void)
{
    static const char *argv[5] = { "python3", "tests/httpd.py", root, logpath, NULL };
    snprintf(root, sizeof root, "%s/www", t_tmpdir());
    snprintf(logpath, sizeof logpath, "%s/httpd.log", t_tmpdir());
    mkdir(root, 0777);
    port = t_server_start(argv, &server_pid);
    return port > 0 ? 0 : -1;
}

static void stop_server(void)
{
    t_server_stop(&server_pid);
}

static fetch_opts opts(void)
{
    fetch_opts o = {.cache_dir = cache, .protocols = "http", .redir_protocols = "http",
                    .connect_timeout_s = 2, .low_speed_bytes = 1000, .low_speed_time_s = 1,
                    .no_wait = 1, .quiet = 1};
    return o;
}

static const char *url(const char *mode, const char *name)
{
    static char bufs[4][256];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, 256, "http://127.0.0.1:%d/%s/%s", port, mode, name);
    return b;
}

static int count_log(const char *needle)
{
    char *log = t_read_file(logpath, NULL);
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, needle)); p++) n++;
    free(log);
    return n;
}

static long file_size(const char *rel)
{
    char p[1400];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", cache, rel);
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* 1 if the cached file rel holds exactly the payload. */
static int cached_is_payload(const char *rel)
{
    char p[700];
    size_t len;
    snprintf(p, sizeof p, "%s/%s", cache, rel);
    char *d = t_read_file(p, &len);
    int same = d && len == PAYLOAD_LEN && memcmp(d, payload, len) == 0;
    free(d);
    return same;
}

static int need_server(void)
{
    return server_pid > 0;
}

static void test_clean_download(void)
{
    if (!need_server()) T_SKIP("python3 test server did not start");
    fetch_opts o = opts();
    fetch_item it = {"a/clean.bin", url("file", "data.bin"), PAYLOAD_LEN, payload_hex};
    char *path = NULL;
    lv_error err = {{0}};
    T_EQ_INT(fetch_file(&o, &it, &path, &err), 0);
    T_CHECK(path && strstr(path, "/a/clean.bin"), "path %s (%s)", path, err.msg);
    T_CHECK(cached_is_payload("a/clean.bin"), "cached bytes differ");
    T_EQ_INT(file_size("a/clean.bin.part"), -1);
    free(path);
    /* In the cache now: no second request. */
    int before = count_log("/file/data.bin ");
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), 0);
    T_EQ_INT(count_log("/file/data.bin "), before);
}

static void test_resume_after_cut(void)
{
    if (!need_server()) T_SKIP("python3 test server did not start");
    fetch_opts o = opts();
    fetch_item it = {"cut.bin", url("cutonce", "data.bin?c=1"), PAYLOAD_LEN, payload_hex};
    lv_error err = {{0}};
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "cut.bin: connection closed after 100000 bytes") && strstr(err.msg, "run again to resume"),
            "msg: %s", err.msg);
    T_EQ_INT(file_size("cut.bin.part"), PAYLOAD_LEN / 3);
    T_EQ_INT(file_size("cut.bin"), -1);
    /* Second try asks for the rest, guarded by the ETag of the first response. */
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), 0);
    T_CHECK(count_log("/cutonce/data.bin?c=1 range=bytes=100000- if-range=\"") == 1, "no Range/If-Range request logged");
    T_CHECK(count_log("/cutonce/data.bin?c=1 range=bytes=100000- if-range=\"") == 1 &&
            count_log("status=206") >= 1, "no 206");
    T_CHECK(cached_is_payload("cut.bin"), "resumed file differs");
    T_EQ_INT(file_size("cut.bin.part"), -1);
    T_EQ_INT(file_size("cut.bin.part.etag"), -1);
}

static void test_server_ignores_range(void)
{
    if (!need_server()) T_SKIP("python3 test server did not start");
    fetch_opts o = opts();
    fetch_item it = {"norange.bin", url("cutonce", "data.bin?c=2"), PAYLOAD_LEN, payload_hex};
    lv_error err = {{0}};
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), -1);
    T_EQ_INT(file_size("norange.bin.part"), PAYLOAD_LEN / 3);
    /* Now a server that answers 200 to the Range request: the part restarts, never splices. */
    it.url = url("norange", "data.bin");
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), 0);
    T_CHECK(count_log("/norange/data.bin range=bytes=100000- if-range=\"") == 1, "Range not sent");
    T_CHECK(cached_is_payload("norange.bin"), "file spliced or wrong: size %ld", file_size("norange.bin"));
}

static void test_checksum_mismatch(void)
{
    if (!need_server()) T_SKIP("python3 test server did not start");
    fetch_opts o = opts();
    fetch_item it = {"bad.bin", url("file", "bad.bin"), PAYLOAD_LEN, payload_hex};
    lv_error err = {{0}};
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "bad.bin: checksum mismatch: got ") && strstr(err.msg, payload_hex) &&
            strstr(err.msg, "file rejected"), "msg: %s", err.msg);
    T_EQ_INT(file_size("bad.bin"), -1);
    T_EQ_INT(file_size("bad.bin.part"), -1);
    /* A corrupt part resumed from a good server: mismatch, then one clean restart. */
    char p[700];
    snprintf(p, sizeof p, "%s/fixme.bin.part", cache);
    char *junk = malloc(1000);
    memset(junk, 'x', 1000);
    t_write_file(p, junk, 1000);
    free(junk);
    it.name = "fixme.bin";
    it.url = url("file", "data.bin");
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), 0);
    T_CHECK(cached_is_payload("fixme.bin"), "restart after a bad part failed: %s", err.msg);
}

/* C3: SIGKILL during a download, then resume: the kill leaves only the .part (the
 * cache name never holds unverified bytes); a resume continues it with a Range
 * request; a .part corrupted while the program was down fails the hash and forces
 * one clean restart, never entering the cache. */
static void test_kill_during_fetch(void)
{
    if (!need_server()) T_SKIP("python3 test server did not start");
    for (int corrupt = 0; corrupt < 2; corrupt++) {
        fetch_opts o = opts();
        static char name[32], q[32];
        snprintf(name, sizeof name, "killed%d.bin", corrupt);
        snprintf(q, sizeof q, "data.bin?k=%d", corrupt);
        fetch_item it = {name, url("drip", q), PAYLOAD_LEN, payload_hex};
        lv_error err = {{0}};
        pid_t pid = fork();
        if (pid == 0) {
            fetch_file(&o, &it, NULL, &err);
            _exit(0);
        }
        usleep(300000);   /* about 120 KB of the 300 KB arrived */
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        T_CHECK(WIFSIGNALED(st), "the download finished before the kill");
        char part[64];
        snprintf(part, sizeof part, "%s.part", name);
        long got = file_size(part);
        T_CHECK(got > 0 && got < PAYLOAD_LEN, ".part after the kill: %ld bytes", got);
        T_EQ_INT(file_size(name), -1);
        if (corrupt) {   /* flip a byte in the middle of what was received */
            char p[700];
            snprintf(p, sizeof p, "%s/%s", cache, part);
            int fd = open(p, O_RDWR);
            unsigned char c;
            T_CHECK(fd >= 0 && pread(fd, &c, 1, got / 2) == 1, "cannot read the part");
            c ^= 0x55;
            T_CHECK(pwrite(fd, &c, 1, got / 2) == 1, "cannot corrupt the part");
            close(fd);
        }
        char needle[128];
        snprintf(needle, sizeof needle, "/drip/data.bin?k=%d range=bytes=%ld-", corrupt, got);
        it.url = url("drip", q);
        T_EQ_INT(fetch_file(&o, &it, NULL, &err), 0);
        T_CHECK(count_log(needle) == 1, "resume did not ask for the rest (%s)", needle);
        T_CHECK(cached_is_payload(name), "file after resume differs (corrupt=%d)", corrupt);
        T_EQ_INT(file_size(part), -1);
        snprintf(needle, sizeof needle, "/drip/data.bin?k=%d range=- ", corrupt);
        if (corrupt)   /* the spliced file failed its hash: exactly one full restart */
            T_CHECK(count_log(needle) == 2, "expected the first request and one restart, %d full requests",
                    count_log(needle));
    }
}

static void test_redirects(void)
{
    if (!need_server()) T_SKIP("python3 test server did not start");
    fetch_opts o = opts();
    fetch_item it = {"redir.bin", url("redirect", "data.bin"), PAYLOAD_LEN, payload_hex};
    lv_error err = {{0}};
    /* Redirects only to https by default: a redirect to http is refused. */
    o.redir_protocols = NULL;
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "redir.bin: refused URL or redirect with a protocol outside 'https'"), "msg: %s", err.msg);
    T_EQ_INT(file_size("redir.bin"), -1);
    /* The test allows http redirects: followed. */
    o.redir_protocols = "http";
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), 0);
    T_CHECK(cached_is_payload("redir.bin"), "redirected download differs: %s", err.msg);
    /* The first URL's protocol is limited too. */
    o.protocols = "https";
    it.name = "proto.bin";
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "proto.bin: refused URL"), "msg: %s", err.msg);
}

/* No pinned hash, but the first response declares one (Hugging Face style). */
static void test_hub_declared_hash(void)
{
    if (!need_server()) T_SKIP("python3 test server did not start");
    fetch_opts o = opts();
    lv_error err = {{0}};
    fetch_item good = {"hub.bin", url("hub", "data.bin"), 0, NULL};
    T_EQ_INT(fetch_file(&o, &good, NULL, &err), 0);
    T_CHECK(cached_is_payload("hub.bin"), "hub download: %s", err.msg);
    fetch_item bad = {"hubbad.bin", url("hubbad", "data.bin"), 0, NULL};
    T_EQ_INT(fetch_file(&o, &bad, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "hubbad.bin: checksum mismatch") && strstr(err.msg, "expected 0000000000"), "msg: %s", err.msg);
    T_EQ_INT(file_size("hubbad.bin"), -1);
}

static void test_stall_times_out(void)
{
    if (!need_server()) T_SKIP("python3 test server did not start");
    fetch_opts o = opts();
    fetch_item it = {"stall.bin", url("stall", "data.bin"), PAYLOAD_LEN, payload_hex};
    lv_error err = {{0}};
    double t0 = lv_now_ms();
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), -1);
    double secs = (lv_now_ms() - t0) / 1000;
    T_CHECK(strstr(err.msg, "stall.bin: transfer stalled") && strstr(err.msg, "run again to resume"), "msg: %s", err.msg);
    T_CHECK(secs < 10, "took %.1f s", secs);
    T_EQ_INT(file_size("stall.bin.part"), 100);
    T_EQ_INT(file_size("stall.bin"), -1);
}

static void test_http_errors_and_size(void)
{
    if (!need_server()) T_SKIP("python3 test server did not start");
    fetch_opts o = opts();
    lv_error err = {{0}};
    fetch_item missing = {"missing.bin", url("file", "nothing.bin"), 0, NULL};
    T_EQ_INT(fetch_file(&o, &missing, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "missing.bin: HTTP 404 from http://127.0.0.1"), "msg: %s", err.msg);
    T_EQ_INT(file_size("missing.bin"), -1);

    fetch_item small = {"small.bin", url("file", "data.bin"), PAYLOAD_LEN - 1, NULL};
    T_EQ_INT(fetch_file(&o, &small, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "small.bin: server sent more than the expected 299999 bytes"), "msg: %s", err.msg);
    T_EQ_INT(file_size("small.bin"), -1);

    /* A refused connection: a port nobody listens on (the server's own, after it is gone,
     * would race; port 1 needs root to bind). */
    fetch_item refused = {"refused.bin", "http://127.0.0.1:1/file/data.bin", 0, NULL};
    T_EQ_INT(fetch_file(&o, &refused, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "refused.bin: cannot connect to http://127.0.0.1:1/"), "msg: %s", err.msg);

    fetch_item evil = {"../evil.bin", url("file", "data.bin"), 0, NULL};
    T_EQ_INT(fetch_file(&o, &evil, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "bad cache name"), "msg: %s", err.msg);
}

static void test_lock_and_tofu(void)
{
    if (!need_server()) T_SKIP("python3 test server did not start");
    fetch_opts o = opts();
    lv_error err = {{0}};
    char lock[700];
    fetch_item it = {"tofu.bin", url("file", "data.bin"), 0, NULL};
    /* Another holder of the lock: refused at once with no_wait. */
    snprintf(lock, sizeof lock, "%s/tofu.bin.lock", cache);
    int fd = open(lock, O_RDWR | O_CREAT, 0666);
    T_CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0, "lock");
    /* flock locks belong to the open file description: fork so the holder is another process. */
    pid_t pid = fork();
    if (pid == 0) {
        lv_error e2;
        fetch_opts o2 = opts();
        close(fd);
        _exit(fetch_file(&o2, &it, NULL, &e2) == -1 && strstr(e2.msg, "another process is fetching it") ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "locked fetch was not refused");
    close(fd);
    /* No pinned hash: the first download records one... */
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/tofu.bin.sha256", cache);
    char *rec = t_read_file(p, NULL);
    T_CHECK(rec && strncmp(rec, payload_hex, 64) == 0, "recorded: %s", rec);
    free(rec);
    /* ...and a later fetch that must re-download checks against it. */
    snprintf(p, sizeof p, "%s/tofu.bin", cache);
    unlink(p);
    it.url = url("file", "bad.bin");
    T_EQ_INT(fetch_file(&o, &it, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "checksum mismatch"), "msg: %s", err.msg);
}

/* pope-images: the images a POPE file names, fetched one by one (hash recorded on
 * first use), then usable as --images for the importer. */
static void test_pope_images_end_to_end(void)
{
    if (!need_server()) T_SKIP("python3 test server did not start");
    static const char *const imgs[] = {"COCO_val2014_000000310196.jpg", "COCO_val2014_000000210789.jpg",
                                       "COCO_val2014_000000429109.jpg"};
    char p[700], base[128], images[700], out[700];
    for (int i = 0; i < 3; i++) {
        size_t len;
        snprintf(p, sizeof p, "tests/data/suites/coco_images/%s", imgs[i]);
        char *d = t_read_file(p, &len);
        snprintf(p, sizeof p, "%s/%s", root, imgs[i]);
        T_CHECK(d && t_write_file(p, d, len) == 0, "copy %s", imgs[i]);
        free(d);
    }
    fetch_opts o = opts();
    lv_error err = {{0}};
    size_t n = 0;
    const char *pope[] = {"tests/data/suites/pope/coco_pope_random.json"};
    snprintf(base, sizeof base, "http://127.0.0.1:%d/file/", port);
    T_EQ_INT(fetch_pope_images(&o, pope, 1, base, &n, &err), 0);
    T_CHECK(n == 3, "%zu images (%s)", n, err.msg);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "coco/val2014/%s", imgs[i]);
        T_CHECK(file_size(p) > 0, "%s not cached", p);
        snprintf(p, sizeof p, "coco/val2014/%s.sha256", imgs[i]);
        T_EQ_INT(file_size(p), 65);
    }
    snprintf(images, sizeof images, "%s/coco/val2014", cache);
    snprintf(out, sizeof out, "%s/pope-from-cache", t_tmpdir());
    t_proc pr;
    const char *argv[] = {"suite", "import", "pope", pope[0], "--images", images, "-o", out, NULL};
    t_run(&pr, NULL, 0, argv);
    T_EQ_INT(pr.rc, 0);
    T_CHECK(strstr(pr.out, "17 samples"), "%s%s", pr.out, pr.err);
    t_proc_free(&pr);
}

static void test_catalogue(void)
{
    const fetch_entry *e = fetch_find("pope");
    T_CHECK(e != NULL, "pope in catalogue");
    if (!e) return;
    int n = 0;
    for (const fetch_item *it = e->items; it->name; it++, n++) {
        T_CHECK(lv_sha256_valid_hex(it->sha256), "%s hash", it->name);
        T_CHECK(strstr(it->url, "e3e39262c85a6a83f26cf5094022a782cb0df58d"), "%s pinned to the commit", it->url);
    }
    T_EQ_INT(n, 3);
    T_EQ_INT(e->items[0].size, 360212);
    T_CHECK(fetch_find_by_sha256("C16B65D2DF6D70BB0814C8A4375833D39CDB09928FD936D3FC546491EFA37F35") == &e->items[0], "by hash");
    T_CHECK(fetch_find("nope") == NULL, "unknown name");
    for (const fetch_entry *c = fetch_catalog; c->name; c++)
        for (const fetch_item *it = c->items; it->name; it++)
            T_CHECK(it->size > 0 && lv_sha256_valid_hex(it->sha256), "%s pinned", it->name);

    t_proc pr;
    const char *argv[] = {"suite", "fetch", "nope", "--cache", cache, NULL};
    t_run(&pr, NULL, 0, argv);
    T_EQ_INT(pr.rc, 2);
    T_CHECK(strstr(pr.err, "llava-eval: suite fetch: unknown suite 'nope'"), "%s", pr.err);
    t_proc_free(&pr);
    const char *argv2[] = {"suite", "list", NULL};
    t_run(&pr, NULL, 0, argv2);
    T_EQ_INT(pr.rc, 0);
    T_CHECK(strstr(pr.out, "pope") && strstr(pr.out, "coco-annotations-2014") && strstr(pr.out, "pope-images"), "%s", pr.out);
    t_proc_free(&pr);
}

int main(void)
{
    char p[700];
    payload = malloc(PAYLOAD_LEN);
    for (int i = 0; i < PAYLOAD_LEN; i++) payload[i] = (char)((i * 2654435761u) >> 13);
    lv_sha256_hex(payload, PAYLOAD_LEN, payload_hex);
    snprintf(cache, sizeof cache, "%s/cache", t_tmpdir());
    if (start_server() == 0) {
        snprintf(p, sizeof p, "%s/data.bin", root);
        t_write_file(p, payload, PAYLOAD_LEN);
        payload[PAYLOAD_LEN / 2] ^= 1;
        snprintf(p, sizeof p, "%s/bad.bin", root);
        t_write_file(p, payload, PAYLOAD_LEN);
        payload[PAYLOAD_LEN / 2] ^= 1;
    } else {
        stop_server();
    }
    T_RUN(test_clean_download);
    T_RUN(test_resume_after_cut);
    T_RUN(test_server_ignores_range);
    T_RUN(test_checksum_mismatch);
    T_RUN(test_kill_during_fetch);
    T_RUN(test_redirects);
    T_RUN(test_hub_declared_hash);
    T_RUN(test_stall_times_out);
    T_RUN(test_http_errors_and_size);
    T_RUN(test_lock_and_tofu);
    T_RUN(test_pope_images_end_to_end);
    T_RUN(test_catalogue);
    stop_server();
    free(payload);
    T_MAIN_END();
}
