/* tests/test_remote.c — `llava-eval run --backend openai` end to end against
 * tests/tools/mock_openai.py on 127.0.0.1 (started and stopped here, a free port).
 *
 * Cases (issue 9, ecosystem.md §3 F4 and S2): normal answers with and without
 * logprobs, N requests in flight, choice mode from first-token top_logprobs and its fallback, then one
 * table row per misbehaviour (truncated body, truncated chunked body, HTML with
 * 200, JSON without choices, content null, logprob null, logprobs null, 50 MB
 * bodies, a slow drip past the timeout, 503 twice then 200, 429 with Retry-After in
 * seconds and as an HTTP date, 401 and other 4xx not retried, a server echoing the
 * key), a refused connection, resume retrying only the error rows, the canary key
 * reaching the server and appearing nowhere else, and compare of a native and a
 * remote run of one suite. */
#include "tests/test.h"

#include <cJSON.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY_ENV "LV_TEST_REMOTE_KEY"

static char suite_dir[300], canary[64];
static pid_t mock_pid;
static int mock_port;
static char mock_log[300];

/* ------------------------------------------------------------ the mock server */

/* Starts the mock with extra arguments (NULL-terminated); 0 on success. */
static int mock_start(const char *const *extra)
{
    const char *argv[32] = {"python3", "tests/tools/mock_openai.py", mock_log};
    int n = 3;
    static int seq;
    snprintf(mock_log, sizeof mock_log, "%s/mock-%d.jsonl", t_tmpdir(), seq++);
    for (int i = 0; extra && extra[i] && n < 31; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    mock_port = t_server_start(argv, &mock_pid);
    return mock_port > 0 ? 0 : -1;
}

static void mock_stop(void)
{
    t_server_stop(&mock_pid);
}

/* The mock's log entries: probe = 0 sample requests, 1 probes, -1 all. */
static int log_read(cJSON **out, int cap, int probe)
{
    size_t len;
    char *s = t_read_file(mock_log, &len);
    int n = 0;
    if (!s) return 0;
    for (char *save = NULL, *line = strtok_r(s, "\n", &save); line && n < cap; line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        if (!o) continue;
        int is_probe = cJSON_IsTrue(cJSON_GetObjectItem(o, "probe"));
        if (probe < 0 || is_probe == probe) out[n++] = o;
        else cJSON_Delete(o);
    }
    free(s);
    return n;
}

static void log_free(cJSON **v, int n)
{
    for (int i = 0; i < n; i++) cJSON_Delete(v[i]);
}

static const char *jstr(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double jnum(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

/* ------------------------------------------------------------ helpers */

static int setup(void)
{
    if (!suite_dir[0]) {
        snprintf(suite_dir, sizeof suite_dir, "%s/suite", t_tmpdir());
        t_proc pr;
        const char *argv[] = {"suite", "make", "object-size", "-o", suite_dir, "--n", "4", "--seed", "7", NULL};
        t_run(&pr, NULL, 0, argv);
        if (pr.rc) fprintf(stderr, "suite make: %s", pr.err);
        t_proc_free(&pr);
        srand((unsigned)getpid() ^ (unsigned)time(NULL));
        snprintf(canary, sizeof canary, "sk-canary-%08x%08x", (unsigned)rand(), (unsigned)rand());
        setenv(KEY_ENV, canary, 1);
    }
    return 0;
}

static const char *mock_url(void)
{
    static char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/v1", mock_port);
    return u;
}

/* Runs a remote run into db against url; extra args appended. */
static void run_remote(t_proc *p, const char *db, const char *url, const char *const *extra)
{
    const char *argv[64] = {"run", "-q", "--suite", suite_dir, "--backend", "openai", "--url", url, "--model-name",
                            "llava-served", "--api-key-env", KEY_ENV, "--db", db, "--backoff", "0.05", "-n", "7"};
    int n = 18;
    for (int i = 0; extra && extra[i] && n < 63; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    t_run(p, NULL, 0, argv);
}

/* 1 when the secret's bytes occur in buf. */
static int holds(const char *buf, size_t len, const char *secret)
{
    return buf && memmem(buf, len, secret, strlen(secret)) != NULL;
}

/* Asserts the canary (and other secrets) are absent from a file, if it exists. */
static void file_clean(const char *path, const char *secret)
{
    size_t len;
    char *b = t_read_file(path, &len);
    if (!b) return;
    T_CHECK(!holds(b, len, secret), "%s holds the secret %s", path, secret);
    free(b);
}

static void store_clean(const char *db, const char *secret)
{
    char wal[600];
    file_clean(db, secret);
    snprintf(wal, sizeof wal, "%s-wal", db);
    file_clean(wal, secret);
}

/* ------------------------------------------------------------ normal answers */

static void test_normal_with_logprobs_and_canary(void)
{
    setup();
    if (mock_start(NULL)) T_SKIP("python3 mock server does not start");
    char db[300], url[160], html[300];
    snprintf(db, sizeof db, "%s/normal.db", t_tmpdir());
    snprintf(url, sizeof url, "http://user:pw-secret-77@127.0.0.1:%d/v1/", mock_port);
    t_proc p;
    const char *extra[] = {"--resolutions", "56,native", "--concurrency", "3", NULL};
    run_remote(&p, db, url, extra);
    mock_stop();
    T_EQ_INT(p.rc, 0);
    if (p.rc) fprintf(stderr, "run: %s\n", p.err);
    T_CHECK(!holds(p.err, p.err_len, canary) && !holds(p.out, p.out_len, canary), "the key is in the run's output");
    T_CHECK(!holds(p.err, p.err_len, "pw-secret-77"), "the URL password is in the run's output");
    t_proc_free(&p);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='ok' AND quant='remote'"), 8);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE logprobs LIKE '{\"text_tokens\":[{\"token\":%'"), 8);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE output IN ('Yes','No') AND parsed IN ('yes','no')"), 8);
    T_CHECK(t_sql_count(db, "SELECT count(*) FROM metrics WHERE name='pope_accuracy'") > 0, "metrics computed");
    char *run = t_sql_dump(db, "SELECT backend, remote_url, remote_model, model_path FROM runs");
    char want[200];
    snprintf(want, sizeof want, "openai|http://127.0.0.1:%d/v1/|llava-served|NULL\n", mock_port);
    T_EQ_STR(run, want);
    free(run);

    /* what the server saw: the key, the image part before the text, greedy settings */
    cJSON *v[64];
    int n = log_read(v, 64, 0), reduced = 0, full = 0;
    T_EQ_INT(n, 8);
    char auth[100];
    snprintf(auth, sizeof auth, "Bearer %s", canary);
    for (int i = 0; i < n; i++) {
        T_EQ_STR(jstr(v[i], "auth"), auth);
        T_EQ_STR(jstr(v[i], "path"), "/v1/chat/completions");
        T_EQ_STR(jstr(v[i], "model"), "llava-served");
        T_EQ_STR(jstr(v[i], "mime"), "image/png");
        T_EQ_INT(jnum(v[i], "image_index"), 0);
        T_EQ_INT(jnum(v[i], "n_parts"), 2);
        T_EQ_INT(jnum(v[i], "max_tokens"), 7);
        T_EQ_INT(jnum(v[i], "temperature"), 0);
        T_EQ_INT(jnum(v[i], "seed"), 42);
        T_EQ_INT(jnum(v[i], "top_logprobs"), 5);
        T_CHECK(strstr(jstr(v[i], "text"), "Answer the question using a single word") != NULL, "suite prompt sent");
        double w = jnum(v[i], "w"), h = jnum(v[i], "h");
        reduced += (w > h ? w : h) == 56;
        full += (w > h ? w : h) == 336;
    }
    T_EQ_INT(reduced, 4);
    T_EQ_INT(full, 4);
    log_free(v, n);
    n = log_read(v, 64, 1);
    T_EQ_INT(n, 1);   /* one logprobs probe */
    if (n) T_EQ_STR(jstr(v[0], "auth"), auth);
    log_free(v, n);

    /* S2: the canary reached the server and is nowhere else */
    store_clean(db, canary);
    store_clean(db, "pw-secret-77");
    const char *fmts[] = {"csv", "jsonl"};
    for (int i = 0; i < 2; i++) {
        const char *argv[] = {"export", "--db", db, "--format", fmts[i], NULL};
        t_run(&p, NULL, 0, argv);
        T_EQ_INT(p.rc, 0);
        T_CHECK(p.out_len > 100, "export %s wrote rows", fmts[i]);
        T_CHECK(!holds(p.out, p.out_len, canary) && !holds(p.err, p.err_len, canary), "key in export");
        T_CHECK(!holds(p.out, p.out_len, "pw-secret-77"), "URL password in export");
        t_proc_free(&p);
    }
    snprintf(html, sizeof html, "%s/normal.html", t_tmpdir());
    const char *rargv[] = {"report", "--db", db, "-o", html, NULL};
    t_run(&p, NULL, 0, rargv);
    T_EQ_INT(p.rc, 0);
    T_CHECK(!holds(p.err, p.err_len, canary), "key in report's log");
    t_proc_free(&p);
    size_t hl;
    char *h = t_read_file(html, &hl);
    T_CHECK(h && strstr(h, "llava-served"), "report names the served model");
    free(h);
    file_clean(html, canary);
    file_clean(html, "pw-secret-77");
}

static void test_server_without_logprobs(void)
{
    setup();
    const char *margs[] = {"--no-logprobs", NULL};
    if (mock_start(margs)) T_SKIP("python3 mock server does not start");
    char db[300];
    snprintf(db, sizeof db, "%s/nolp.db", t_tmpdir());
    t_proc p;
    run_remote(&p, db, mock_url(), NULL);
    mock_stop();
    T_EQ_INT(p.rc, 0);
    T_CHECK(strstr(p.err, "notice: the server gives no logprobs") != NULL, "notice: %s", p.err);
    t_proc_free(&p);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='ok' AND logprobs IS NULL"), 4);
    cJSON *v[16];
    int n = log_read(v, 16, 0);
    T_EQ_INT(n, 4);
    for (int i = 0; i < n; i++) T_CHECK(cJSON_GetObjectItem(v[i], "logprobs") == NULL || cJSON_IsNull(cJSON_GetObjectItem(v[i], "logprobs")),
                                        "logprobs not asked after the probe");
    log_free(v, n);
}

static void test_choice_mode(void)
{
    setup();
    if (mock_start(NULL)) T_SKIP("python3 mock server does not start");
    char db[300];
    snprintf(db, sizeof db, "%s/choice.db", t_tmpdir());
    t_proc p;
    const char *extra[] = {"--mode", "choice", NULL};
    run_remote(&p, db, mock_url(), extra);
    mock_stop();
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='ok' AND output IN ('Yes','No') AND choice_margin IS NOT NULL"
                       " AND abs(abs(choice_margin) - 2.4) < 1e-9"), 4);
    char *m = t_sql_dump(db, "SELECT mode FROM runs");
    T_EQ_STR(m, "choice\n");
    free(m);
    cJSON *v[16];
    int n = log_read(v, 16, 0);
    T_EQ_INT(n, 4);
    for (int i = 0; i < n; i++) T_EQ_INT(jnum(v[i], "max_tokens"), 1);
    log_free(v, n);

    /* without logprobs: generate mode, with a notice */
    const char *margs[] = {"--no-logprobs", NULL};
    if (mock_start(margs)) T_SKIP("python3 mock server does not start");
    snprintf(db, sizeof db, "%s/choice-nolp.db", t_tmpdir());
    run_remote(&p, db, mock_url(), extra);
    mock_stop();
    T_EQ_INT(p.rc, 0);
    T_CHECK(strstr(p.err, "falling back to generate mode") != NULL, "fallback notice: %s", p.err);
    t_proc_free(&p);
    m = t_sql_dump(db, "SELECT mode FROM runs");
    T_EQ_STR(m, "generate\n");
    free(m);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='ok' AND choice_margin IS NULL"), 4);
    n = log_read(v, 16, 0);
    for (int i = 0; i < n; i++) T_EQ_INT(jnum(v[i], "max_tokens"), 7);
    log_free(v, n);
}


