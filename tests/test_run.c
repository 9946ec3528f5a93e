/* tests/test_run.c — `llava-eval run` end to end on the fixture model: exact row
 * counts over samples × resolutions × quants, resume without duplicates, SIGKILL
 * at random points then resume (equal to an uninterrupted run, integrity ok),
 * SIGINT (exit 130, rows kept), per-image prefix reuse giving byte-identical
 * outputs to the naive path, 4 shards + merge equal to one run (merging twice
 * changes nothing), and error rows for a broken image that a resume retries. */
#include "tests/test.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char suite_dir[256], model[1024], mmproj[1024];

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static int setup(void)
{
    const char *m = t_fixture("tiny-llava/text-Q4_0.gguf"), *p = t_fixture("tiny-llava/mmproj.gguf");
    if (!m || !p) return -1;
    snprintf(model, sizeof model, "%s", m);
    snprintf(mmproj, sizeof mmproj, "%s", p);
    if (!suite_dir[0]) {
        snprintf(suite_dir, sizeof suite_dir, "%s/suite", t_tmpdir());
        t_proc pr;
        const char *argv[] = {"suite", "make", "object-size", "-o", suite_dir, "--n", "4", "--seed", "7", NULL};
        t_run(&pr, NULL, 0, argv);
        if (pr.rc) fprintf(stderr, "suite make: %s", pr.err);
        t_proc_free(&pr);
    }
    return 0;
}

/* argv for a run into db (extra args appended, NULL-terminated). */
static int run_args(const char **argv, const char *db, const char *const *extra)
{
    int n = 0;
    static const char *base[] = {"run", "-q", "--suite", NULL, "-m", NULL, "--mmproj", NULL, "--db", NULL,
                                 "--resolutions", "56,112,native", "--quants", NULL, "-n", "4", "-t", "1", "--name", "t"};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) argv[n++] = base[i];
    argv[3] = suite_dir;
    argv[5] = model;
    argv[7] = mmproj;
    argv[9] = db;
    static char quants[1100];
    snprintf(quants, sizeof quants, "%s,q8_0", model);
    argv[13] = quants;
    for (int i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    return n;
}

static int run_db(const char *db, const char *const *extra, int *rc_out)
{
    const char *argv[40];
    run_args(argv, db, extra);
    t_proc p;
    t_run(&p, NULL, 0, argv);
    if (rc_out) *rc_out = p.rc;
    if (p.rc && p.rc != 1) fprintf(stderr, "run: exit %d: %s\n", p.rc, p.err);
    t_proc_free(&p);
    return 0;
}

/* One text line per row, for comparing stores. */
static char *dump(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    size_t cap = 1 << 16, n = 0;
    char *out = calloc(1, cap);
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return out;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const char *v = (const char *)sqlite3_column_text(st, i);
                size_t l = v ? strlen(v) : 4;
                if (n + l + 4 > cap) out = realloc(out, cap = 2 * (n + l + 4));
                n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "|" : "", v ? v : "NULL");
            }
            out[n++] = '\n';
            out[n] = 0;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return out;
}

#define ROWS_SQL "SELECT sample_id, resolution, quant, status, output, parsed, score, correct, logprobs FROM results ORDER BY 1, 2, 3"
#define METRICS_SQL "SELECT suite, resolution, quant, category, name, variant, value, ci_low, ci_high, n FROM metrics ORDER BY 1,2,3,4,5"

static long count(const char *db, const char *sql)
{
    char *s = dump(db, sql);
    long v = atol(s);
    free(s);
    return v;
}

static char ref_db[256];

static void test_full_run_and_resume(void)
{
    if (setup()) T_SKIP("fixtures absent");
    snprintf(ref_db, sizeof ref_db, "%s/ref.db", t_tmpdir());
    int rc;
    run_db(ref_db, NULL, &rc);
    T_EQ_INT(rc, 0);
    T_EQ_INT(count(ref_db, "SELECT count(*) FROM results"), 4 * 3 * 2);
    T_EQ_INT(count(ref_db, "SELECT count(*) FROM results WHERE status='ok'"), 24);
    T_CHECK(count(ref_db, "SELECT count(*) FROM metrics") > 0, "metrics computed");
    char *before = dump(ref_db, ROWS_SQL);
    run_db(ref_db, NULL, &rc);
    T_EQ_INT(rc, 0);
    T_EQ_INT(count(ref_db, "SELECT count(*) FROM results"), 24);
    T_EQ_INT(count(ref_db, "SELECT count(*) FROM runs"), 1);
    char *after = dump(ref_db, ROWS_SQL);
    T_CHECK(strcmp(before, after) == 0, "a second run changed rows");
    free(before);
    free(after);
    /* score --db rebuilds the same metrics table from the stored rows */
    char *m1 = dump(ref_db, METRICS_SQL);
    sqlite3 *h;
    sqlite3_open(ref_db, &h);
    sqlite3_exec(h, "DELETE FROM metrics", NULL, NULL, NULL);
    sqlite3_close(h);
    T_EQ_INT(count(ref_db, "SELECT count(*) FROM metrics"), 0);
    t_proc p;
    const char *argv[] = {"score", "--db", ref_db, "t", NULL};
    t_run(&p, NULL, 0, argv);
    T_CHECK(p.rc == 0, "score --db: %s", p.err);
    t_proc_free(&p);
    char *m2 = dump(ref_db, METRICS_SQL);
    T_CHECK(strcmp(m1, m2) == 0 && strlen(m1) > 0, "score --db gives other metrics");
    free(m1);
    free(m2);
}

