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
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

#define ROWS_SQL "SELECT sample_id, resolution, quant, status, output, parsed, score, correct, logprobs FROM results ORDER BY 1, 2, 3"
#define METRICS_SQL "SELECT suite, resolution, quant, category, name, variant, value, ci_low, ci_high, n FROM metrics ORDER BY 1,2,3,4,5"

static char ref_db[256];

static void test_full_run_and_resume(void)
{
    if (setup()) T_SKIP("fixtures absent");
    snprintf(ref_db, sizeof ref_db, "%s/ref.db", t_tmpdir());
    int rc;
    run_db(ref_db, NULL, &rc);
    T_EQ_INT(rc, 0);
    T_EQ_INT(t_sql_count(ref_db, "SELECT count(*) FROM results"), 4 * 3 * 2);
    T_EQ_INT(t_sql_count(ref_db, "SELECT count(*) FROM results WHERE status='ok'"), 24);
    T_CHECK(t_sql_count(ref_db, "SELECT count(*) FROM metrics") > 0, "metrics computed");
    char *before = t_sql_dump(ref_db, ROWS_SQL);
    run_db(ref_db, NULL, &rc);
    T_EQ_INT(rc, 0);
    T_EQ_INT(t_sql_count(ref_db, "SELECT count(*) FROM results"), 24);
    T_EQ_INT(t_sql_count(ref_db, "SELECT count(*) FROM runs"), 1);
    char *after = t_sql_dump(ref_db, ROWS_SQL);
    T_CHECK(strcmp(before, after) == 0, "a second run changed rows");
    free(before);
    free(after);
    /* score --db rebuilds the same metrics table from the stored rows */
    char *m1 = t_sql_dump(ref_db, METRICS_SQL);
    sqlite3 *h;
    sqlite3_open(ref_db, &h);
    sqlite3_exec(h, "DELETE FROM metrics", NULL, NULL, NULL);
    sqlite3_close(h);
    T_EQ_INT(t_sql_count(ref_db, "SELECT count(*) FROM metrics"), 0);
    t_proc p;
    const char *argv[] = {"score", "--db", ref_db, "t", NULL};
    t_run(&p, NULL, 0, argv);
    T_CHECK(p.rc == 0, "score --db: %s", p.err);
    t_proc_free(&p);
    char *m2 = t_sql_dump(ref_db, METRICS_SQL);
    T_CHECK(strcmp(m1, m2) == 0 && strlen(m1) > 0, "score --db gives other metrics");
    free(m1);
    free(m2);
}

static pid_t spawn_argv(const char *const *argv);

static pid_t spawn_run(const char *db)
{
    const char *argv[40];
    run_args(argv, db, NULL);
    return spawn_argv(argv);
}

/* Polls until the store holds `target` rows or the run exits (then 1, its status in
 * *st); gives up after `tries` polls 2 ms apart. */
static int wait_rows(const char *db, long target, pid_t pid, int *st, int tries)
{
    for (int i = 0; i < tries; i++) {
        if (t_sql_count(db, "SELECT count(*) FROM results") >= target) return 0;
        if (waitpid(pid, st, WNOHANG) == pid) return 1;
        usleep(2000);
    }
    return 0;
}

/* C1: SIGKILL at 20 points of one run's life, then the same command again. Even
 * points wait until k more rows are committed (plus a few ms, to land inside the
 * next row); odd points kill at a random time after the start (model load, image
 * encode, a row). After each kill: integrity_check ok, no duplicate key, never more
 * rows than the plan. The final resume equals an uninterrupted run, rows and metrics. */
