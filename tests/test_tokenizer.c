/* tests/test_tokenizer.c — ewq's tokenizer against the Hugging Face `tokenizers` library.
 *
 * Expected ids are in data/expected/tokenizer/, written by tests/gen/make_tokenizer_expected.py: for each of
 * the five real tokenizers in ../shared/assets (llama3, qwen3, llama2-spm, stories260K, smollm2), the ids of the
 * WikiText-2 test file, the TinyStories file, tests/tokenizer_stress.txt, five adversarial texts and
 * "Hello world" with the post-processor's special tokens. The .ids files are records of LEB128 varints:
 * a count n, then n ids (see that script). Decoding is checked by reproducing the wiki and TinyStories
 * bytes from the expected ids, and for the byte-level tokenizers against the library's own decode of the
 * stress ids. NFC is checked on its own against the Unicode Character Database's NormalizationTest.
 */
#include "ewq.h"
#include "tests/test.h"

#include <stdlib.h>
#include <string.h>

#define ASSETS "../shared/assets/"
#define EXPECTED "data/expected/tokenizer/"

static const struct { const char *name, *path; int byte_level; } tokenizers[] = {
    {"llama3", ASSETS "tokenizers/llama3", 1},
    {"qwen3", ASSETS "tokenizers/qwen3", 1},
    {"llama2-spm", ASSETS "tokenizers/llama2-spm", 0},
    {"stories260K", ASSETS "stories260K", 0},
    {"smollm2", ASSETS "smollm2-135m", 1},
};
static const struct { const char *name, *path; } inputs[] = {
    {"wiki", ASSETS "text/wiki.test.raw"},
    {"tinystories", ASSETS "text/tinystories_validation_100.txt"},
    {"stress", "tests/tokenizer_stress.txt"},
};

typedef struct { int n_records; size_t *len; int **ids; } records;

/* One LEB128 varint at p[*i], n bytes in all; -1 when it runs past the end or beyond 32 bits. */
static int read_varint(const uint8_t *p, size_t n, size_t *i, uint32_t *out) {
    uint64_t x = 0;
    for (int shift = 0; *i < n && shift <= 28; shift += 7) {
        uint8_t b = p[(*i)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (x > UINT32_MAX) return -1;
            *out = (uint32_t)x;
            return 0;
        }
    }
    return -1;
}

/* Reads a .ids file; 0 on success. */
static int read_records(const char *path, records *r) {
    char *buf;
    size_t n, i = 0;
    ewq_err err;
    memset(r, 0, sizeof *r);
    if (ewq_read_file(path, 64u << 20, &buf, &n, &err)) return -1;
    const uint8_t *p = (const uint8_t *)buf;
    int rc = 0;
    while (i < n && !rc) {
        uint32_t count, id = 0;
        if (read_varint(p, n, &i, &count) || count > n) { rc = -1; break; }
        int *ids = malloc(sizeof(int) * (count + 1));
        for (uint32_t k = 0; k < count && !rc; k++) {
            rc = read_varint(p, n, &i, &id);
            ids[k] = (int)id;
        }
        r->len = realloc(r->len, sizeof(size_t) * (size_t)(r->n_records + 1));
        r->ids = realloc(r->ids, sizeof(int *) * (size_t)(r->n_records + 1));
        r->len[r->n_records] = count;
        r->ids[r->n_records++] = ids;
    }
    free(buf);
    return rc;
}

static void free_records(records *r) {
    for (int i = 0; i < r->n_records; i++) free(r->ids[i]);
    free(r->ids);
    free(r->len);
}

/* PASS when got equals want; else FAIL naming the first difference. */
static void compare_ids(const char *name, const int *got, size_t n_got, const int *want, size_t n_want) {
    size_t k = 0;
    while (k < n_got && k < n_want && got[k] == want[k]) k++;
    if (k == n_got && k == n_want) { check(1, name, "%s", ""); return; }
    check(0, name, "%zu ids, expected %zu; first difference at %zu: got %d, expected %d", n_got, n_want, k,
          k < n_got ? got[k] : -1, k < n_want ? want[k] : -1);
}