static pid_t spawn_run(const char *db)
{
    const char *argv[40];
    run_args(argv, db, NULL);
    const char *bin = getenv("LLAVA_EVAL_BIN");
    pid_t pid = fork();
    if (pid == 0) {
        argv[0] = "run";
        const char *full[42];
        full[0] = bin && *bin ? bin : "./llava-eval";
        for (int i = 0; argv[i]; i++) { full[i + 1] = argv[i]; full[i + 2] = NULL; }
        freopen("/dev/null", "w", stderr);
        execv(full[0], (char *const *)full);
        _exit(127);
    }
    return pid;
}

static void test_kill_and_resume(void)
{
    if (setup() || !ref_db[0]) T_SKIP("fixtures absent");
    char db[256];
    snprintf(db, sizeof db, "%s/killed.db", t_tmpdir());
    /* how long an uninterrupted run takes here, to spread the kill points */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/timing.db", t_tmpdir());
    run_db(tmp, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double full_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    unsigned seed = 12345;
    int kills = SANITIZED ? 2 : 10, killed_mid = 0;
    for (int k = 0; k < kills; k++) {
        seed = seed * 1103515245u + 12345u;
        long ms = (long)((double)((seed >> 8) % 1000) / 1000.0 * full_ms / 2.0) + 20;
        pid_t pid = spawn_run(db);
        usleep((useconds_t)ms * 1000);
        int st;
        if (kill(pid, SIGKILL) == 0) killed_mid++;
        waitpid(pid, &st, 0);
        char *ic = dump(db, "PRAGMA integrity_check");
        T_CHECK(strncmp(ic, "ok", 2) == 0, "integrity after kill %d: %s", k, ic);
        free(ic);
        T_CHECK(count(db, "SELECT count(*) FROM results") <= 24, "never more rows than the plan");
    }
    T_CHECK(killed_mid >= kills / 2, "only %d kills landed mid-run", killed_mid);
    int rc;
    run_db(db, NULL, &rc);
    T_EQ_INT(rc, 0);
    T_EQ_INT(count(db, "SELECT count(*) FROM results"), 24);
    char *a = dump(db, ROWS_SQL), *b = dump(ref_db, ROWS_SQL);
    T_CHECK(strcmp(a, b) == 0, "resumed rows differ from the uninterrupted run");
    free(a); free(b);
    a = dump(db, METRICS_SQL); b = dump(ref_db, METRICS_SQL);
    T_CHECK(strcmp(a, b) == 0, "resumed metrics differ");
    free(a); free(b);
    char *ic = dump(db, "PRAGMA integrity_check");
    T_CHECK(strncmp(ic, "ok", 2) == 0, "integrity: %s", ic);
    free(ic);
}

static void test_sigint(void)
{
    if (setup() || !ref_db[0]) T_SKIP("fixtures absent");
    char db[256];
    snprintf(db, sizeof db, "%s/int.db", t_tmpdir());
    pid_t pid = spawn_run(db);
    usleep(SANITIZED ? 4000000 : 1200000);
    kill(pid, SIGINT);
    int st;
    waitpid(pid, &st, 0);
    long n = count(db, "SELECT count(*) FROM results");
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) T_SKIP("the run finished before the signal (%ld rows)", n);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit after SIGINT: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    T_CHECK(n < 24, "%ld rows", n);
    int rc;
    run_db(db, NULL, &rc);
    char *a = dump(db, ROWS_SQL), *b = dump(ref_db, ROWS_SQL);
    T_CHECK(rc == 0 && strcmp(a, b) == 0, "resume after SIGINT differs");
    free(a); free(b);
}

static void test_reuse_is_identical(void)
{
    if (setup() || !ref_db[0]) T_SKIP("fixtures absent");
    if (SANITIZED) T_SKIP("a full extra run; checked in the plain build");
    char db[256];
    snprintf(db, sizeof db, "%s/naive.db", t_tmpdir());
    const char *extra[] = {"--no-reuse", NULL};
    int rc;
    run_db(db, extra, &rc);
    T_EQ_INT(rc, 0);
    char *a = dump(db, ROWS_SQL), *b = dump(ref_db, ROWS_SQL);
    T_CHECK(strcmp(a, b) == 0, "prefix reuse changed an output");
    free(a); free(b);
}

