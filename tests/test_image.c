/* tests/test_image.c — engine/image: decoding (fixtures, bit-exact stb RGB, a
 * corpus of broken images built here), --resolution reduction, and both
 * preprocessing modes against the tiny-llava references:
 *   llama.cpp mode vs refs/ (decoded_image and preprocessed[] summaries of every
 *   case and tile, the full c02.image.f32), llava mode vs refs-llava/ (the full
 *   pixels.f32 and the u8 PNGs of every image).
 */
#include "tests/vision_refs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/image.h"
#include "engine/stb_image_impl.h"

/* ---- a tiny PNG writer (stored deflate blocks), for the broken-image corpus ---- */

static uint32_t crc32_of(const uint8_t *p, size_t n, uint32_t c)
{
    size_t i;
    int k;
    c = ~c;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

typedef struct { uint8_t *b; size_t n, cap; } buf;

static void put(buf *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 64;
        o->b = realloc(o->b, o->cap);
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void put32(buf *o, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    put(o, b, 4);
}
static void chunk(buf *o, const char *type, const uint8_t *data, size_t n)
{
    uint32_t c;
    put32(o, (uint32_t)n);
    put(o, type, 4);
    if (n) put(o, data, n);
    c = crc32_of((const uint8_t *)type, 4, 0);
    c = crc32_of(data, n, c);
    put32(o, c);
}

/* PNG of w×h with colour type ct (0 gray, 2 RGB, 4 gray+alpha, 6 RGBA) and bit depth
 * bd; pixel bytes from a pattern. IHDR may lie about the size: decl_w/decl_h. */
static buf make_png(int w, int h, int ct, int bd, uint32_t decl_w, uint32_t decl_h)
{
    static const int chans[7] = { 1, 0, 3, 0, 2, 0, 4 };
    buf o = {0}, raw = {0}, z = {0};
    uint8_t ihdr[13];
    size_t row = (size_t)w * chans[ct] * bd / 8, off;
    uint32_t a = 1, b = 0;
    int y;
    size_t x;
    put(&o, "\x89PNG\r\n\x1a\n", 8);
    ihdr[0] = decl_w >> 24; ihdr[1] = decl_w >> 16; ihdr[2] = decl_w >> 8; ihdr[3] = decl_w;
    ihdr[4] = decl_h >> 24; ihdr[5] = decl_h >> 16; ihdr[6] = decl_h >> 8; ihdr[7] = decl_h;
    ihdr[8] = (uint8_t)bd; ihdr[9] = (uint8_t)ct; ihdr[10] = ihdr[11] = ihdr[12] = 0;
    chunk(&o, "IHDR", ihdr, 13);
    for (y = 0; y < h; y++) {
        uint8_t f = 0;
        put(&raw, &f, 1);
        for (x = 0; x < row; x++) {
            uint8_t v = (uint8_t)(x * 7 + (size_t)y * 13);
            put(&raw, &v, 1);
        }
    }
    put(&z, "\x78\x01", 2);
    for (off = 0; off < raw.n || off == 0;) {
        size_t n = raw.n - off > 65535 ? 65535 : raw.n - off;
        uint8_t hdr[5] = { (uint8_t)(off + n == raw.n), (uint8_t)n, (uint8_t)(n >> 8),
                           (uint8_t)~n, (uint8_t)(~n >> 8) };
        put(&z, hdr, 5);
        put(&z, raw.b + off, n);
        off += n;
        if (n == 0) break;
    }
    for (x = 0; x < raw.n; x++) { a = (a + raw.b[x]) % 65521; b = (b + a) % 65521; }
    put32(&z, (b << 16) | a);
    chunk(&o, "IDAT", z.b, z.n);
    chunk(&o, "IEND", NULL, 0);
    free(raw.b);
    free(z.b);
    return o;
}

/* LSB-first bit writer for a hand-made deflate stream. */
typedef struct { buf *o; uint32_t acc; int n; } bits;
static void bput(bits *b, uint32_t v, int n)     /* n bits of v, LSB first */
{
    for (int i = 0; i < n; i++) {
        b->acc |= ((v >> i) & 1u) << b->n;
        if (++b->n == 8) { uint8_t c = (uint8_t)b->acc; put(b->o, &c, 1); b->acc = 0; b->n = 0; }
    }
}
static void bput_code(bits *b, uint32_t code, int n)   /* Huffman codes go MSB first */
{
    for (int i = n - 1; i >= 0; i--) bput(b, (code >> i) & 1u, 1);
}

/* A 1×1 RGB PNG whose IDAT inflates to `mb` MiB of zeros (fixed-Huffman block of
 * length-258 distance-1 matches: about 160:1). */
static buf make_png_bomb(int mb)
{
    buf o = {0}, z = {0};
    bits b = { &z, 0, 0 };
    uint8_t ihdr[13] = { 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0 };
    long reps = ((long)mb << 20) / 258;
    put(&o, "\x89PNG\r\n\x1a\n", 8);
    chunk(&o, "IHDR", ihdr, 13);
    put(&z, "\x78\x01", 2);
    bput(&b, 1, 1);                 /* BFINAL */
    bput(&b, 1, 2);                 /* fixed Huffman */
    bput_code(&b, 0x30, 8);         /* literal 0 */
    for (long i = 0; i < reps; i++) {
        bput_code(&b, 0xC5, 8);     /* length 258 (symbol 285) */
        bput_code(&b, 0, 5);        /* distance 1 */
    }
    bput_code(&b, 0, 7);            /* end of block */
    bput(&b, 0, 7);                 /* flush */
    put32(&z, 1);                   /* adler (wrong; never reached) */
    chunk(&o, "IDAT", z.b, z.n);
    chunk(&o, "IEND", NULL, 0);
    free(z.b);
    return o;
}

/* A decode that must fail with a message (and leave *img empty). */
static void expect_error(const void *p, size_t n, const char *what, const char *needle)
{
    lv_image img;
    lv_error err = { "" };
    int rc = lv_image_decode(p, n, &img, &err);
    T_CHECK(rc != 0, "%s: decoded, expected an error", what);
    T_CHECK(img.rgb == NULL && img.w == 0, "%s: output not cleared", what);
    T_CHECK(err.msg[0] != 0, "%s: no error message", what);
    if (needle) T_CHECK(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, needle);
    lv_image_free(&img);
}

/* ---- decoding -------------------------------------------------------------- */

static void t_decode_generated_png(void)
{
    static const int cts[4] = { 0, 2, 4, 6 };
    int i, bd;
    for (i = 0; i < 4; i++)
        for (bd = 8; bd <= 16; bd += 8) {
            buf p = make_png(5, 3, cts[i], bd, 5, 3);
            lv_image img;
            lv_error err;
            int rc = lv_image_decode(p.b, p.n, &img, &err);
            T_CHECK(rc == 0, "ct %d bd %d: %s", cts[i], bd, err.msg);
            if (rc == 0) {
                T_EQ_INT(img.w, 5);
                T_EQ_INT(img.h, 3);
                if (cts[i] == 0 && bd == 8) {      /* gray copied into R, G, B */
                    T_EQ_INT(img.rgb[3], 7);
                    T_EQ_INT(img.rgb[4], 7);
                    T_EQ_INT(img.rgb[5], 7);
                }
                if (cts[i] == 6 && bd == 8) {      /* alpha dropped, not composited */
                    T_EQ_INT(img.rgb[3], 28);
                    T_EQ_INT(img.rgb[4], 35);
                    T_EQ_INT(img.rgb[5], 42);
                }
            }
            lv_image_free(&img);
            free(p.b);
        }
}

static void check_decoded(const vr_ref_case *rc, void *ctx)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(rc->rec, "decoded_image");
    lv_image img;
    double sum = 0;
    size_t i, np;
    float first[12];
    (void)ctx;
    if (!d) { T_CHECK(0, "no decoded_image for %s", rc->id); return; }
    if (vr_image(rc->image, &img)) return;
    T_EQ_INT(img.w, (int)vr_num(d, "nx"));
    T_EQ_INT(img.h, (int)vr_num(d, "ny"));
    np = (size_t)img.w * img.h * 3;
    for (i = 0; i < np; i++) sum += img.rgb[i];
    T_NEAR(sum / (double)np, vr_num(d, "mean_u8"), 1e-5);
    for (i = 0; i < 12; i++) first[i] = img.rgb[i];
    vr_exact_list(first, 12, cJSON_GetObjectItemCaseSensitive(d, "first12_u8"), rc->image);
    lv_image_free(&img);
}

static void t_decode_fixtures_match_refs(void)
{
    int n = vr_each_case("refs", check_decoded, NULL);
    if (n < 0) T_SKIP("tiny-llava refs absent");
    T_EQ_INT(n, 13);
}

static void t_decode_jpeg_bit_exact_stb(void)
{
    lv_image jpg, ref;
    if (!t_fixture(VR_DIR "refs/dumps/photo640x480.stb_rgb.png")) T_SKIP("refs absent");
    if (vr_image(VR_DIR "images/photo640x480.jpg", &jpg)) return;
    if (vr_image(VR_DIR "refs/dumps/photo640x480.stb_rgb.png", &ref)) { lv_image_free(&jpg); return; }
    T_EQ_INT(jpg.w, ref.w);
    T_EQ_INT(jpg.h, ref.h);
    if (jpg.w == ref.w && jpg.h == ref.h)
        T_CHECK(memcmp(jpg.rgb, ref.rgb, (size_t)jpg.w * jpg.h * 3) == 0, "stb RGB differs");
    lv_image_free(&jpg);
    lv_image_free(&ref);
}

static void t_broken_png(void)
{
    buf p = make_png(6, 4, 2, 8, 6, 4);
    size_t cut;
    buf big;
    lv_image img;
    lv_error err;
    int rc;
    /* Truncated at every offset: an error or (never here) the right pixels. */
    for (cut = 0; cut < p.n; cut++) {
        rc = lv_image_decode(p.b, cut, &img, &err);
        if (rc == 0) T_CHECK(img.w == 6 && img.h == 4, "cut %zu: wrong size", cut);
        else T_CHECK(err.msg[0] != 0, "cut %zu: no message", cut);
        lv_image_free(&img);
    }
    /* Flipped bytes everywhere: no crash, no sanitizer report. */
    for (cut = 8; cut < p.n; cut++) {
        uint8_t save = p.b[cut];
        p.b[cut] ^= 0x5A;
        if (lv_image_decode(p.b, p.n, &img, &err) == 0) lv_image_free(&img);
        p.b[cut] = save;
    }
    free(p.b);
    /* Huge declared sizes: refused from the header, nothing big allocated. */
    big = make_png(2, 2, 2, 8, 65535, 65535);
    expect_error(big.b, big.n, "65535x65535 PNG", "too large");
    free(big.b);
    big = make_png(1, 2, 2, 8, 1, 65535);
    expect_error(big.b, big.n, "1x65535 PNG", "too large");
    free(big.b);
    big = make_png(2, 2, 2, 8, 16000, 16000);
    expect_error(big.b, big.n, "16000x16000 PNG", "too large");
    free(big.b);
    big = make_png(2, 2, 2, 8, 0, 5);
    expect_error(big.b, big.n, "0x5 PNG", NULL);
    free(big.b);
    /* Declared bigger than the data: corrupt, not an over-read. */
    big = make_png(4, 4, 2, 8, 400, 300);
    expect_error(big.b, big.n, "short IDAT", NULL);
    free(big.b);
}

/* Empty IDAT chunks are legal; stb 2.27 computes NULL + 0 on one that comes first
 * (clang's UBSan, found by fuzz_image), so the wrapper drops them: the image must
 * decode exactly as without them, and a PNG whose only IDATs are empty is refused. */
static void t_png_empty_idat(void)
{
    buf p = make_png(5, 3, 2, 8, 5, 3), q = {0}, r = {0};
    lv_image a, b;
    lv_error err;
    size_t idat = 8 + 25, iend = p.n - 12;
    put(&q, p.b, idat);                      /* signature + IHDR */
    chunk(&q, "IDAT", NULL, 0);
    chunk(&q, "IDAT", NULL, 0);
    put(&q, p.b + idat, iend - idat);        /* the real IDAT */
    chunk(&q, "IDAT", NULL, 0);
    put(&q, p.b + iend, 12);                 /* IEND */
    T_CHECK(lv_image_decode(p.b, p.n, &a, &err) == 0, "%s", err.msg);
    T_CHECK(lv_image_decode(q.b, q.n, &b, &err) == 0, "with empty IDATs: %s", err.msg);
    T_EQ_INT(b.w, 5);
    T_EQ_INT(b.h, 3);
    T_CHECK(a.rgb && b.rgb && !memcmp(a.rgb, b.rgb, 5 * 3 * 3), "pixels differ");
    lv_image_free(&a);
    lv_image_free(&b);
    put(&r, p.b, idat);
    chunk(&r, "IDAT", NULL, 0);
    put(&r, p.b + iend, 12);
    expect_error(r.b, r.n, "only an empty IDAT", "IDAT");
    r.n = idat;                              /* an empty IDAT cut inside its CRC */
    put(&r, "\0\0\0\0IDATD", 9);
    expect_error(r.b, r.n, "a cut empty IDAT", NULL);
    free(p.b);
    free(q.b);
    free(r.b);
}

static void t_decoder_memory_cap(void)
{
    buf p = make_png(64, 64, 2, 8, 64, 64);
    int w, h;
    uint8_t *rgb = NULL;
    lv_error err;
    int rc = lv_stbi_decode(p.b, p.n, 16384, 1u << 30, 4096, &w, &h, &rgb, &err);
    T_CHECK(rc != 0, "decoded within a 4 KiB cap");
    T_CHECK(strstr(err.msg, "memory cap") != NULL, "message: %s", err.msg);
    lv_free(rgb);
    rc = lv_stbi_decode(p.b, p.n, 16384, 1u << 30, 1u << 20, &w, &h, &rgb, &err);
    T_CHECK(rc == 0 && w == 64 && h == 64, "1 MiB cap: %s", err.msg);
    lv_free(rgb);
    free(p.b);
}

static void t_png_deflate_bomb(void)
{
    buf p = make_png_bomb(96);
    expect_error(p.b, p.n, "deflate bomb", "memory cap");
    free(p.b);
}

static void t_wrong_formats_and_empty(void)
{
    static const uint8_t gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,"
                                 "\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00;";
    static const uint8_t bmp[] = "BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00";
    static const uint8_t tga[] = { 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 24, 0, 1, 2, 3 };
    static const uint8_t pnm[] = "P6\n1 1\n255\n\x01\x02\x03";
    const char *dir = t_tmpdir();
    char path[512];
    lv_image img;
    lv_error err;
    expect_error(gif, sizeof gif - 1, "GIF", "GIF");
    expect_error(bmp, sizeof bmp - 1, "BMP", "BMP");
    expect_error(tga, sizeof tga, "TGA", "not a JPEG or PNG");
    expect_error(pnm, sizeof pnm - 1, "PNM", "PNM");
    expect_error("", 0, "zero bytes", "empty");
    expect_error("\xFF\xD8\xFF", 3, "JPEG magic only", NULL);
    expect_error("\x89PNG\r\n\x1a\n", 8, "PNG magic only", NULL);
    if (!dir) T_SKIP("no tmpdir");
    /* Through the file path, named .jpg. */
    snprintf(path, sizeof path, "%s/gif.jpg", dir);
    t_write_file(path, gif, sizeof gif - 1);
    T_CHECK(lv_image_load(path, &img, &err) != 0 && strstr(err.msg, "GIF") && strstr(err.msg, "gif.jpg"),
            "gif.jpg: %s", err.msg);
    snprintf(path, sizeof path, "%s/empty.jpg", dir);
    t_write_file(path, "", 0);
    T_CHECK(lv_image_load(path, &img, &err) != 0 && strstr(err.msg, "empty"), "empty.jpg: %s", err.msg);
    snprintf(path, sizeof path, "%s/missing.jpg", dir);
    T_CHECK(lv_image_load(path, &img, &err) != 0 && err.msg[0], "missing file");
    T_CHECK(lv_image_load(dir, &img, &err) != 0 && strstr(err.msg, "regular"), "dir: %s", err.msg);
}

/* Finds the JPEG SOF0/SOF2 marker and returns the offset of its height field. */
static long sof_offset(const uint8_t *b, size_t n)
{
    size_t i;
    for (i = 2; i + 9 < n; i++)
        if (b[i] == 0xFF && (b[i + 1] == 0xC0 || b[i + 1] == 0xC2)) return (long)i + 5;
    return -1;
}

static void t_broken_jpeg(void)
{
    const char *path = t_fixture(VR_DIR "images/photo640x480.jpg");
    size_t n, cut;
    uint8_t *b;
    long sof;
    lv_image img;
    lv_error err;
    int ok = 0, bad = 0;
    if (!path) T_SKIP("fixture JPEG absent");
    b = (uint8_t *)t_read_file(path, &n);
    if (!b) T_SKIP("cannot read");
    /* Every offset in the headers, then a stride through the entropy data. */
    for (cut = 0; cut < n; cut += cut < 1024 ? 1 : 97) {
        if (lv_image_decode(b, cut, &img, &err) == 0) {
            T_CHECK(img.w == 640 && img.h == 480, "cut %zu: wrong size", cut);
            ok++;
        } else {
            T_CHECK(err.msg[0] != 0, "cut %zu: no message", cut);
            bad++;
        }
        lv_image_free(&img);
    }
    T_CHECK(bad > 100, "only %d truncations failed", bad);
    (void)ok;
    sof = sof_offset(b, n);
    T_CHECK(sof > 0, "no SOF marker");
    if (sof > 0) {
        uint8_t save[4];
        memcpy(save, b + sof, 4);
        memcpy(b + sof, "\xff\xff\xff\xff", 4);          /* 65535 x 65535 */
        expect_error(b, n, "65535x65535 JPEG", "too large");
        memcpy(b + sof, "\xff\xff\x00\x01", 4);          /* 1 wide, 65535 high */
        expect_error(b, n, "1x65535 JPEG", "too large");
        memcpy(b + sof, "\x00\x00\x02\x80", 4);          /* height 0 */
        expect_error(b, n, "0-height JPEG", NULL);
        memcpy(b + sof, save, 4);
    }
    /* A Huffman table with more than 256 symbols (stb v2.27 overflows on it). */
    for (cut = 2; cut + 21 < n; cut++)
        if (b[cut] == 0xFF && b[cut + 1] == 0xC4) {
            uint8_t save[16];
            memcpy(save, b + cut + 5, 16);
            memset(b + cut + 5, 0x20, 16);
            expect_error(b, n, "DHT with 512 symbols", "Huffman");
            /* the same behind 0xFF fill bytes, which stb skips before SOI (found by fuzz_image
             * calling the stb wrapper directly): the decoder refuses the format, and the
             * wrapper's own header reader must refuse the table before stb sees it */
            uint8_t *f = malloc(n + 8);
            int iw, ih, ic;
            memset(f, 0xFF, 8);
            memcpy(f + 8, b, n);
            expect_error(f, n + 8, "fill bytes then a DHT with 512 symbols", NULL);
            T_CHECK(lv_stbi_info(f, n + 8, &iw, &ih, &ic, &err) != 0 && strstr(err.msg, "Huffman"),
                    "stb header reader on fill bytes + bad DHT: %s", err.msg);
            free(f);
            memcpy(b + cut + 5, save, 16);
            break;
        }
    /* Seeded random multi-byte mutations. */
    {
        uint32_t seed = 12345;
        int it, k;
        for (it = 0; it < 60; it++) {
            uint8_t *m = malloc(n);
            memcpy(m, b, n);
            for (k = 0; k < 8; k++) {
                seed = seed * 1664525u + 1013904223u;
                m[2 + (seed >> 8) % (n - 2)] = (uint8_t)(seed >> 24);
            }
            if (lv_image_decode(m, n, &img, &err) == 0) lv_image_free(&img);
            free(m);
        }
    }
    /* Corrupted bytes in the headers and data: no crash. */
    for (cut = 2; cut < n; cut += cut < 700 ? 3 : 211) {
        uint8_t s = b[cut];
        b[cut] ^= 0xA5;
        if (lv_image_decode(b, n, &img, &err) == 0) lv_image_free(&img);
        b[cut] = s;
    }
    free(b);
}

static void t_alloc_failure(void)
{
    buf p = make_png(40, 30, 2, 8, 40, 30);
    lv_image img;
    lv_error err;
    lv_set_alloc_limit(1000);
    T_CHECK(lv_image_decode(p.b, p.n, &img, &err) != 0, "decode under a 1000-byte limit");
    lv_set_alloc_limit(0);
    T_CHECK(lv_image_decode(p.b, p.n, &img, &err) == 0, "%s", err.msg);
    lv_image_free(&img);
    free(p.b);
}

/* ---- --resolution ---------------------------------------------------------- */

static void t_reduce_sizes(void)
{
    static const int cases[][5] = {   /* w, h, r → w', h' */
        { 640, 480, 224, 224, 168 }, { 480, 640, 224, 168, 224 }, { 640, 480, 640, 640, 480 },
        { 640, 480, 1000, 640, 480 }, { 100, 60, 56, 56, 34 }, { 1000, 250, 112, 112, 28 },
        { 1000, 3, 100, 100, 1 }, { 336, 336, 0, 336, 336 }, { 5, 5, 1, 1, 1 },
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int w, h;
        lv_image_reduced_size(cases[i][0], cases[i][1], cases[i][2], &w, &h);
        T_CHECK(w == cases[i][3] && h == cases[i][4], "%dx%d r=%d -> %dx%d", cases[i][0],
                cases[i][1], cases[i][2], w, h);
    }
}

static void t_reduce_pixels(void)
{
    lv_image src = {0}, out;
    lv_error err;
    int x, y, c;
    /* 4x2 → r=2 → 2x1: each output is the mean of a 2x2 block. */
    src.w = 4; src.h = 2;
    src.rgb = lv_malloc(4 * 2 * 3);
    for (y = 0; y < 2; y++)
        for (x = 0; x < 4; x++)
            for (c = 0; c < 3; c++) src.rgb[(y * 4 + x) * 3 + c] = (uint8_t)(10 * x + 100 * y + c);
    T_CHECK(lv_image_reduce(&src, 2, &out, &err) == 0, "%s", err.msg);
    T_EQ_INT(out.w, 2);
    T_EQ_INT(out.h, 1);
    T_EQ_INT(out.rgb[0], 55);   /* (0+10+100+110)/4 = 55 */
    T_EQ_INT(out.rgb[3], 75);   /* (20+30+120+130)/4 = 75 */
    T_EQ_INT(out.rgb[5], 77);
    lv_image_free(&out);
    /* Never enlarges: r larger than the image is a copy. */
    T_CHECK(lv_image_reduce(&src, 100, &out, &err) == 0, "%s", err.msg);
    T_CHECK(out.w == 4 && out.h == 2 && memcmp(out.rgb, src.rgb, 24) == 0, "not a copy");
    lv_image_free(&out);
    lv_image_free(&src);
}

static void t_reduce_fixture(void)
{
    lv_image img, out;
    lv_error err;
    double s0 = 0, s1 = 0;
    size_t i;
    if (vr_image(VR_DIR "images/photo640x480.jpg", &img)) T_SKIP("fixture absent");
    T_CHECK(lv_image_reduce(&img, 224, &out, &err) == 0, "%s", err.msg);
    T_CHECK(out.w == 224 && out.h == 168, "%dx%d", out.w, out.h);
    /* An area filter keeps the mean brightness. */
    for (i = 0; i < (size_t)img.w * img.h * 3; i++) s0 += img.rgb[i];
    for (i = 0; i < (size_t)out.w * out.h * 3; i++) s1 += out.rgb[i];
    T_NEAR(s1 / ((double)out.w * out.h * 3), s0 / ((double)img.w * img.h * 3), 0.3);
    lv_image_free(&out);
    T_CHECK(lv_image_reduce(&img, 5000, &out, &err) == 0 && out.w == 640 && out.h == 480,
            "enlarged");
    lv_image_free(&out);
    lv_image_free(&img);
}

/* ---- preprocessing: llama.cpp mode ----------------------------------------- */

/* Every tile of every case: first32 and min/max exact, mean/std to rounding. */
static void check_llamacpp_tiles(const vr_ref_case *rc, void *ctx)
{
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(rc->rec, "preprocessed"), *e;
    lv_image_params p = vr_params(rc->mmproj);
    const size_t n = (size_t)336 * 336 * 3;
    lv_image img;
    lv_image_batch b;
    lv_error err;
    int k = 0;
    if (vr_image(rc->image, &img)) return;
    if (lv_image_preprocess(&img, &p, LV_IMAGE_LLAMACPP, &b, &err)) {
        T_CHECK(0, "%s: %s", rc->id, err.msg);
        lv_image_free(&img);
        return;
    }
    T_EQ_INT(b.n_img, cJSON_GetArraySize(pp));
    cJSON_ArrayForEach(e, pp) {
        const float *t;
        vr_stats s;
        char what[64];
        if (k >= b.n_img) break;
        t = b.pix + (size_t)k * n;
        s = vr_stats_of(t, n);
        snprintf(what, sizeof what, "%s tile %d", rc->id, k);
        vr_exact_list(t, n, cJSON_GetObjectItemCaseSensitive(e, "first32"), what);
        T_CHECK((float)vr_num(e, "min") == (float)s.min && (float)vr_num(e, "max") == (float)s.max,
                "%s: min/max %g %g", what, s.min, s.max);
        T_NEAR(s.mean, vr_num(e, "mean"), 2e-7 + 1e-7 * fabs(s.mean));
        T_NEAR(s.std, vr_num(e, "std"), 2e-7 + 1e-7 * s.std);
        k++;
        (*(int *)ctx)++;
    }
    lv_image_batch_free(&b);
    lv_image_free(&img);
}

static void t_llamacpp_preprocess_summaries(void)
{
    int n_tiles = 0, n = vr_each_case("refs", check_llamacpp_tiles, &n_tiles);
    if (n < 0) T_SKIP("tiny-llava refs absent");
    T_EQ_INT(n, 13);
    T_EQ_INT(n_tiles, 10 + 4 + 5 + 3);
}

static void t_llamacpp_c02_tensor(void)
{
    size_t n;
    float *ref = vr_f32(VR_DIR "refs/dumps/c02.image.f32", &n);
    lv_image_params p = vr_params("mmproj.gguf");
    lv_image img;
    lv_image_batch b;
    lv_error err;
    if (!ref) T_SKIP("refs absent");
    if (vr_image(VR_DIR "images/photo640x480.jpg", &img)) { free(ref); return; }
    T_CHECK(lv_image_preprocess(&img, &p, LV_IMAGE_LLAMACPP, &b, &err) == 0, "%s", err.msg);
    T_EQ_INT(n, (size_t)336 * 336 * 3);
    if (b.pix && n == (size_t)336 * 336 * 3)
        T_CHECK(memcmp(b.pix, ref, n * sizeof(float)) == 0, "c02 tensor not bit-exact");
    lv_image_batch_free(&b);
    lv_image_free(&img);
    free(ref);
}

static void t_pinpoints(void)
{
    lv_image_params p = vr_params("mmproj-anyres.gguf");
    static const int cases[][4] = {   /* w, h, llama.cpp index, llava index */
        { 336, 336, 0, 0 }, { 672, 672, 2, 2 }, { 640, 480, 2, 2 }, { 1000, 250, 3, 3 },
        { 300, 200, 0, 0 }, { 240, 400, 0, 0 }, { 2000, 100, 3, 3 }, { 100, 2000, 4, 4 },
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        T_EQ_INT(lv_image_best_pinpoint(&p, cases[i][0], cases[i][1], LV_IMAGE_LLAMACPP), cases[i][2]);
        T_EQ_INT(lv_image_best_pinpoint(&p, cases[i][0], cases[i][1], LV_IMAGE_LLAVA), cases[i][3]);
    }
}

/* ---- preprocessing: llava mode --------------------------------------------- */

/* One (image, mmproj) of refs-llava: the PIL-decoded RGB for the JPEG (so the
 * decoder is not under test), pixels.f32 and each u8.<k>.png bit-exact, and the
 * anyres decisions. */
static void check_llava_tiles(const vr_ref_case *rc, void *ctx)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(rc->rec, "files"), *u;
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(rc->rec, "llava");
    lv_image_params p = vr_params(rc->mmproj);
    char rel[256];
    lv_image img;
    lv_image_batch b;
    lv_error err;
    float *ref;
    size_t n;
    int k = 0;
    (void)ctx;
    if (vr_str(files, "decoded_rgb"))
        snprintf(rel, sizeof rel, VR_DIR "refs-llava/%s", vr_str(files, "decoded_rgb"));
    else
        snprintf(rel, sizeof rel, "%s", rc->image);
    if (vr_image(rel, &img)) return;
    if (lv_image_preprocess(&img, &p, LV_IMAGE_LLAVA, &b, &err)) {
        T_CHECK(0, "%s: %s", rc->id, err.msg);
        lv_image_free(&img);
        return;
    }
    snprintf(rel, sizeof rel, VR_DIR "refs-llava/%s", vr_str(files, "pixels"));
    ref = vr_f32(rel, &n);
    T_EQ_INT(n, (size_t)b.n_img * 336 * 336 * 3);
    if (ref && n == (size_t)b.n_img * 336 * 336 * 3)
        T_CHECK(memcmp(ref, b.pix, n * 4) == 0, "%s: pixels not bit-exact", rc->id);
    free(ref);
    cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(files, "pixels_u8")) {
        lv_image want;
        snprintf(rel, sizeof rel, VR_DIR "refs-llava/%s", u->valuestring);
        if (k < b.n_img && vr_image(rel, &want) == 0) {
            T_CHECK(want.w == 336 && want.h == 336 &&
                    memcmp(want.rgb, b.u8 + (size_t)k * 336 * 336 * 3, 336 * 336 * 3) == 0,
                    "%s: u8 image %d differs", rc->id, k);
            lv_image_free(&want);
        }
        k++;
    }
    T_EQ_INT(k, b.n_img);
    if (b.anyres) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(lv, "grid");
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(lv, "resized");
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(lv, "paste");
        T_EQ_INT(b.grid_w, cJSON_GetArrayItem(g, 0)->valueint);
        T_EQ_INT(b.grid_h, cJSON_GetArrayItem(g, 1)->valueint);
        T_EQ_INT(b.resized_w, cJSON_GetArrayItem(rs, 0)->valueint);
        T_EQ_INT(b.resized_h, cJSON_GetArrayItem(rs, 1)->valueint);
        T_EQ_INT(b.paste_x, cJSON_GetArrayItem(ps, 0)->valueint);
        T_EQ_INT(b.paste_y, cJSON_GetArrayItem(ps, 1)->valueint);
    }
    lv_image_batch_free(&b);
    lv_image_free(&img);
}