/* --concurrency N: N requests reach the server before the first is answered. */
static void test_concurrency(void)
{
    setup();
    const char *margs[] = {"--default", "sleep", NULL};
    if (mock_start(margs)) T_SKIP("python3 mock server does not start");
    char db[300];
    snprintf(db, sizeof db, "%s/conc.db", t_tmpdir());
    t_proc p;
    const char *extra[] = {"--concurrency", "4", NULL};
    run_remote(&p, db, mock_url(), extra);
    mock_stop();
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='ok'"), 4);
    cJSON *v[16];
    int n = log_read(v, 16, 0);
    T_EQ_INT(n, 4);
    if (n == 4) {
        double spread = jnum(v[3], "t") - jnum(v[0], "t");
        T_CHECK(spread < 0.4, "4 requests should be in flight together (they arrived over %.2f s)", spread);
    }
    log_free(v, n);
}

/* ------------------------------------------------------------ misbehaviour table */

typedef struct {
    const char *name;
    const char *script, *dflt, *probe;   /* mock behaviours */
    const char *retries, *timeout;
    int         exit_code;
    const char *status;                  /* of the one row; NULL: no row at all */
    const char *want;                    /* substring of error (error rows, or stderr when no row);
                                            of output for ok rows ("" = empty output) */
    const char *want_lp;                 /* substring of the logprobs column, or NULL */
    int         requests;                /* sample requests the server saw */
    double      min_gap_s;               /* between the first and last of them */
} scenario;

