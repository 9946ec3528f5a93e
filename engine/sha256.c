/* engine/sha256.c — SHA-256 as specified in FIPS 180-4 §6.2, written from the spec. */
#include "engine/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* First 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

/* Processes one 64-byte block into the chaining state. */
static void compress(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, hh;
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void lv_sha256_init(lv_sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->n_bytes = 0;
    s->n_buf = 0;
}

void lv_sha256_update(lv_sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->n_bytes += len;
    if (s->n_buf) {
        size_t take = 64 - s->n_buf < len ? 64 - s->n_buf : len;
        memcpy(s->buf + s->n_buf, p, take);
        s->n_buf += take; p += take; len -= take;
        if (s->n_buf < 64) return;
        compress(s->h, s->buf);
        s->n_buf = 0;
    }
    for (; len >= 64; p += 64, len -= 64) compress(s->h, p);
    memcpy(s->buf, p, len);
    s->n_buf = len;
}

void lv_sha256_final(lv_sha256 *s, uint8_t out[LV_SHA256_BYTES])
{
    uint64_t bits = s->n_bytes * 8;
    uint8_t pad[72] = {0x80};
    /* Pad with 0x80, zeros, then the bit length, to a multiple of 64 bytes. */
    size_t npad = (s->n_buf < 56 ? 56 : 120) - s->n_buf;
    for (int i = 0; i < 8; i++) pad[npad + i] = (uint8_t)(bits >> (56 - 8 * i));
    lv_sha256_update(s, pad, npad + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void lv_sha256_to_hex(const uint8_t digest[LV_SHA256_BYTES], char hex[LV_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < LV_SHA256_BYTES; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = 0;
}

void lv_sha256_hex(const void *data, size_t len, char hex[LV_SHA256_HEX])
{
    lv_sha256 s;
    uint8_t d[LV_SHA256_BYTES];
    lv_sha256_init(&s);
    lv_sha256_update(&s, data, len);
    lv_sha256_final(&s, d);
    lv_sha256_to_hex(d, hex);
}

int lv_sha256_file(const char *path, char hex[LV_SHA256_HEX], uint64_t *size, lv_error *err)
{
    uint8_t buf[65536], d[LV_SHA256_BYTES];
    lv_sha256 s;
    size_t r;
    FILE *f = fopen(path, "rb");
    if (!f) return lv_errorf(err, "%s: %s", path, strerror(errno));
    lv_sha256_init(&s);
    while ((r = fread(buf, 1, sizeof buf, f)) > 0) lv_sha256_update(&s, buf, r);
    if (ferror(f)) {
        fclose(f);
        return lv_errorf(err, "%s: read error", path);
    }
    fclose(f);
    if (size) *size = s.n_bytes;
    lv_sha256_final(&s, d);
    lv_sha256_to_hex(d, hex);
    return 0;
}

int lv_sha256_valid_hex(const char *s)
{
    int i;
    if (!s) return 0;
    for (i = 0; i < 64; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
    }
    return s[64] == 0;
}