/* The five adversarial texts of tests/gen/make_tokenizer_expected.py. */
static char *adversarial(int which, size_t *len) {
    char *s = malloc(20010 * 2 + 16);
    size_t n = 0;
    switch (which) {
    case 0: for (int i = 0; i < 20000; i++) s[n++] = 'a'; break;
    case 1: for (int i = 0; i < 20000; i++) s[n++] = ' '; s[n++] = 'x'; break;
    case 2: for (int i = 0; i < 20000; i++) s[n++] = (char)('a' + i * 7 % 26); break;
    case 3: for (int i = 0; i < 20000; i++) s[n++] = (char)('0' + (i + 1) % 10); break;
    default:
        s[n++] = 'e';
        for (int i = 0; i < 5000; i++) memcpy(s + n, "\xcc\x81\xcc\xa3", 4), n += 4;   /* U+0301 U+0323 */
    }
    *len = n;
    return s;
}

/* Concatenates ewq_decode over ids. */
static char *decode_all(const ewq_tokenizer *t, const int *ids, size_t n, size_t *len) {
    size_t cap = 64, used = 0;
    char *out = malloc(cap);
    for (size_t i = 0; i < n; i++) {
        size_t k;
        const char *s = ewq_decode(t, i ? ids[i - 1] : -1, ids[i], &k);
        if (used + k > cap) cap = (used + k) * 2, out = realloc(out, cap);
        memcpy(out + used, s, k);
        used += k;
    }
    *len = used;
    return out;
}

static void test_one(int ti) {
    char name[256], path[512];
    ewq_tokenizer t;
    ewq_err err;
    snprintf(name, sizeof name, "tokenizer_%s_load", tokenizers[ti].name);
    if (!check(ewq_tokenizer_load(&t, tokenizers[ti].path, &err) == 0, name, "%s", err.msg)) return;
    snprintf(name, sizeof name, "tokenizer_%s_kind", tokenizers[ti].name);
    int kind = tokenizers[ti].byte_level ? EWQ_TOK_BYTE_LEVEL : EWQ_TOK_SENTENCEPIECE;
    check(t.kind == kind, name, "kind %d, expected %d", t.kind, kind);

    for (size_t ii = 0; ii < sizeof inputs / sizeof inputs[0]; ii++) {
        records want;
        char *text;
        size_t len;
        snprintf(name, sizeof name, "tokenizer_%s_%s", tokenizers[ti].name, inputs[ii].name);
        snprintf(path, sizeof path, EXPECTED "%s.%s.ids", tokenizers[ti].name, inputs[ii].name);
        if (ewq_read_file(inputs[ii].path, 64u << 20, &text, &len, &err)) { test_skip(name, err.msg); continue; }
        if (read_records(path, &want) || want.n_records != 1) {
            check(0, name, "cannot read %s", path);
            free(text);
            continue;
        }
        int *ids;
        size_t n = ewq_encode(&t, text, len, 0, &ids);
        compare_ids(name, ids, n, want.ids[0], want.len[0]);
        free(ids);
        if (strcmp(inputs[ii].name, "stress")) {   /* decoding the library's ids gives the file back */
            size_t dlen;
            char *dec = decode_all(&t, want.ids[0], want.len[0], &dlen);
            snprintf(name, sizeof name, "tokenizer_%s_%s_decode", tokenizers[ti].name, inputs[ii].name);
            size_t k = 0;
            while (k < dlen && k < len && dec[k] == text[k]) k++;
            check(dlen == len && k == len, name, "%zu bytes, expected %zu; first difference at byte %zu", dlen, len,
                  k);
            free(dec);
        } else if (tokenizers[ti].byte_level) {   /* the library's decode of its own ids */
            char *ref;
            size_t rlen, dlen;
            snprintf(path, sizeof path, EXPECTED "%s.stress.decoded", tokenizers[ti].name);
            snprintf(name, sizeof name, "tokenizer_%s_stress_decode", tokenizers[ti].name);
            if (!ewq_read_file(path, 1 << 20, &ref, &rlen, &err)) {
                char *dec = decode_all(&t, want.ids[0], want.len[0], &dlen);
                check(dlen == rlen && !memcmp(dec, ref, rlen), name, "decoded %zu bytes, expected %zu", dlen, rlen);
                free(dec);
                free(ref);
            } else {
                check(0, name, "%s", err.msg);
            }
        }
        free_records(&want);
        free(text);
    }

    records want;
    snprintf(path, sizeof path, EXPECTED "%s.adversarial.ids", tokenizers[ti].name);
    if (read_records(path, &want) || want.n_records != 5) {
        snprintf(name, sizeof name, "tokenizer_%s_adversarial", tokenizers[ti].name);
        check(0, name, "cannot read %s", path);
    } else {
        for (int k = 0; k < 5; k++) {
            size_t len;
            int *ids;
            char *text = adversarial(k, &len);
            size_t n = ewq_encode(&t, text, len, 0, &ids);
            snprintf(name, sizeof name, "tokenizer_%s_adversarial_%d", tokenizers[ti].name, k);
            compare_ids(name, ids, n, want.ids[k], want.len[k]);
            free(ids);
            free(text);
        }
    }
    free_records(&want);

    snprintf(path, sizeof path, EXPECTED "%s.bos.ids", tokenizers[ti].name);
    snprintf(name, sizeof name, "tokenizer_%s_bos", tokenizers[ti].name);
    if (read_records(path, &want) || want.n_records != 1) {
        check(0, name, "cannot read %s", path);
    } else {
        int *ids;
        size_t n = ewq_encode(&t, "Hello world", 11, t.add_bos, &ids);
        compare_ids(name, ids, n, want.ids[0], want.len[0]);
        free(ids);
    }
    free_records(&want);
    ewq_tokenizer_free(&t);
}