static void test_shards_and_merge(void)
{
    if (setup() || !ref_db[0]) T_SKIP("fixtures absent");
    if (SANITIZED) T_SKIP("five extra runs; checked in the plain build");
    char shard[4][256], spec[4][16], out[256];
    snprintf(out, sizeof out, "%s/merged.db", t_tmpdir());
    for (int i = 0; i < 4; i++) {
        snprintf(shard[i], sizeof shard[i], "%s/shard%d.db", t_tmpdir(), i);
        snprintf(spec[i], sizeof spec[i], "%d/4", i);
        const char *extra[] = {"--shard", spec[i], NULL};
        int rc;
        run_db(shard[i], extra, &rc);
        T_EQ_INT(rc, 0);
    }
    for (int pass = 0; pass < 2; pass++) {
        t_proc p;
        const char *argv[] = {"merge", out, shard[0], shard[1], shard[2], shard[3], NULL};
        t_run(&p, NULL, 0, argv);
        T_CHECK(p.rc == 0, "merge: %s", p.err);
        t_proc_free(&p);
        T_EQ_INT(count(out, "SELECT count(*) FROM results"), 24);
        T_EQ_INT(count(out, "SELECT count(*) FROM runs"), 1);
        char *a = dump(out, ROWS_SQL), *b = dump(ref_db, ROWS_SQL);
        T_CHECK(strcmp(a, b) == 0, "pass %d: merged rows differ from one run", pass);
        free(a); free(b);
        a = dump(out, METRICS_SQL); b = dump(ref_db, METRICS_SQL);
        T_CHECK(strcmp(a, b) == 0, "pass %d: merged metrics differ", pass);
        free(a); free(b);
    }
    /* a shard of another configuration (other resolutions) under the same name is refused */
    char other[256];
    snprintf(other, sizeof other, "%s/other.db", t_tmpdir());
    const char *argv_o[40];
    run_args(argv_o, other, NULL);
    argv_o[11] = "native";
    t_proc p;
    t_run(&p, NULL, 0, argv_o);
    t_proc_free(&p);
    const char *argv[] = {"merge", out, other, NULL};
    t_run(&p, NULL, 0, argv);
    T_CHECK(p.rc == 2 && strstr(p.err, "different configuration"), "mismatched shard: exit %d %s", p.rc, p.err);
    t_proc_free(&p);
}

static void test_broken_image_rows(void)
{
    if (setup()) T_SKIP("fixtures absent");
    char dir[256], cmd[1024], img[512], db[256];
    snprintf(dir, sizeof dir, "%s/broken", t_tmpdir());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dir, suite_dir, dir);
    T_CHECK(system(cmd) == 0, "copy suite");
    snprintf(img, sizeof img, "%s/images/00000.png", dir);
    size_t len;
    char *good = t_read_file(img, &len);
    t_write_file(img, good, len / 3);      /* truncated PNG */
    snprintf(db, sizeof db, "%s/broken.db", t_tmpdir());
    const char *argv[] = {"run", "-q", "--suite", dir, "-m", model, "--mmproj", mmproj, "--db", db, "-n", "2", NULL};
    t_proc p;
    t_run(&p, NULL, 0, argv);
    /* the suite's checksums catch the edit: a suite is verified before any work */
    if (p.rc == 2) {
        T_CHECK(strstr(p.err, "sha") || strstr(p.err, "SHA") || strstr(p.err, "checksum"), "refused: %s", p.err);
        t_proc_free(&p);
        t_write_file(img, good, len);
        free(good);
        return;
    }
    T_EQ_INT(p.rc, 1);
    t_proc_free(&p);
    T_CHECK(count(db, "SELECT count(*) FROM results WHERE status='error' AND error LIKE '%'") >= 1, "error rows");
    T_EQ_INT(count(db, "SELECT count(*) FROM results WHERE status='error' AND output IS NOT NULL"), 0);
    t_write_file(img, good, len);
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    T_EQ_INT(count(db, "SELECT count(*) FROM results WHERE status='error'"), 0);
    free(good);
}

/* The README's sqlite3 shell queries run on a real store (sqlite3 from Debian). */
static void test_readme_queries(void)
{
    if (!ref_db[0]) T_SKIP("no store");
    if (system("sqlite3 -version >/dev/null 2>&1") != 0) T_SKIP("sqlite3 shell absent");
    char *readme = t_read_file("README.md", NULL);
    T_CHECK(readme != NULL, "README.md");
    if (!readme) return;
    int n = 0;
    for (char *p = readme; (p = strstr(p, "sqlite3 results.db \"")); n++) {
        char *q = p + strlen("sqlite3 results.db \""), *end = strchr(q, '"');
        if (!end) break;
        char sql[2048], cmd[4096];
        snprintf(sql, sizeof sql, "%.*s", (int)(end - q), q);
        for (char *c = sql; *c; c++) if (*c == '\n') *c = ' ';
        snprintf(cmd, sizeof cmd, "sqlite3 -bail '%s' \"%s\" >/dev/null", ref_db, sql);
        T_CHECK(system(cmd) == 0, "README query failed: %s", sql);
        p = end;
    }
    T_CHECK(n >= 3, "found %d README queries", n);
    free(readme);
}

int main(void)
{
    T_RUN(test_full_run_and_resume);
    T_RUN(test_reuse_is_identical);
    T_RUN(test_kill_and_resume);
    T_RUN(test_sigint);
    T_RUN(test_shards_and_merge);
    T_RUN(test_broken_image_rows);
    T_RUN(test_readme_queries);
    T_MAIN_END();
}