static void t_llava_preprocess_exact(void)
{
    int n = vr_each_case("refs-llava", check_llava_tiles, NULL);
    if (n < 0) T_SKIP("refs-llava absent");
    T_EQ_INT(n, 13);
}

/* The PIL resampler on its own, against sizes whose coefficients are easy to
 * check by hand: an identity, a 2:1 reduction of a constant, a 1-pixel source. */
/* spatial_unpad without pinpoints: no padding. llava: CLIPImageProcessor's
 * shortest-edge resize + centre crop; llama.cpp: its bilinear with rows of nx3
 * pixels, the rest of the tensor left 0.0. */
static void t_unpadded_flat(void)
{
    lv_image_params p = vr_params("mmproj.gguf");
    lv_image img = {0};
    lv_image_batch b;
    lv_error err;
    int x, y, c, bad = 0;
    p.spatial_unpad = 1;
    img.w = 672; img.h = 336;
    img.rgb = lv_malloc((size_t)672 * 336 * 3);
    for (y = 0; y < 336; y++)
        for (x = 0; x < 672; x++)
            for (c = 0; c < 3; c++) img.rgb[((size_t)y * 672 + x) * 3 + c] = (uint8_t)(x / 3 + c);
    T_CHECK(lv_image_preprocess(&img, &p, LV_IMAGE_LLAVA, &b, &err) == 0, "%s", err.msg);
    for (y = 0; y < 336 && b.u8; y++)
        for (x = 0; x < 336; x++)
            bad += b.u8[((size_t)y * 336 + x) * 3] != img.rgb[((size_t)y * 672 + x + 168) * 3];
    T_EQ_INT(bad, 0);
    lv_image_batch_free(&b);
    T_CHECK(lv_image_preprocess(&img, &p, LV_IMAGE_LLAMACPP, &b, &err) == 0, "%s", err.msg);
    if (b.pix) {
        T_CHECK(b.pix[(size_t)336 * 168 * 3 - 1] != 0.0f, "last written pixel");
        for (size_t i = (size_t)336 * 168 * 3; i < (size_t)336 * 336 * 3; i++) bad += b.pix[i] != 0.0f;
        T_EQ_INT(bad, 0);
    }
    lv_image_batch_free(&b);
    lv_image_free(&img);
}

