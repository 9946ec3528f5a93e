/* harness/cmd_run.c — 'llava-eval run': a suite through a model at several
 * resolutions and quantization levels, every result in the store; running the
 * same command again resumes. */
#include "harness/cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/run.h"

static const char *o_suite, *o_model, *o_mmproj, *o_db, *o_name, *o_res, *o_mode, *o_shard, *o_pre, *o_tpl;
static cli_strlist o_quants;
static long o_limit, o_threads, o_n = 16, o_seed = 42, o_top = 5;
static double o_temp;
static int o_quiet, o_no_reuse;
static const char *o_backend, *o_url, *o_model_name, *o_key_env;
static long o_conc = 4, o_retries = 2;
static double o_timeout = 600, o_backoff = 0.5;

static const cli_opt opts[] = {
    {0, "suite", CLI_STR, &o_suite, "DIR", "suite folder (suite.json + samples.jsonl)", 0, 0},
    {'m', "model", CLI_STR, &o_model, "FILE", "text model GGUF", 0, 0},
    {0, "mmproj", CLI_STR, &o_mmproj, "FILE", "vision model GGUF (CLIP + projector)", 0, 0},
    {0, "db", CLI_STR, &o_db, "FILE", "results store (default results.db)", 0, 0},
    {0, "name", CLI_STR, &o_name, "LABEL", "run label (default: the suite's name)", 0, 0},
    {0, "resolutions", CLI_STR, &o_res, "LIST", "longer-side sizes in pixels and/or native (default native)", 0, 0},
    {0, "quants", CLI_LIST, &o_quants, "LIST", "GGUF files or type names (q8_0, q4_0, ...) re-quantizing -m; repeatable or comma-separated", 0, 0},
    {0, "mode", CLI_STR, &o_mode, "MODE", "generate (default: generate, then parse) | choice (log-probs of Yes/No)", 0, 0},
    {0, "preprocess", CLI_STR, &o_pre, "MODE", "llava (default) | llama.cpp", 0, 0},
    {0, "template", CLI_STR, &o_tpl, "NAME", "llava-1.5 | llava-1.6-mistral (default: from the model)", 0, 0},
    {0, "limit", CLI_INT, &o_limit, "N", "only the first N samples (the run is marked partial)", 1, 1e9},
    {0, "shard", CLI_STR, &o_shard, "I/N", "this shard of N, split by image (0 <= I < N)", 0, 0},
    {'n', "n-predict", CLI_INT, &o_n, "N", "new tokens at most per answer (default 16)", 1, 4096},
    {0, "temp", CLI_DOUBLE, &o_temp, "T", "temperature (default 0: greedy)", 0, 100},
    {0, "seed", CLI_INT, &o_seed, "S", "sampling seed (default 42)", 0, 4294967295.0},
    {0, "top", CLI_INT, &o_top, "K", "alternatives stored per answer token (default 5)", 0, 32},
    {'t', "threads", CLI_INT, &o_threads, "N", "threads (default: CPUs, at most 8)", 1, 256},
    {'q', "quiet", CLI_FLAG, &o_quiet, NULL, "no progress on stderr", 0, 0},
    {0, "no-reuse", CLI_FLAG, &o_no_reuse, NULL, "encode and prefill again for every question (benchmarks; same results)", 0, 0},
    {0, "backend", CLI_STR, &o_backend, "NAME", "native (default: the engine here) | openai (a server's chat-completions API)", 0, 0},
    {0, "url", CLI_STR, &o_url, "URL", "openai: the server's base URL (http://host:port/v1) or its /chat/completions", 0, 0},
    {0, "model-name", CLI_STR, &o_model_name, "NAME", "openai: the served model's name", 0, 0},
    {0, "api-key-env", CLI_STR, &o_key_env, "VAR", "openai: read the API key from this environment variable (never stored)", 0, 0},
    {0, "concurrency", CLI_INT, &o_conc, "N", "openai: requests in flight (default 4)", 1, 256},
    {0, "timeout", CLI_DOUBLE, &o_timeout, "S", "openai: seconds per request attempt (default 600)", 0.05, 86400},
    {0, "retries", CLI_INT, &o_retries, "N", "openai: extra attempts on connection errors, 408, 409, 429, 5xx (default 2)", 0, 20},
    {0, "backoff", CLI_DOUBLE, &o_backoff, "S", "openai: first retry delay in seconds, doubling up to 8 (default 0.5)", 0.001, 60},
    {0, NULL, 0, NULL, NULL, NULL, 0, 0},
};