static const scenario scenarios[] = {
    {"503 twice then 200", "503,503", "ok", NULL, "2", "5", 0, "ok", NULL, "text_tokens", 3, 0},
    {"503 every time", NULL, "503", NULL, "2", "5", 1, "error", "HTTP 503", NULL, 3, 0},
    {"500 then 200", "500", "ok", NULL, "2", "5", 0, "ok", NULL, NULL, 2, 0},
    {"408 then 200", "408", "ok", NULL, "2", "5", 0, "ok", NULL, NULL, 2, 0},
    {"409 then 200", "409", "ok", NULL, "2", "5", 0, "ok", NULL, NULL, 2, 0},
    {"429 Retry-After seconds", "429s", "ok", NULL, "2", "5", 0, "ok", NULL, NULL, 2, 0.9},
    {"429 Retry-After HTTP date", "429d", "ok", NULL, "2", "5", 0, "ok", NULL, NULL, 2, 0.9},
    {"401 on a sample: not retried", NULL, "401", NULL, "2", "5", 1, "error", "HTTP 401", NULL, 1, 0},
    {"400: not retried", NULL, "400", NULL, "2", "5", 1, "error", "HTTP 400", NULL, 1, 0},
    {"404: not retried", NULL, "404", NULL, "2", "5", 1, "error", "HTTP 404", NULL, 1, 0},
    {"401 on the probe stops the run", NULL, "401", "401", "2", "5", 1, NULL, "HTTP 401", NULL, 0, 0},
    {"truncated body (Content-Length)", NULL, "trunc", NULL, "1", "5", 1, "error", "curl 18", NULL, 2, 0},
    {"truncated chunked body", NULL, "chunktrunc", NULL, "1", "5", 1, "error", "truncated", NULL, 2, 0},
    {"HTML with 200", NULL, "html", NULL, "2", "5", 1, "error", "not JSON", NULL, 1, 0},
    {"JSON without choices", NULL, "nochoices", NULL, "2", "5", 1, "error", "no choices", NULL, 1, 0},
    {"content null", NULL, "contentnull", NULL, "2", "5", 0, "ok", "", NULL, 1, 0},
    {"token logprob null", NULL, "lptoknull", NULL, "2", "5", 0, "ok", NULL, "\"logprob\":null", 1, 0},
    {"logprobs null", NULL, "lpnull", NULL, "2", "5", 0, "ok", NULL, "NULL", 1, 0},
    {"50 MB body with Content-Length", NULL, "big", NULL, "2", "5", 1, "error", "over the cap", NULL, 1, 0},
    {"50 MB chunked body", NULL, "bigchunked", NULL, "2", "5", 1, "error", "over the cap", NULL, 1, 0},
    {"slow drip past the timeout", NULL, "slow", NULL, "1", "1", 1, "error", "timed out", NULL, 2, 0},
    {"server echoes the key", NULL, "echo", NULL, "2", "5", 0, "ok", "[redacted]", NULL, 1, 0},
};