/* clip.cpp bilinear at scale 2 (§3.6): the mean of each 2×2 block, rounded half
 * away from zero. */
static void t_bilinear_half(void)
{
    lv_image src = {0}, out;
    lv_error err;
    int bad = 0;
    src.w = src.h = 8;
    src.rgb = lv_malloc(8 * 8 * 3);
    for (int i = 0; i < 8 * 8 * 3; i++) src.rgb[i] = (uint8_t)((i * 37) % 251);
    T_CHECK(lv_image_resize_bilinear_llamacpp(&src, 4, &out, &err) == 0, "%s", err.msg);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            for (int c = 0; c < 3; c++) {
                int s = 0;
                for (int k = 0; k < 4; k++)
                    s += src.rgb[((2 * y + k / 2) * 8 + 2 * x + k % 2) * 3 + c];
                bad += out.rgb[(y * 4 + x) * 3 + c] != (s + 2) / 4;
            }
    T_EQ_INT(bad, 0);
    lv_image_free(&out);
    lv_image_free(&src);
}

static void t_mode_names(void)
{
    T_EQ_INT(lv_image_mode_from_name("llava"), LV_IMAGE_LLAVA);
    T_EQ_INT(lv_image_mode_from_name("llama.cpp"), LV_IMAGE_LLAMACPP);
    T_EQ_INT(lv_image_mode_from_name("llamacpp"), -1);
    T_EQ_STR(lv_image_mode_name(LV_IMAGE_LLAMACPP), "llama.cpp");
    T_EQ_STR(lv_image_mode_name(LV_IMAGE_LLAVA), "llava");
}