static const cli_spec spec = {
    "run",
    "run --suite DIR [-m TEXT.gguf --mmproj MMPROJ.gguf | --backend openai --url URL --model-name NAME [--api-key-env VAR] [--concurrency N]] [--db FILE] [--name LABEL] [--resolutions LIST] [--quants LIST] [--mode generate|choice] [--limit N] [--shard I/N] [-t N]",
    "Runs a suite and stores every result; running the same command again resumes.",
    "Each image is encoded once per resolution and quant, and the prompt up to the\n"
    "question is evaluated once and reused for every question about the image.\n"
    "A sample that fails (bad image) is stored with status 'error' and retried on\n"
    "resume. Ctrl-C finishes the current row, commits it and exits with 130.\n"
    "With --backend openai the questions go to a chat-completions server, the image\n"
    "(after --resolutions) as a data: URI before the text; logprobs are asked for when\n"
    "the server gives them (probed once). Failed requests are retried only on\n"
    "connection errors, 408, 409, 429 and 5xx, honouring Retry-After. Exit 1 when\n"
    "rows ended in error.",
    opts,
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

int cmd_run(int argc, char **argv)
{
    char *pos[1];
    int npos;
    lv_error err = {{0}};
    run_config c = {0};
    run_summary sum;

    int prc = cli_parse(&spec, argc, argv, pos, 0, &npos);
    if (prc) return prc > 0 ? CLI_OK : CLI_USAGE;
    if (!o_suite) return cli_error("run", "--suite DIR is required (see --help)");
    int remote_backend = 0;
    if (o_backend && strcmp(o_backend, "openai") == 0) remote_backend = 1;
    else if (o_backend && strcmp(o_backend, "native") != 0)
        return cli_error("run", "--backend: '%s' is not native or openai", o_backend);
    if (remote_backend) {
        if (!o_url || !o_model_name) return cli_error("run", "--backend openai needs --url URL and --model-name NAME");
        if (o_model || o_mmproj || o_quants.n) return cli_error("run", "--backend openai takes no -m, --mmproj or --quants");
        if (o_key_env) {
            c.api_key = getenv(o_key_env);   /* never copied anywhere but the request header */
            if (!c.api_key || !c.api_key[0])
                return cli_error("run", "--api-key-env: the environment variable %s is not set", o_key_env);
        }
        c.backend = RUN_BACKEND_OPENAI;
        c.url = o_url;
        c.remote_model = o_model_name;
        c.concurrency = (int)o_conc;
        c.timeout_s = o_timeout;
        c.retries = (int)o_retries;
        c.backoff_ms = o_backoff * 1000.0;
    } else if (o_url || o_model_name || o_key_env) {
        return cli_error("run", "--url, --model-name and --api-key-env need --backend openai");
    }
    if (!remote_backend && !o_model && o_quants.n == 0) return cli_error("run", "-m TEXT.gguf is required (see --help)");
    c.suite_dir = o_suite;
    c.db_path = o_db ? o_db : "results.db";
    c.name = o_name;
    c.model = o_model;
    c.mmproj = o_mmproj;
    for (int i = 0; i < o_quants.n; i++) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", o_quants.items[i]);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (c.n_quants >= RUN_MAX_QUANTS) return cli_error("run", "--quants: at most %d entries", RUN_MAX_QUANTS);
            c.quants[c.n_quants++] = strdup(t);
        }
    }
    if (run_parse_resolutions(o_res ? o_res : "native", c.resolutions, &c.n_res, &err)) return cli_error("run", "%s", err.msg);
    c.mode = RUN_MODE_GENERATE;
    if (o_mode && strcmp(o_mode, "choice") == 0) c.mode = RUN_MODE_CHOICE;
    else if (o_mode && strcmp(o_mode, "generate") != 0) return cli_error("run", "--mode: '%s' is not generate or choice", o_mode);
    c.preprocess = o_pre ? o_pre : "llava";
    if (strcmp(c.preprocess, "llava") && strcmp(c.preprocess, "llama.cpp"))
        return cli_error("run", "--preprocess: '%s' is not llava or llama.cpp", c.preprocess);
    if (o_tpl && strcmp(o_tpl, "llava-1.5") && strcmp(o_tpl, "llava-1.6-mistral"))
        return cli_error("run", "--template: '%s' is not llava-1.5 or llava-1.6-mistral", o_tpl);
    c.template_name = o_tpl;
    c.shard_i = 0;
    c.shard_n = 1;
    if (o_shard) {
        char extra;
        if (sscanf(o_shard, "%d/%d%c", &c.shard_i, &c.shard_n, &extra) != 2 || c.shard_n < 1 || c.shard_n > 100000 ||
            c.shard_i < 0 || c.shard_i >= c.shard_n)
            return cli_error("run", "--shard: '%s' is not I/N with 0 <= I < N", o_shard);
    }
    c.limit = o_limit;
    c.n_predict = (int)o_n;
    c.temp = o_temp;
    c.seed = o_seed;
    c.top_k = (int)o_top;
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    c.threads = o_threads ? (int)o_threads : nc < 1 ? 1 : nc > 8 ? 8 : (int)nc;
    c.progress = !o_quiet;
    c.no_reuse = o_no_reuse;
    c.stop = &stop_flag;
    if (!c.mmproj && !remote_backend) return cli_error("run", "--mmproj FILE is required for image suites (see --help)");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = run_execute(&c, &sum, &err);
    for (int i = 0; i < c.n_quants; i++) free((char *)c.quants[i]);
    if (rc) {
        /* the store's own faults (disk full, read-only) read "llava-eval: store: ..." */
        fprintf(stderr, "llava-eval: %s%s\n", strncmp(err.msg, "store: ", 7) ? "run: " : "", err.msg);
        if (!strncmp(err.msg, "store: read-only", 16)) return CLI_USAGE;
        return strstr(err.msg, "cannot open") || strstr(err.msg, "samples.jsonl") || strstr(err.msg, "suite.json") ||
                       strstr(err.msg, "--") ? CLI_USAGE : CLI_FAILED;
    }
    if (!o_quiet)
        fprintf(stderr, "run %lld in %s: %ld done now, %ld already done, %ld errors, %ld rows in all\n",
                (long long)sum.run_id, c.db_path, sum.done, sum.skipped, sum.errors, sum.total);
    if (sum.interrupted) return CLI_INTERRUPTED;
    return sum.errors ? CLI_FAILED : CLI_OK;
}