static void run_scenario(const scenario *sc)
{
    const char *margs[8] = {"--default", sc->dflt};
    int k = 2;
    if (sc->script) { margs[k++] = "--script"; margs[k++] = sc->script; }
    if (sc->probe) { margs[k++] = "--probe"; margs[k++] = sc->probe; }
    margs[k] = NULL;
    if (mock_start(margs)) { T_CHECK(0, "%s: mock does not start", sc->name); return; }
    char db[300];
    static int seq;
    snprintf(db, sizeof db, "%s/sc-%d.db", t_tmpdir(), seq++);
    t_proc p;
    const char *extra[] = {"--limit", "1", "--retries", sc->retries, "--timeout", sc->timeout, NULL};
    run_remote(&p, db, mock_url(), extra);
    mock_stop();
    T_CHECK(p.rc == sc->exit_code, "%s: exit %d, expected %d (%s)", sc->name, p.rc, sc->exit_code, p.err);
    T_CHECK(!holds(p.err, p.err_len, canary), "%s: the key is in stderr", sc->name);
    if (!sc->status) {
        T_CHECK(strstr(p.err, sc->want) != NULL, "%s: stderr lacks '%s': %s", sc->name, sc->want, p.err);
        T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results"), 0);
    } else {
        char *row = t_sql_dump(db, "SELECT status, coalesce(error,''), coalesce(output,''), coalesce(logprobs,'NULL') FROM results");
        char *f[4] = {row, NULL, NULL, NULL};
        for (int i = 1; i < 4 && f[i - 1]; i++) {
            char *bar = strchr(f[i - 1], '|');
            if (bar) { *bar = 0; f[i] = bar + 1; }
        }
        if (f[3]) f[3][strcspn(f[3], "\n")] = 0;
        T_CHECK(f[3] != NULL, "%s: one row expected, got '%s'", sc->name, row);
        if (f[3]) {
            T_CHECK(strcmp(f[0], sc->status) == 0, "%s: status %s, expected %s (error '%s')", sc->name, f[0], sc->status, f[1]);
            if (sc->want && strcmp(sc->status, "error") == 0)
                T_CHECK(strstr(f[1], sc->want) != NULL, "%s: error '%s' lacks '%s'", sc->name, f[1], sc->want);
            if (sc->want && strcmp(sc->status, "ok") == 0)
                T_CHECK(sc->want[0] ? strstr(f[2], sc->want) != NULL : f[2][0] == 0, "%s: output '%s', expected '%s'",
                        sc->name, f[2], sc->want);
            if (sc->want_lp) T_CHECK(strstr(f[3], sc->want_lp) != NULL, "%s: logprobs '%s' lack '%s'", sc->name, f[3], sc->want_lp);
        }
        free(row);
    }
    cJSON *v[16];
    int n = log_read(v, 16, 0);
    T_CHECK(n == sc->requests, "%s: the server saw %d requests, expected %d", sc->name, n, sc->requests);
    if (n >= 2 && sc->min_gap_s > 0) {
        double gap = jnum(v[n - 1], "t") - jnum(v[0], "t");
        T_CHECK(gap >= sc->min_gap_s, "%s: retried after %.2f s, Retry-After asked for more", sc->name, gap);
    }
    log_free(v, n);
    t_proc_free(&p);
    store_clean(db, canary);
}