/* BOS from a post_processor Sequence[ByteLevel, TemplateProcessing], as newer Llama-3 files have it. */
static void test_template(void) {
    ewq_tokenizer t;
    ewq_err err;
    records want;
    if (!check(ewq_tokenizer_load(&t, "tests/template_tokenizer.json", &err) == 0, "tokenizer_template_load", "%s",
               err.msg))
        return;
    if (check(read_records(EXPECTED "template.bos.ids", &want) == 0 && want.n_records == 1, "tokenizer_template_data",
              "cannot read " EXPECTED "template.bos.ids")) {
        int *ids;
        size_t n = ewq_encode(&t, "Hello world", 11, t.add_bos, &ids);
        compare_ids("tokenizer_template_bos", ids, n, want.ids[0], want.len[0]);
        free(ids);
    }
    free_records(&want);
    ewq_tokenizer_free(&t);
}

/* A small tokenizer of tests/ (tests/NAME_tokenizer.json, expected ids data/expected/tokenizer/NAME-with-
 * dashes.INPUT.ids): the stress and TinyStories files against the ids of the `tokenizers` library, and with
 * `adversarial` also the five adversarial texts. SentencePiece with a Metaspace pre-tokenizer
 * (prepend_scheme "first" and "always"); GPT-2-style byte level after Digits (individual or runs). */