static void test_kill_and_resume(void)
{
    if (setup() || !ref_db[0]) T_SKIP("fixtures absent");
    char db[256];
    snprintf(db, sizeof db, "%s/killed.db", t_tmpdir());
    /* how long an uninterrupted run takes here, to spread the timed kill points */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/timing.db", t_tmpdir());
    run_db(tmp, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double full_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    unsigned seed = 12345;
    int kills = SANITIZED && !getenv("LV_TEST_FULL") ? 4 : 20, killed_mid = 0, by_rows = 0;
    for (int k = 0; k < kills; k++) {
        seed = seed * 1103515245u + 12345u;
        long before = t_sql_count(db, "SELECT count(*) FROM results"), target = before + 1 + (long)((seed >> 12) % 2);
        pid_t pid = spawn_run(db);
        int st = 0, exited = 0;
        if (k % 2 == 0) {   /* after k committed rows */
            exited = wait_rows(db, target, pid, &st, 6000);
            if (!exited) usleep((useconds_t)((seed >> 8) % 30) * 1000);
        } else {
            usleep((useconds_t)((double)((seed >> 8) % 1000) / 1000.0 * full_ms / 3.0 + 10.0) * 1000);
        }
        if (!exited && kill(pid, SIGKILL) == 0) {
            killed_mid++;
            if (k % 2 == 0) by_rows++;
        }
        if (!exited) waitpid(pid, &st, 0);
        char *ic = t_sql_dump(db, "PRAGMA integrity_check");
        T_CHECK(strncmp(ic, "ok", 2) == 0, "integrity after kill %d: %s", k, ic);
        free(ic);
        long n = t_sql_count(db, "SELECT count(*) FROM results");
        T_CHECK(n <= 24, "never more rows than the plan (%ld)", n);
        T_CHECK(t_sql_count(db, "SELECT count(*) FROM (SELECT DISTINCT run_id, sample_id, resolution, quant FROM results)") == n,
                "a duplicate row after kill %d", k);
    }
    T_CHECK(killed_mid >= kills * 3 / 4, "only %d of %d kills landed mid-run", killed_mid, kills);
    fprintf(stderr, "     %d kills (%d after committed rows), %d landed mid-run\n", kills, by_rows, killed_mid);
    int rc;
    run_db(db, NULL, &rc);
    T_EQ_INT(rc, 0);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results"), 24);
    char *a = t_sql_dump(db, ROWS_SQL), *b = t_sql_dump(ref_db, ROWS_SQL);
    T_CHECK(strcmp(a, b) == 0, "resumed rows differ from the uninterrupted run");
    free(a); free(b);
    a = t_sql_dump(db, METRICS_SQL); b = t_sql_dump(ref_db, METRICS_SQL);
    T_CHECK(strcmp(a, b) == 0, "resumed metrics differ");
    free(a); free(b);
    char *ic = t_sql_dump(db, "PRAGMA integrity_check");
    T_CHECK(strncmp(ic, "ok", 2) == 0, "integrity: %s", ic);
    free(ic);
}

static void test_sigint(void)
{
    if (setup() || !ref_db[0]) T_SKIP("fixtures absent");
    char db[256];
    snprintf(db, sizeof db, "%s/int.db", t_tmpdir());
    pid_t pid = spawn_run(db);
    /* Signal once the first row is committed: mid-run on any machine, where a fixed
     * delay landed after the end on an idle one (the case then skipped). */
    int st = 0;
    if (!wait_rows(db, 1, pid, &st, 30000)) {
        kill(pid, SIGINT);
        waitpid(pid, &st, 0);
    }
    long n = t_sql_count(db, "SELECT count(*) FROM results");
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) T_SKIP("the run finished before the signal (%ld rows)", n);
    T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit after SIGINT: %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    T_CHECK(n < 24, "%ld rows", n);
    int rc;
    run_db(db, NULL, &rc);
    char *a = t_sql_dump(db, ROWS_SQL), *b = t_sql_dump(ref_db, ROWS_SQL);
    T_CHECK(rc == 0 && strcmp(a, b) == 0, "resume after SIGINT differs");
    free(a); free(b);
}

static void test_reuse_is_identical(void)
{
    if (setup() || !ref_db[0]) T_SKIP("fixtures absent");
    if (SANITIZED && !getenv("LV_TEST_FULL")) T_SKIP("a full extra run; checked in the plain build");
    char db[256];
    snprintf(db, sizeof db, "%s/naive.db", t_tmpdir());
    const char *extra[] = {"--no-reuse", NULL};
    int rc;
    run_db(db, extra, &rc);
    T_EQ_INT(rc, 0);
    char *a = t_sql_dump(db, ROWS_SQL), *b = t_sql_dump(ref_db, ROWS_SQL);
    T_CHECK(strcmp(a, b) == 0, "prefix reuse changed an output");
    free(a); free(b);
}

static void test_shards_and_merge(void)
{
    if (setup() || !ref_db[0]) T_SKIP("fixtures absent");
    if (SANITIZED && !getenv("LV_TEST_FULL")) T_SKIP("five extra runs; checked in the plain build");
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
        T_EQ_INT(t_sql_count(out, "SELECT count(*) FROM results"), 24);
        T_EQ_INT(t_sql_count(out, "SELECT count(*) FROM runs"), 1);
        char *a = t_sql_dump(out, ROWS_SQL), *b = t_sql_dump(ref_db, ROWS_SQL);
        T_CHECK(strcmp(a, b) == 0, "pass %d: merged rows differ from one run", pass);
        free(a); free(b);
        a = t_sql_dump(out, METRICS_SQL); b = t_sql_dump(ref_db, METRICS_SQL);
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

/* Starts `llava-eval ARGV...` with stdout and stderr to /dev/null; its pid. */
static pid_t spawn_argv(const char *const *argv)
{
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        freopen("/dev/null", "w", stdout);
        t_exec_cli(argv);
    }
    return pid;
}