static void test_misbehaving_server(void)
{
    setup();
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) run_scenario(&scenarios[i]);
}

static void test_connection_refused(void)
{
    setup();
    /* a port that was free a moment ago and has nobody listening */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &al))
        T_SKIP("no socket");
    close(fd);
    char url[100], db[300];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", ntohs(a.sin_port));
    snprintf(db, sizeof db, "%s/refused.db", t_tmpdir());
    t_proc p;
    const char *extra[] = {"--limit", "2", "--retries", "1", NULL};
    run_remote(&p, db, url, extra);
    T_EQ_INT(p.rc, 1);
    T_CHECK(strstr(p.err, "probe failed") != NULL, "probe notice: %s", p.err);
    T_CHECK(!holds(p.err, p.err_len, canary), "key in stderr");
    t_proc_free(&p);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='error' AND error LIKE 'cannot connect%after 2 attempts'"), 2);
    store_clean(db, canary);
}


/* S2 for the WAL: a run killed (SIGKILL) while a request hangs leaves its -wal
 * file behind with the committed rows; the key must not be in it either. */
static void test_canary_absent_from_wal(void)
{
    setup();
    const char *margs[] = {"--script", "echo,ok,slow", "--default", "slow", NULL};
    if (mock_start(margs)) T_SKIP("python3 mock server does not start");
    char db[300], wal[320], errf[300];
    snprintf(db, sizeof db, "%s/wal.db", t_tmpdir());
    snprintf(wal, sizeof wal, "%s-wal", db);
    snprintf(errf, sizeof errf, "%s/wal.err", t_tmpdir());
    const char *bin = getenv("LLAVA_EVAL_BIN");
    if (!bin || !*bin) bin = "./llava-eval";
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) { dup2(fd, 2); dup2(fd, 1); }
        execl(bin, bin, "run", "-q", "--suite", suite_dir, "--backend", "openai", "--url", mock_url(), "--model-name",
              "m", "--api-key-env", KEY_ENV, "--db", db, "--concurrency", "1", "--timeout", "30", (char *)NULL);
        _exit(127);
    }
    /* wait until the third sample request reached the server (two rows committed) */
    int seen = 0;
    for (int i = 0; i < 300 && seen < 3; i++) {
        cJSON *v[16];
        int n = log_read(v, 16, 0);
        seen = n;
        log_free(v, n);
        if (seen < 3) usleep(20000);
    }
    usleep(100000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    mock_stop();
    T_EQ_INT(seen, 3);
    T_CHECK(access(wal, F_OK) == 0, "the killed run left a -wal file");
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='ok'"), 2);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE output LIKE '%[redacted]%'"), 1);
    store_clean(db, canary);
    file_clean(errf, canary);
}