static void test_small(const char *name, int adversarial_too) {
    char test[128], path[256], file[64];
    ewq_tokenizer t;
    ewq_err err;
    records want;
    snprintf(file, sizeof file, "%s", name);
    for (char *c = file; *c; c++) *c = *c == '_' ? '-' : *c;
    snprintf(path, sizeof path, "tests/%s_tokenizer.json", name);
    snprintf(test, sizeof test, "tokenizer_%s_load", name);
    if (!check(ewq_tokenizer_load(&t, path, &err) == 0, test, "%s", err.msg)) return;
    for (size_t ii = 1; ii < sizeof inputs / sizeof inputs[0]; ii++) {   /* tinystories, stress */
        char *text;
        size_t len;
        snprintf(test, sizeof test, "tokenizer_%s_%s", name, inputs[ii].name);
        snprintf(path, sizeof path, EXPECTED "%s.%s.ids", file, inputs[ii].name);
        if (ewq_read_file(inputs[ii].path, 64u << 20, &text, &len, &err)) { test_skip(test, err.msg); continue; }
        if (read_records(path, &want) || want.n_records != 1) {
            check(0, test, "cannot read %s", path);
        } else {
            int *ids;
            size_t n = ewq_encode(&t, text, len, 0, &ids);
            compare_ids(test, ids, n, want.ids[0], want.len[0]);
            free(ids);
        }
        free_records(&want);
        free(text);
    }
    snprintf(path, sizeof path, EXPECTED "%s.adversarial.ids", file);
    snprintf(test, sizeof test, "tokenizer_%s_adversarial", name);
    if (adversarial_too && check(read_records(path, &want) == 0 && want.n_records == 5, test, "cannot read %s", path))
        for (int k = 0; k < 5; k++) {
            size_t len;
            int *ids;
            char *text = adversarial(k, &len);
            size_t n = ewq_encode(&t, text, len, 0, &ids);
            snprintf(test, sizeof test, "tokenizer_%s_adversarial_%d", name, k);
            compare_ids(test, ids, n, want.ids[k], want.len[k]);
            free(ids);
            free(text);
        }
    if (adversarial_too) free_records(&want);
    ewq_tokenizer_free(&t);
}

/* NFC against the UCD's NormalizationTest cases (data/expected/nfc.txt: "input<TAB>NFC" lines), read
 * through a byte-level tokenizer whose only tokens are the 256 bytes: decode(encode(x)) is then exactly
 * the normalized x. */
static void test_nfc(void) {
    ewq_tokenizer t;
    ewq_err err;
    char *text;
    size_t len;
    if (!check(ewq_tokenizer_load(&t, "tests/nfc_tokenizer.json", &err) == 0, "tokenizer_nfc_load", "%s", err.msg))
        return;
    if (!check(ewq_read_file("data/expected/nfc.txt", 1 << 24, &text, &len, &err) == 0, "tokenizer_nfc_data",
               "%s", err.msg)) {
        ewq_tokenizer_free(&t);
        return;
    }
    int cases = 0, bad = 0;
    for (char *line = text, *next; line < text + len; line = next) {
        char *tab = strchr(line, '\t'), *end = strchr(line, '\n');
        if (!tab || !end || tab > end) { bad = -1; break; }
        next = end + 1;
        int *ids;
        size_t n = ewq_encode(&t, line, (size_t)(tab - line), 0, &ids), dlen;
        char *got = decode_all(&t, ids, n, &dlen);
        size_t want = (size_t)(end - tab - 1);
        if (dlen != want || memcmp(got, tab + 1, want)) {
            if (!bad++) printf("first NFC mismatch: input '%.*s'\n", (int)(tab - line), line);
        }
        cases++;
        free(got);
        free(ids);
    }
    check(bad == 0 && cases > 30000, "tokenizer_nfc", "%d of %d NormalizationTest cases differ", bad, cases);
    free(text);
    ewq_tokenizer_free(&t);
}

int main(void) {
    FILE *f = fopen(ASSETS "README.md", "r");
    if (!f) {
        test_skip("tokenizer", "../shared/assets is missing");
    } else {
        fclose(f);
        for (size_t i = 0; i < sizeof tokenizers / sizeof tokenizers[0]; i++) test_one((int)i);
    }
    test_nfc();
    test_template();
    test_small("metaspace_first", 0);
    test_small("metaspace_always", 0);
    test_small("digits_each", 1);
    test_small("digits_runs", 1);
    return 0;
}
