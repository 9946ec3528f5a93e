/* tests/test_sha256.c — SHA-256 against the FIPS 180-2 appendix B vectors. */
#include "tests/test.h"

#include <stdlib.h>

#include "engine/sha256.h"

static void test_fips_vectors(void)
{
    static const struct { const char *msg, *hex; } cases[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    };
    char hex[LV_SHA256_HEX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lv_sha256_hex(cases[i].msg, strlen(cases[i].msg), hex);
        T_EQ_STR(hex, cases[i].hex);
    }
}

/* B.3: one million 'a', fed in uneven pieces so every buffering path runs. */
static void test_million_a_streamed(void)
{
    static char a[1000];
    lv_sha256 s;
    uint8_t d[LV_SHA256_BYTES];
    char hex[LV_SHA256_HEX];
    size_t fed = 0, step = 1;
    memset(a, 'a', sizeof a);
    lv_sha256_init(&s);
    while (fed < 1000000) {
        size_t n = step < 1000000 - fed ? step : 1000000 - fed;
        lv_sha256_update(&s, a, n);
        fed += n;
        step = step % 937 + 63;   /* 1, 64, 127, ... (< 1000) crosses block edges at odd offsets */
    }
    lv_sha256_final(&s, d);
    lv_sha256_to_hex(d, hex);
    T_EQ_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the padding boundary (55, 56, 63, 64 bytes) agree streamed and one-shot. */
static void test_padding_edges(void)
{
    char msg[130], one[LV_SHA256_HEX], two[LV_SHA256_HEX];
    for (int i = 0; i < 130; i++) msg[i] = (char)('a' + i % 26);
    for (size_t len = 50; len <= 130; len++) {
        lv_sha256 s;
        uint8_t d[LV_SHA256_BYTES];
        lv_sha256_hex(msg, len, one);
        lv_sha256_init(&s);
        for (size_t k = 0; k < len; k++) lv_sha256_update(&s, msg + k, 1);
        lv_sha256_final(&s, d);
        lv_sha256_to_hex(d, two);
        T_CHECK(strcmp(one, two) == 0, "len %zu: %s vs %s", len, one, two);
    }
}

static void test_file_and_hex_check(void)
{
    char path[512], hex[LV_SHA256_HEX];
    uint64_t size = 0;
    lv_error err = {{0}};
    snprintf(path, sizeof path, "%s/abc.txt", t_tmpdir());
    T_CHECK(t_write_file(path, "abc", 3) == 0, "write");
    T_EQ_INT(lv_sha256_file(path, hex, &size, &err), 0);
    T_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    T_EQ_INT(size, 3);
    snprintf(path, sizeof path, "%s/missing", t_tmpdir());
    T_EQ_INT(lv_sha256_file(path, hex, NULL, &err), -1);
    T_CHECK(strstr(err.msg, "missing") != NULL, "msg: %s", err.msg);
    T_EQ_INT(lv_sha256_valid_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015AD"), 1);
    T_EQ_INT(lv_sha256_valid_hex("ba7816bf"), 0);
    T_EQ_INT(lv_sha256_valid_hex("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), 0);
}

int main(void)
{
    T_RUN(test_fips_vectors);
    T_RUN(test_million_a_streamed);
    T_RUN(test_padding_edges);
    T_RUN(test_file_and_hex_check);
    T_MAIN_END();
}