/* ------------------------------------------------------------ resume */

static void test_resume_retries_only_error_rows(void)
{
    setup();
    const char *m1[] = {"--script", "ok,html,ok,html", "--default", "ok", NULL};
    if (mock_start(m1)) T_SKIP("python3 mock server does not start");
    char db[300];
    snprintf(db, sizeof db, "%s/resume.db", t_tmpdir());
    t_proc p;
    const char *extra[] = {"--concurrency", "1", NULL};
    run_remote(&p, db, mock_url(), extra);
    mock_stop();
    T_EQ_INT(p.rc, 1);
    t_proc_free(&p);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='error'"), 2);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='ok'"), 2);
    char *ok_before = t_sql_dump(db, "SELECT sample_id, output, created FROM results WHERE status='ok' ORDER BY 1");

    if (mock_start(NULL)) T_SKIP("python3 mock server does not start");
    run_remote(&p, db, mock_url(), extra);
    mock_stop();
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM results WHERE status='ok'"), 4);
    T_EQ_INT(t_sql_count(db, "SELECT count(*) FROM runs"), 1);
    cJSON *v[16];
    int n = log_read(v, 16, 0);
    T_EQ_INT(n, 2);   /* only the two error rows were asked again */
    log_free(v, n);
    char *ok_after = t_sql_dump(db, "SELECT sample_id, output, created FROM results WHERE status='ok' ORDER BY 1");
    /* every row that was ok before is unchanged */
    for (char *save = NULL, *line = strtok_r(ok_before, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        T_CHECK(strstr(ok_after, line) != NULL, "ok row changed on resume: %s", line);
    free(ok_before);
    free(ok_after);
}

/* ------------------------------------------------------------ compare */

static void test_compare_native_and_remote(void)
{
    setup();
    char model[1024], mmproj[1024], db[300];
    const char *m = t_fixture("tiny-llava/text-Q4_0.gguf");
    if (!m) T_SKIP("fixtures absent");
    snprintf(model, sizeof model, "%s", m);
    const char *pj = t_fixture("tiny-llava/mmproj.gguf");
    if (!pj) T_SKIP("fixtures absent");
    snprintf(mmproj, sizeof mmproj, "%s", pj);
    snprintf(db, sizeof db, "%s/compare.db", t_tmpdir());
    t_proc p;
    const char *nat[] = {"run", "-q", "--suite", suite_dir, "-m", model, "--mmproj", mmproj, "--db", db, "-n", "4",
                         "-t", "1", "--name", "native", NULL};
    t_run(&p, NULL, 0, nat);
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    if (mock_start(NULL)) T_SKIP("python3 mock server does not start");
    const char *extra[] = {"--name", "served", NULL};
    run_remote(&p, db, mock_url(), extra);
    mock_stop();
    T_EQ_INT(p.rc, 0);
    t_proc_free(&p);
    const char *cmp[] = {"compare", "--db", db, "native", "served", "--json", NULL};
    t_run(&p, NULL, 0, cmp);
    T_EQ_INT(p.rc, 0);
    if (p.rc) fprintf(stderr, "compare: %s\n", p.err);
    cJSON *j = cJSON_Parse(p.out);
    T_CHECK(j != NULL, "compare --json parses");
    T_CHECK(strstr(p.out, "pope_f1") != NULL, "compare has the yes/no metrics");
    cJSON_Delete(j);
    t_proc_free(&p);
    const char *cmpt[] = {"compare", "--db", db, "native", "served", NULL};
    t_run(&p, NULL, 0, cmpt);
    T_EQ_INT(p.rc, 0);
    T_CHECK(strstr(p.out, "remote") != NULL, "the text table names the remote side: %s", p.out);
    t_proc_free(&p);
    char *b = t_sql_dump(db, "SELECT name, backend FROM runs ORDER BY id");
    T_EQ_STR(b, "native|native\nserved|openai\n");
    free(b);
}

static void test_usage_errors(void)
{
    setup();
    t_proc p;
    const char *a1[] = {"run", "--suite", suite_dir, "--backend", "openai", "--model-name", "x", NULL};
    t_run(&p, NULL, 0, a1);
    T_EQ_INT(p.rc, 2);
    T_CHECK(strstr(p.err, "--url") != NULL, "names --url: %s", p.err);
    t_proc_free(&p);
    const char *a2[] = {"run", "--suite", suite_dir, "--backend", "openai", "--url", "ftp://127.0.0.1/", "--model-name", "x",
                        "--db", "/dev/null/x.db", NULL};
    t_run(&p, NULL, 0, a2);
    T_EQ_INT(p.rc, 2);
    t_proc_free(&p);
    const char *a3[] = {"run", "--suite", suite_dir, "--backend", "openai", "--url", "http://127.0.0.1:1/", "--model-name",
                        "x", "--api-key-env", "LV_TEST_UNSET_VARIABLE", NULL};
    t_run(&p, NULL, 0, a3);
    T_EQ_INT(p.rc, 2);
    T_CHECK(strstr(p.err, "LV_TEST_UNSET_VARIABLE") != NULL, "names the variable: %s", p.err);
    t_proc_free(&p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    T_RUN(test_usage_errors);
    T_RUN(test_normal_with_logprobs_and_canary);
    T_RUN(test_server_without_logprobs);
    T_RUN(test_choice_mode);
    T_RUN(test_concurrency);
    T_RUN(test_misbehaving_server);
    T_RUN(test_connection_refused);
    T_RUN(test_canary_absent_from_wal);
    T_RUN(test_resume_retries_only_error_rows);
    T_RUN(test_compare_native_and_remote);
    T_MAIN_END();
}
