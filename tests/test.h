/* tests/test.h — the tiny test framework every tests/test_*.c uses.
 *
 * A test binary is a list of cases: static functions run with T_RUN(fn). Inside a
 * case, T_CHECK/T_EQ_* record failures (the case goes on, so one run shows every
 * broken assertion) and T_SKIP ends the case as skipped (a fixture is missing).
 * T_MAIN_END prints "RESULT pass fail skip", which tests/run.sh adds up.
 *
 * Helpers: t_fixtures() finds the shared fixtures ($LLAVA_EVAL_FIXTURES, default
 * ../shared/fixtures) or returns NULL; t_read_file() slurps a file; t_run() runs the
 * llava-eval binary under test ($LLAVA_EVAL_BIN) and captures stdout, stderr, exit code.
 */
#ifndef LV_TEST_H
#define LV_TEST_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

extern int t_pass, t_fail, t_skip;
extern int t_case_failed, t_case_skipped;
extern const char *t_case_name;

void t_failf(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void t_skipf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void t_run_case(const char *name, void (*fn)(void));
int  t_summary(void);

#define T_RUN(fn) t_run_case(#fn, fn)
#define T_CHECK(cond, ...) \
    do { if (!(cond)) t_failf(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define T_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    if (_a != _b) t_failf(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, _a, #b, _b); } while (0)
#define T_EQ_STR(a, b) do { const char *_a = (a), *_b = (b); \
    if (!_a || !_b || strcmp(_a, _b) != 0) t_failf(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
#define T_NEAR(a, b, tol) do { double _a = (a), _b = (b); \
    if (!(_a - _b <= (tol) && _b - _a <= (tol))) t_failf(__FILE__, __LINE__, "%s == %.17g, expected %.17g (tol %g)", #a, _a, _b, (double)(tol)); } while (0)
/* Ends the current case as skipped. */
#define T_SKIP(...) do { t_skipf(__VA_ARGS__); return; } while (0)
#define T_MAIN_END() return t_summary()

/* Shared fixture folder, or NULL when it is absent (then skip). */
const char *t_fixtures(void);
/* t_fixtures()/rel, else tests/data/rel (small fixtures copied into the
 * repository), into a static buffer; NULL when neither exists. */
const char *t_fixture(const char *rel);

/* Whole file into a malloc'd buffer (NUL-terminated, *len without the NUL); NULL on error. */
char *t_read_file(const char *path, size_t *len);
int   t_write_file(const char *path, const void *data, size_t len);
/* A fresh temporary directory (removed by nobody: it lives under /tmp). */
const char *t_tmpdir(void);
/* python3 runs (the test tools and scripts some cases drive need it) */
int t_have_python3(void);

/* Result of running the binary under test. */
typedef struct {
    int   rc;          /* exit status, or 128+signal when killed */
    char *out, *err;   /* captured stdout / stderr (malloc'd, NUL-terminated) */
    size_t out_len, err_len;
    double seconds;
} t_proc;
/* Runs $LLAVA_EVAL_BIN (default ./llava-eval) with argv (NULL-terminated, without
 * argv[0]); stdin_data (may be NULL) is fed to its standard input. */
int  t_run(t_proc *p, const char *stdin_data, size_t stdin_len, const char *const *argv);
void t_proc_free(t_proc *p);
/* In a forked child: exec $LLAVA_EVAL_BIN (default ./llava-eval) with argv
 * (NULL-terminated, without argv[0]); exits 127 if the exec fails. */
_Noreturn void t_exec_cli(const char *const *argv);

/* A test server on 127.0.0.1: runs argv (NULL-terminated, argv[0] looked up in PATH),
 * which must print its port on the first line of stdout. It dies with the test
 * (PDEATHSIG). The port, or -1 on failure; *pid is the child (0 when none). */
int  t_server_start(const char *const *argv, pid_t *pid);
/* SIGTERM and reap; *pid becomes 0. Nothing when *pid is 0. */
void t_server_stop(pid_t *pid);

/* Every row of a query on a store opened read-only, columns joined by '|', one row a
 * line, NULL as "NULL" (malloc'd; "" when the store cannot be opened). */
char *t_sql_dump(const char *db, const char *sql);
/* The leading integer of t_sql_dump (a COUNT(*) and the like). */
long  t_sql_count(const char *db, const char *sql);

#endif