static void t_pil_bicubic_basics(void)
{
    lv_image src = {0}, out;
    lv_error err;
    size_t i;
    src.w = 8; src.h = 6;
    src.rgb = lv_malloc(8 * 6 * 3);
    memset(src.rgb, 77, 8 * 6 * 3);
    T_CHECK(lv_image_resize_bicubic_pil(&src, 3, 5, &out, &err) == 0, "%s", err.msg);
    for (i = 0; i < 3 * 5 * 3; i++) T_EQ_INT(out.rgb[i], 77);
    lv_image_free(&out);
    T_CHECK(lv_image_resize_bicubic_pil(&src, 20, 13, &out, &err) == 0, "%s", err.msg);
    for (i = 0; i < 20 * 13 * 3; i++) T_EQ_INT(out.rgb[i], 77);
    lv_image_free(&out);
    T_CHECK(lv_image_resize_bicubic_llamacpp(&src, 16, 12, &out, &err) == 0, "%s", err.msg);
    for (i = 0; i < 16 * 12 * 3; i++) T_EQ_INT(out.rgb[i], 77);
    lv_image_free(&out);
    lv_image_free(&src);
}

int main(void)
{
    T_RUN(t_decode_generated_png);
    T_RUN(t_decode_fixtures_match_refs);
    T_RUN(t_decode_jpeg_bit_exact_stb);
    T_RUN(t_broken_png);
    T_RUN(t_png_empty_idat);
    T_RUN(t_decoder_memory_cap);
    T_RUN(t_png_deflate_bomb);
    T_RUN(t_wrong_formats_and_empty);
    T_RUN(t_broken_jpeg);
    T_RUN(t_alloc_failure);
    T_RUN(t_reduce_sizes);
    T_RUN(t_reduce_pixels);
    T_RUN(t_reduce_fixture);
    T_RUN(t_llamacpp_preprocess_summaries);
    T_RUN(t_llamacpp_c02_tensor);
    T_RUN(t_pinpoints);
    T_RUN(t_llava_preprocess_exact);
    T_RUN(t_pil_bicubic_basics);
    T_RUN(t_mode_names);
    T_RUN(t_bilinear_half);
    T_RUN(t_unpadded_flat);
    T_MAIN_END();
}
