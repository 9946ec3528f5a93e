/* tests/fuzz/fuzz_remote.c — fuzz target: the remote backend's reply parser (an
 * OpenAI-style chat completion body: choices, content as text/null/parts, logprobs
 * with top_logprobs, usage, timings; error bodies of non-2xx replies). The first
 * byte picks the HTTP status; the rest is the body. Built with libFuzzer by
 * `make fuzz`; replayed over tests/fuzz/corpus/remote by `make test`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness/remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[8] = { 200, 200, 200, 200, 400, 429, 500, 503 };
    remote_reply rep;
    if (size < 1) return 0;
    int status = statuses[data[0] & 7];
    /* Copy so that reads past the end hit the sanitizer's redzone. */
    char *body = malloc(size - 1 ? size - 1 : 1);
    if (!body) return 0;
    memcpy(body, data + 1, size - 1);
    int rc = remote_parse_reply(body, size - 1, status, "sk-fuzz-secret", &rep);
    /* What the parser promises: an answer or a reason, never both missing, and the
     * secret never survives into stored text. */
    if (rc == 0 && (!rep.ok || !rep.content)) abort();
    if (rc != 0 && (rep.ok || !rep.error[0])) abort();
    if (rep.content && strstr(rep.content, "sk-fuzz-secret")) abort();
    if (rep.logprobs_json && strstr(rep.logprobs_json, "sk-fuzz-secret")) abort();
    if (strstr(rep.error, "sk-fuzz-secret")) abort();
    remote_reply_free(&rep);
    free(body);
    return 0;
}