static double ms_of(const char *const *argv)
{
    struct timespec t0, t1;
    int st;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    waitpid(spawn_argv(argv), &st, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

/* Kills argv at `kills` points spread over [0, 1.5 x its uninterrupted time]; the
 * number of kills that found it still running. */
static int kill_at_random(const char *const *argv, double full_ms, int kills, unsigned *seed,
                          void (*check)(int k, void *ctx), void *ctx)
{
    int mid = 0;
    for (int k = 0; k < kills; k++) {
        *seed = *seed * 1103515245u + 12345u;
        pid_t pid = spawn_argv(argv);
        usleep((useconds_t)((double)((*seed >> 8) % 1000) / 1000.0 * full_ms * 1.5 * 1000.0));
        int st;
        if (waitpid(pid, &st, WNOHANG) == 0 && kill(pid, SIGKILL) == 0) mid++;
        waitpid(pid, &st, 0);
        check(k, ctx);
    }
    return mid;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) { *len = 0; return NULL; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    b[*len] = 0;
    fclose(f);
    return b;
}

typedef struct {
    const char *path, *old, *ref;   /* output file, its old content, the complete new content */
    size_t old_len, ref_len;
    int n_old, n_new;
} file_ctx;

static void check_file(int k, void *vctx)
{
    file_ctx *c = vctx;
    size_t n;
    char *b = slurp(c->path, &n);
    int is_old = b && n == c->old_len && !memcmp(b, c->old, n);
    int is_new = b && n == c->ref_len && !memcmp(b, c->ref, n);
    T_CHECK(is_old || is_new, "kill %d left %s neither old nor complete (%zu bytes)", k, c->path, n);
    c->n_old += is_old;
    c->n_new += is_new;
    free(b);
    /* put the old content back for the next kill */
    FILE *f = fopen(c->path, "wb");
    fwrite(c->old, 1, c->old_len, f);
    fclose(f);
}

typedef struct {
    const char *out;
    long allowed[8];
    int n_allowed;
} merge_ctx;

static void check_merge(int k, void *vctx)
{
    merge_ctx *c = vctx;
    char *ic = t_sql_dump(c->out, "PRAGMA integrity_check");
    T_CHECK(!ic[0] || strncmp(ic, "ok", 2) == 0, "integrity after merge kill %d: %s", k, ic);   /* "": not made yet */
    free(ic);
    long n = t_sql_count(c->out, "SELECT count(*) FROM results"), ok = 0;
    for (int i = 0; i < c->n_allowed; i++) ok |= n == c->allowed[i];
    T_CHECK(ok, "merge kill %d left %ld rows: not a whole number of shards", k, n);
}

/* C2: SIGKILL during report, export and merge. The report and the export file are
 * either the old file or the complete new one (temporary file + fsync + rename);
 * the merged store passes integrity_check and holds whole shards only (one
 * transaction per input); merging again completes it. */
static void test_kill_during_outputs(void)
{
    if (setup() || !ref_db[0]) T_SKIP("fixtures absent");
    if (SANITIZED && !getenv("LV_TEST_FULL")) T_SKIP("many short processes; checked in the plain build");
    unsigned seed = 777;
    char path[256], ref[256];
    static const char old[] = "the previous file\n";
    const char *kinds[2][8] = {{"report", "--db", ref_db, "-o", NULL, NULL},
                               {"export", "--db", ref_db, "--format", "jsonl", "-o", NULL, NULL}};
    for (int w = 0; w < 2; w++) {
        const char **argv = kinds[w];
        int o = w == 0 ? 4 : 6;
        /* the complete output, made once without interruption */
        snprintf(ref, sizeof ref, "%s/c2-ref-%d", t_tmpdir(), w);
        argv[o] = ref;
        double full = ms_of(argv);
        file_ctx c = {path, old, NULL, sizeof old - 1, 0, 0, 0};
        char *rb = slurp(ref, &c.ref_len);
        T_CHECK(rb && c.ref_len > 100, "%s wrote nothing", argv[0]);
        c.ref = rb;
        snprintf(path, sizeof path, "%s/c2-out-%d", t_tmpdir(), w);
        FILE *f = fopen(path, "wb");
        fwrite(old, 1, sizeof old - 1, f);
        fclose(f);
        argv[o] = path;
        int mid = kill_at_random(argv, full, 12, &seed, check_file, &c);
        fprintf(stderr, "     %s: 12 kills over %.0f ms, %d mid-run; %d left the old file, %d the new\n",
                argv[0], full * 1.5, mid, c.n_old, c.n_new);
        T_CHECK(mid >= 3, "%s: only %d kills landed while it ran", argv[0], mid);
        /* one complete run afterwards removes the temporary files the kills left */
        ms_of(argv);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "ls %s.tmp.* 2>/dev/null | wc -l", path);
        FILE *ls = popen(cmd, "r");
        int left = -1;
        if (ls) { if (fscanf(ls, "%d", &left) != 1) left = -1; pclose(ls); }
        T_CHECK(left == 0, "%d temporary files of killed %s runs left behind", left, argv[0]);
        free(rb);
    }
    /* merge: shards made here (the sharded runs of test_shards_and_merge may be gone) */
    merge_ctx mc = {NULL, {0}, 1};
    char shard[4][256], spec[4][16], out[256];
    snprintf(out, sizeof out, "%s/c2-merged.db", t_tmpdir());
    mc.out = out;
    for (int i = 0; i < 4; i++) {
        snprintf(shard[i], sizeof shard[i], "%s/c2-shard%d.db", t_tmpdir(), i);
        snprintf(spec[i], sizeof spec[i], "%d/4", i);
        const char *extra[] = {"--shard", spec[i], NULL};
        int rc;
        run_db(shard[i], extra, &rc);
        T_EQ_INT(rc, 0);
        mc.allowed[mc.n_allowed] = mc.allowed[mc.n_allowed - 1] + t_sql_count(shard[i], "SELECT count(*) FROM results");
        mc.n_allowed++;
    }
    const char *argv[] = {"merge", out, shard[0], shard[1], shard[2], shard[3], NULL};
    char probe[256];
    snprintf(probe, sizeof probe, "%s/c2-probe.db", t_tmpdir());
    argv[1] = probe;
    double full = ms_of(argv);
    argv[1] = out;
    int mid = kill_at_random(argv, full, 12, &seed, check_merge, &mc);
    fprintf(stderr, "     merge: 12 kills over %.0f ms, %d mid-run\n", full * 1.5, mid);
    t_proc p;
    t_run(&p, NULL, 0, argv);
    T_CHECK(p.rc == 0, "merge after kills: %s", p.err);
    t_proc_free(&p);
    char *a = t_sql_dump(out, ROWS_SQL), *b = t_sql_dump(ref_db, ROWS_SQL);
    T_CHECK(strcmp(a, b) == 0, "merged rows after kills differ from one run");
    free(a); free(b);
    a = t_sql_dump(out, METRICS_SQL); b = t_sql_dump(ref_db, METRICS_SQL);
    T_CHECK(strcmp(a, b) == 0, "merged metrics after kills differ");
    free(a); free(b);
}

/* Runs `llava-eval ARGV...` in a child set up by prep (limits, identity); exit
 * status, stderr into err (NUL-terminated, truncated). */
static int run_child(const char *const *argv, void (*prep)(void *), void *ctx, char *err, size_t cap)
{
    int fds[2];
    if (pipe(fds)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        freopen("/dev/null", "w", stdout);
        if (prep) prep(ctx);
        t_exec_cli(argv);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], err + n, cap - 1 - n)) > 0) n += (size_t)r;
    err[n] = 0;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void limit_fsize(void *ctx)
{
    struct rlimit rl = {*(rlim_t *)ctx, *(rlim_t *)ctx};
    signal(SIGXFSZ, SIG_IGN);   /* a write past the limit then fails with EFBIG */
    setrlimit(RLIMIT_FSIZE, &rl);
}

/* D1: the store's files may not grow past a limit (RLIMIT_FSIZE, SIGXFSZ ignored):
 * the run stops with `store: disk full`, exit 1, the committed rows intact; the
 * same command after the limit is gone completes it, equal to an uninterrupted run. */
static void test_disk_full(void)
{
    if (setup() || !ref_db[0]) T_SKIP("fixtures absent");
    static const rlim_t limits[] = {8192, 49152, 98304};
    for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
        char db[256], errbuf[4096];
        snprintf(db, sizeof db, "%s/full%zu.db", t_tmpdir(), li);
        const char *argv[40];
        run_args(argv, db, NULL);
        rlim_t lim = limits[li];
        int rc = run_child(argv, limit_fsize, &lim, errbuf, sizeof errbuf);
        long n = t_sql_count(db, "SELECT count(*) FROM results");
        fprintf(stderr, "     file size limit %lu: exit %d after %ld rows: %.200s", (unsigned long)lim, rc, n, errbuf);
        T_CHECK(rc == 1, "exit %d under a %lu-byte limit", rc, (unsigned long)lim);
        T_CHECK(strstr(errbuf, "llava-eval: store: disk full") != NULL, "message: %s", errbuf);
        T_CHECK(n < 24, "%ld rows under the limit", n);
        char *ic = t_sql_dump(db, "PRAGMA integrity_check");
        T_CHECK(!ic[0] || strncmp(ic, "ok", 2) == 0, "integrity after disk full: %s", ic);
        free(ic);
        run_db(db, NULL, &rc);
        T_EQ_INT(rc, 0);
        char *a = t_sql_dump(db, ROWS_SQL), *b = t_sql_dump(ref_db, ROWS_SQL);
        T_CHECK(strcmp(a, b) == 0, "resume after disk full differs from one run");
        free(a); free(b);
    }
}

static void drop_to_nobody(void *ctx)
{
    (void)ctx;
    if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) _exit(126);
}

/* D2: a store the user cannot write (as root, whose writes ignore mode bits, the
 * run is started as uid 65534): the run refuses to start with a clear message,
 * exit 2, and writes nothing: the store's bytes and its folder's listing unchanged. */
static void test_read_only_store(void)
{
    if (setup() || !ref_db[0]) T_SKIP("fixtures absent");
    int root = geteuid() == 0;
    char dir[256], db[300], cmd[1200], before[4096], after[4096], errbuf[4096];
    snprintf(dir, sizeof dir, "%s/ro", t_tmpdir());
    mkdir(dir, 0755);
    snprintf(db, sizeof db, "%s/ro.db", dir);
    snprintf(cmd, sizeof cmd, "cp %s %s && chmod 0444 %s && chmod 0555 %s && chmod 0755 %s",
             ref_db, db, db, dir, t_tmpdir());
    T_CHECK(system(cmd) == 0, "cannot prepare %s", db);
    snprintf(cmd, sizeof cmd, "cd %s && ls -la --time-style=full-iso . && sha256sum ro.db", dir);
    FILE *p = popen(cmd, "r");
    size_t nb = p ? fread(before, 1, sizeof before - 1, p) : 0;
    before[nb] = 0;
    if (p) pclose(p);
    const char *argv[40];
    run_args(argv, db, NULL);
    argv[run_args(argv, db, NULL)] = NULL;
    /* the child needs to read the suite and models as uid 65534 */
    int rc = run_child(argv, root ? drop_to_nobody : NULL, NULL, errbuf, sizeof errbuf);
    fprintf(stderr, "     %s: exit %d: %.200s", root ? "as uid 65534" : "as this user", rc, errbuf);
    if (rc == 126) T_SKIP("cannot drop privileges here");
    T_CHECK(rc == 2, "exit %d on a read-only store", rc);
    T_CHECK(strstr(errbuf, "read-only") || strstr(errbuf, "cannot write"), "message: %s", errbuf);
    p = popen(cmd, "r");
    size_t na = p ? fread(after, 1, sizeof after - 1, p) : 0;
    after[na] = 0;
    if (p) pclose(p);
    T_CHECK(nb > 0 && strcmp(before, after) == 0, "the folder changed:\n%s\n---\n%s", before, after);
    snprintf(cmd, sizeof cmd, "chmod 0755 %s && chmod 0700 %s", dir, t_tmpdir());
    T_CHECK(system(cmd) == 0, "chmod back");
    /* the same file opened read-only by URI works for readers (report) */
    t_proc pr;
    char out[300];
    snprintf(out, sizeof out, "%s/ro-report.html", t_tmpdir());
    const char *rargv[] = {"report", "--db", db, "-o", out, NULL};
    t_run(&pr, NULL, 0, rargv);
    T_CHECK(pr.rc == 0, "report from a read-only store: %s", pr.err);
    t_proc_free(&pr);
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
    T_CHECK(t_sql_count(db, "SELECT count(*) FROM results WHERE status='error' AND error LIKE '%'") >= 1, "error rows");
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='error' AND output IS NOT NULL"), 0);
    t_write_file(img, good, len);
    t_run(&p, NULL, 0, argv);
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='error'"), 0);
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
    T_RUN(test_kill_during_outputs);
    T_RUN(test_disk_full);
    T_RUN(test_read_only_store);
    T_RUN(test_broken_image_rows);
    T_RUN(test_readme_queries);
    T_MAIN_END();
}
