/* Tests for json.h. Prints one line per check: "PASS name", "FAIL name: detail"
 * or "SKIP name: reason"; exits 0 whether checks pass or fail (the runner
 * counts the lines). Run from the repository root: the tokenizer checks read
 * ../shared/assets/tokenizers/{qwen3,llama3}/tokenizer.json. */
#include "json.h"   /* the implementation comes from ewq.c, linked in as build/lib.o */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pass(const char *name) { printf("PASS %s\n", name); }

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void fail(const char *name, const char *fmt, ...)
{
    va_list ap;
    printf("FAIL %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void skip(const char *name, const char *reason) { printf("SKIP %s: %s\n", name, reason); }

/* Parses the NUL-terminated text (the NUL is not part of the input). */
static int parse(const char *text, json_doc *doc, char *err, size_t errsz)
{
    return json_parse(text, strlen(text), doc, err, errsz);
}

static void hex(const char *s, size_t n, char *out)   /* out: 3*n+1 bytes */
{
    out[0] = '\0';
    for (size_t k = 0; k < n; k++)
        sprintf(out + 3 * k, "%02X ", (unsigned char)s[k]);
}

/* A string document decodes to exactly the expected bytes. */
static void check_string(const char *name, const char *text, const char *want, size_t want_len)
{
    json_doc doc;
    char err[128], got[256], exp[256];
    if (parse(text, &doc, err, sizeof err) != 0) {
        fail(name, "parse failed: %s", err);
        return;
    }
    const json_value *v = doc.root;
    if (v->type != JSON_STRING) {
        fail(name, "type %d, want STRING", (int)v->type);
    } else if (v->len != want_len || memcmp(v->str, want, want_len) != 0 || v->str[v->len] != '\0') {
        hex(v->str, v->len < 64 ? v->len : 64, got);
        hex(want, want_len, exp);
        fail(name, "got [%s] (len %u), want [%s] (len %zu)", got, (unsigned)v->len, exp, want_len);
    } else {
        pass(name);
    }
    json_free(&doc);
}

/* Parsing fails, and the message starts with "byte <offset>: " and contains `needle`. */
static void check_error_n(const char *name, const char *text, size_t len, size_t offset, const char *needle)
{
    json_doc doc;
    char err[256], prefix[32];
    if (json_parse(text, len, &doc, err, sizeof err) == 0) {
        fail(name, "parsed, want an error");
        json_free(&doc);
        return;
    }
    snprintf(prefix, sizeof prefix, "byte %zu: ", offset);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || (needle && !strstr(err, needle)))
        fail(name, "message \"%s\", want \"%s...%s...\"", err, prefix, needle ? needle : "");
    else if (doc.root || doc.arena)
        fail(name, "doc not cleared on failure");
    else
        pass(name);
}

static void check_error(const char *name, const char *text, size_t offset, const char *needle)
{
    check_error_n(name, text, strlen(text), offset, needle);
}

static void test_strings(void)
{
    check_string("str_plain", "\"hello\"", "hello", 5);
    check_string("str_empty", "\"\"", "", 0);
    check_string("esc_quote", "\"\\\"\"", "\"", 1);
    check_string("esc_backslash", "\"\\\\\"", "\\", 1);
    check_string("esc_slash", "\"\\/\"", "/", 1);
    check_string("esc_b", "\"\\b\"", "\b", 1);
    check_string("esc_f", "\"\\f\"", "\f", 1);
    check_string("esc_n", "\"\\n\"", "\n", 1);
    check_string("esc_r", "\"\\r\"", "\r", 1);
    check_string("esc_t", "\"\\t\"", "\t", 1);
    check_string("esc_mixed", "\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", "a\"b\\c/d\be\ff\ng\rh\ti", 17);
    check_string("esc_u_ascii", "\"\\u0041\"", "A", 1);
    check_string("esc_u_e9", "\"\\u00e9\"", "\xC3\xA9", 2);
    check_string("esc_u_euro", "\"\\u20AC\"", "\xE2\x82\xAC", 3);
    check_string("esc_u_7ff", "\"\\u07ff\"", "\xDF\xBF", 2);
    check_string("esc_u_ffff", "\"\\uFFFF\"", "\xEF\xBF\xBF", 3);
    check_string("esc_surrogate_pair", "\"\\ud83d\\ude00\"", "\xF0\x9F\x98\x80", 4);
    check_string("esc_surrogate_pair_upper", "\"x\\uD83D\\uDE00y\"", "x\xF0\x9F\x98\x80y", 6);
    check_string("esc_surrogate_max", "\"\\udbff\\udfff\"", "\xF4\x8F\xBF\xBF", 4);
    check_string("esc_u0000_embedded", "\"a\\u0000b\"", "a\0b", 3);
    check_string("raw_utf8_passthrough", "\"\xC3\xA9\xF0\x9F\x98\x80\"", "\xC3\xA9\xF0\x9F\x98\x80", 6);
    check_string("invalid_utf8_accepted", "\"\xFF\xFE\"", "\xFF\xFE", 2);

    check_error("lone_high_surrogate", "\"\\ud800\"", 1, "surrogate");
    check_error("lone_high_surrogate_then_text", "\"\\ud800abcdef\"", 1, "surrogate");
    check_error("high_surrogate_then_non_low", "\"\\ud800\\u0041\"", 1, "surrogate");
    check_error("lone_low_surrogate", "\"ab\\udc00\"", 3, "surrogate");
    check_error("control_char_in_string", "\"a\x01z\"", 2, "control character");
    check_error("newline_in_string", "\"a\nb\"", 2, "control character");
    check_error("invalid_escape", "\"ab\\x\"", 4, "invalid escape");
    check_error("bad_hex_digit", "\"\\u12G4\"", 5, "hex digit");
    check_error("short_u_escape", "\"\\u12\"", 1, "truncated");
    check_error("unterminated_string", "\"abc", 4, "unterminated");
    check_error("unterminated_after_backslash", "\"abc\\", 5, "unterminated");
    check_error("escaped_quote_not_closing", "\"abc\\\"", 6, "unterminated");
}

static void test_numbers(void)
{
    static const struct {
        const char *name, *text;
        int is_int;
        int64_t i;
        double f;
    } cases[] = {
        {"num_zero", "0", 1, 0, 0.0},
        {"num_small", "42", 1, 42, 42.0},
        {"num_negative", "-17", 1, -17, -17.0},
        {"num_int64_max", "9223372036854775807", 1, INT64_MAX, 9223372036854775807.0},
        {"num_int64_min", "-9223372036854775808", 1, INT64_MIN, -9223372036854775808.0},
        {"num_int64_max_plus_1", "9223372036854775808", 0, 0, 9223372036854775808.0},
        {"num_int64_min_minus_1", "-9223372036854775809", 0, 0, -9223372036854775809.0},
        {"num_huge_int", "123456789012345678901234567890", 0, 0, 123456789012345678901234567890.0},
        {"num_int_rounded_double", "12345678901234567", 1, 12345678901234567, 12345678901234568.0},
        {"num_1.5e3", "1.5e3", 0, 0, 1500.0},
        {"num_exp_upper_plus", "1E+2", 0, 0, 100.0},
        {"num_exp_negative", "2.5e-3", 0, 0, 2.5e-3},
        {"num_fraction", "-1.25", 0, 0, -1.25},
        {"num_0.1", "0.1", 0, 0, 0.1},
        {"num_1.0_not_int", "1.0", 0, 0, 1.0},
        {"num_min_subnormal", "4.9406564584124654e-324", 0, 0, 4.9406564584124654e-324},
        /* 97 characters ("0." + 90 zeros + "12345"): longer than the parser's stack buffer. */
        {"num_long_literal",
         "0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000012345",
         0, 0, 1.2345e-91},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        json_doc doc;
        char err[128];
        if (parse(cases[k].text, &doc, err, sizeof err) != 0) {
            fail(cases[k].name, "parse failed: %s", err);
            continue;
        }
        const json_value *v = doc.root;
        if (v->type != JSON_NUMBER)
            fail(cases[k].name, "type %d, want NUMBER", (int)v->type);
        else if (v->is_int != cases[k].is_int)
            fail(cases[k].name, "is_int %d, want %d", v->is_int, cases[k].is_int);
        else if (v->is_int && v->i != cases[k].i)
            fail(cases[k].name, "i %lld, want %lld", (long long)v->i, (long long)cases[k].i);
        else if (v->f != cases[k].f)
            fail(cases[k].name, "f %.17g, want %.17g", v->f, cases[k].f);
        else
            pass(cases[k].name);
        json_free(&doc);
    }

    json_doc doc;
    char err[128];
    if (parse("-0", &doc, err, sizeof err) != 0)
        fail("num_negative_zero", "parse failed: %s", err);
    else if (!doc.root->is_int || doc.root->i != 0 || doc.root->f != 0.0 || !signbit(doc.root->f))
        fail("num_negative_zero", "is_int %d i %lld f %g, want 1 0 -0", doc.root->is_int,
             (long long)doc.root->i, doc.root->f);
    else
        pass("num_negative_zero");
    json_free(&doc);

    if (parse("1e400", &doc, err, sizeof err) != 0)
        fail("num_overflow_is_inf", "parse failed: %s", err);
    else if (!isinf(doc.root->f) || doc.root->f < 0 || doc.root->is_int)
        fail("num_overflow_is_inf", "f %g is_int %d, want inf 0", doc.root->f, doc.root->is_int);
    else
        pass("num_overflow_is_inf");
    json_free(&doc);

    check_error("num_leading_zero", "01", 1, "leading zeros");
    check_error("num_neg_leading_zero", "-012", 2, "leading zeros");
    check_error("num_plus", "+1", 0, "expected a value");
    check_error("num_bare_minus", "-", 1, "expected digit");
    check_error("num_minus_space", "- 1", 1, "expected digit");
    check_error("num_bare_dot", ".5", 0, "expected a value");
    check_error("num_trailing_dot", "1.", 2, "decimal point");
    check_error("num_dot_exp", "1.e3", 2, "decimal point");
    check_error("num_empty_exp", "1e", 2, "exponent");
    check_error("num_empty_exp_sign", "1e+", 3, "exponent");
    check_error("num_nan", "NaN", 0, "expected a value");
    check_error("num_infinity", "Infinity", 0, "expected a value");
    check_error("num_neg_infinity", "-Infinity", 1, "expected digit");
    check_error("num_hex", "0x10", 1, "after the root value");
}

static void test_literals_and_structure(void)
{
    json_doc doc;
    char err[128];
    static const struct { const char *text; json_type type; } lits[] = {
        {"true", JSON_TRUE}, {"false", JSON_FALSE}, {"null", JSON_NULL}};
    for (size_t k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "literal_%s", lits[k].text);
        if (parse(lits[k].text, &doc, err, sizeof err) != 0)
            fail(name, "parse failed: %s", err);
        else if (doc.root->type != lits[k].type)
            fail(name, "type %d, want %d", (int)doc.root->type, (int)lits[k].type);
        else
            pass(name);
        json_free(&doc);
    }
    check_error("literal_truncated", "tru", 0, "expected 'true'");
    check_error("literal_misspelled", "nul1", 0, "expected 'null'");
    check_error("literal_capitalized", "True", 0, "expected a value");

    const char *text = " {\"a\": [1, {\"b\": null}, []], \"c\": {\"d\": \"e\"}, \"f\": true, \"g\": {}} ";
    if (parse(text, &doc, err, sizeof err) != 0) {
        fail("nested", "parse failed: %s", err);
    } else {
        const json_value *r = doc.root, *a = json_get(r, "a"), *c = json_get(r, "c");
        const json_value *d = json_get(c, "d"), *g = json_get(r, "g");
        if (r->type != JSON_OBJECT || r->len != 4 || r->key != NULL)
            fail("nested", "root type %d len %u", (int)r->type, (unsigned)r->len);
        else if (r->kids[0].key_len != 1 || strcmp(r->kids[0].key, "a") || r->kids[3].key[0] != 'g')
            fail("nested", "keys not in document order");
        else if (!a || a->type != JSON_ARRAY || a->len != 3)
            fail("nested", "a is not a 3-element array");
        else if (a->kids[0].type != JSON_NUMBER || a->kids[0].i != 1 || a->kids[0].key != NULL)
            fail("nested", "a[0] is not the number 1 without key");
        else if (a->kids[1].type != JSON_OBJECT || a->kids[1].len != 1 ||
                 json_get(&a->kids[1], "b") == NULL || json_get(&a->kids[1], "b")->type != JSON_NULL)
            fail("nested", "a[1] is not {\"b\": null}");
        else if (a->kids[2].type != JSON_ARRAY || a->kids[2].len != 0 || a->kids[2].kids != NULL)
            fail("nested", "a[2] is not []");
        else if (!d || d->type != JSON_STRING || strcmp(d->str, "e") != 0 || d->len != 1)
            fail("nested", "c.d is not \"e\"");
        else if (!json_get(r, "f") || json_get(r, "f")->type != JSON_TRUE)
            fail("nested", "f is not true");
        else if (!g || g->type != JSON_OBJECT || g->len != 0)
            fail("nested", "g is not {}");
        else
            pass("nested");
    }

    /* json_get edge cases, on the same document. */
    if (doc.root && json_get(NULL, "a") == NULL && json_get(doc.root, "zz") == NULL &&
        json_get(json_get(doc.root, "a"), "b") == NULL && json_get(doc.root, "") == NULL)
        pass("get_absent_and_non_object");
    else
        fail("get_absent_and_non_object", "json_get returned a member where none exists");
    json_free(&doc);
    json_free(&doc);   /* second free is a no-op */
    pass("free_twice");

    if (parse("{\"k\": 1, \"x\": 0, \"k\": 2}", &doc, err, sizeof err) != 0)
        fail("duplicate_keys_last_wins", "parse failed: %s", err);
    else if (doc.root->len != 3 || !json_get(doc.root, "k") || json_get(doc.root, "k")->i != 2)
        fail("duplicate_keys_last_wins", "json_get(k) is not 2");
    else
        pass("duplicate_keys_last_wins");
    json_free(&doc);

    if (parse("{\"\\u00e9\\n\": 5}", &doc, err, sizeof err) != 0)
        fail("escaped_key", "parse failed: %s", err);
    else if (doc.root->kids[0].key_len != 3 || !json_get(doc.root, "\xC3\xA9\n"))
        fail("escaped_key", "key not decoded");
    else
        pass("escaped_key");
    json_free(&doc);

    /* The input is text[0..len): bytes after len must be ignored. */
    if (json_parse("[1,2]xyz", 5, &doc, err, sizeof err) != 0 || doc.root->len != 2)
        fail("length_bounds_input", "[1,2] with trailing bytes outside len: %s", err);
    else
        pass("length_bounds_input");
    json_free(&doc);
    if (json_parse("123", 2, &doc, err, sizeof err) != 0 || doc.root->i != 12)
        fail("length_bounds_number", "want 12");
    else
        pass("length_bounds_number");
    json_free(&doc);

    if (parse("\t\n\r [ 1 ,\n2 ] \r\n", &doc, err, sizeof err) != 0)
        fail("whitespace", "parse failed: %s", err);
    else
        pass("whitespace");
    json_free(&doc);
    check_error("formfeed_not_whitespace", "\f1", 0, "expected a value");

    check_error("empty_input", "", 0, "end of input");
    check_error("only_whitespace", "  \n ", 4, "end of input");
    check_error("trailing_garbage", "1 2", 2, "after the root value");
    check_error("trailing_bracket", "[]]", 2, "after the root value");
    check_error_n("trailing_nul", "1\0", 2, 1, "after the root value");
    check_error("trailing_comma_object", "{\"a\":1,}", 7, "expected string key, found '}'");
    check_error("trailing_comma_array", "[1,2,]", 5, "expected a value, found ']'");
    check_error("unclosed_array", "[1,2", 4, "end of input");
    check_error("missing_colon", "{\"a\" 1}", 5, "expected ':'");
    check_error("missing_comma", "[1 2]", 3, "expected ',' or ']'");
    check_error("non_string_key", "{1:2}", 1, "expected string key");
    check_error("object_wrong_close", "{\"a\":1]", 6, "expected ',' or '}'");
    check_error("leading_comma", "[,1]", 1, "expected a value");

    /* Error buffers that are too small are still NUL-terminated. */
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    if (parse("[", &doc, tiny, sizeof tiny) == 0 || tiny[7] != '\0' || strcmp(tiny, "byte 1:") != 0)
        fail("small_err_buffer", "got \"%.8s\"", tiny);
    else if (parse("[", &doc, NULL, 0) == 0)
        fail("small_err_buffer", "NULL err buffer: parsed");
    else
        pass("small_err_buffer");
}

static void test_depth(void)
{
    enum { LIMIT = 128, BIG = 100000 };   /* the documented default limit */
    char *buf = malloc(2 * BIG + 8);
    json_doc doc;
    char err[128];
    for (int depth = LIMIT; depth <= LIMIT + 1; depth++) {
        memset(buf, '[', (size_t)depth);
        memset(buf + depth, ']', (size_t)depth);
        int rc = json_parse(buf, 2 * (size_t)depth, &doc, err, sizeof err);
        if (depth == LIMIT) {
            const json_value *v = doc.root;
            int d = 0;
            while (rc == 0 && v->type == JSON_ARRAY && v->len == 1)
                v = &v->kids[0], d++;
            if (rc != 0 || d != LIMIT - 1 || v->len != 0)
                fail("depth_128_ok", "rc %d depth reached %d: %s", rc, d + 1, err);
            else
                pass("depth_128_ok");
            json_free(&doc);
        } else if (rc == 0) {
            fail("depth_129_error", "parsed");
            json_free(&doc);
        } else if (strcmp(err, "byte 128: nesting deeper than 128") != 0) {
            fail("depth_129_error", "message \"%s\"", err);
        } else {
            pass("depth_129_error");
        }
    }
    /* Objects count too: {"a":{"a":...}} 129 deep. */
    size_t n = 0;
    for (int k = 0; k <= LIMIT; k++)
        n += (size_t)sprintf(buf + n, "{\"a\":");
    check_error_n("depth_129_objects", buf, n, (size_t)LIMIT * 5, "nesting deeper than 128");
    memset(buf, '[', BIG);
    check_error_n("depth_100000_no_overflow", buf, BIG, LIMIT, "nesting deeper than 128");
    free(buf);
}

/* Every proper prefix of a document whose root is an object is invalid JSON.
   Each prefix is copied into a buffer of exactly its length, so reading past
   text+len would be caught by AddressSanitizer. */
static void test_prefixes(void)
{
    const char *full =
        "{\"name\": \"t\\u00e9st \\ud83d\\ude00\", \"ids\": [0, -12, 3.5e-2, 9223372036854775807],"
        " \"ok\": true, \"no\": false, \"nil\": null, \"nested\": {\"a\": [[], {}, [\"x\\\\y\\n\"]]},"
        " \"e\": \"\"}";
    size_t n = strlen(full);
    json_doc doc;
    char err[256];
    if (json_parse(full, n, &doc, err, sizeof err) != 0) {
        fail("prefix_full_document", "parse failed: %s", err);
        return;
    }
    pass("prefix_full_document");
    json_free(&doc);
    for (size_t len = 0; len < n; len++) {
        char *copy = malloc(len ? len : 1);
        memcpy(copy, full, len);
        int rc = json_parse(copy, len, &doc, err, sizeof err);
        free(copy);
        size_t at;
        if (rc == 0) {
            fail("truncated_prefixes", "prefix of %zu bytes parsed", len);
            json_free(&doc);
            return;
        }
        if (sscanf(err, "byte %zu: ", &at) != 1 || at > len || !strchr(err, ':')) {
            fail("truncated_prefixes", "prefix of %zu bytes: bad message \"%s\"", len, err);
            return;
        }
    }
    pass("truncated_prefixes");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long size;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)size, f);
        if (*len != (size_t)size) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

/* Integer member `key` of object v equals want. */
static int int_is(const json_value *v, const char *key, int64_t want)
{
    const json_value *m = json_get(v, key);
    return m && m->type == JSON_NUMBER && m->is_int && m->i == want;
}

static int str_is(const json_value *v, const char *want)
{
    return v && v->type == JSON_STRING && v->len == strlen(want) && memcmp(v->str, want, v->len) == 0;
}

struct tokenizer_facts {
    const char *name, *path;
    uint32_t vocab, merges, added;
    int merges_are_pairs;            /* qwen3: [["a","b"],...]; llama3: ["a b",...] */
    const char *first_merge_a, *first_merge_b;
    const char *first_added, *last_vocab_key;
    int64_t first_added_id, last_vocab_id, hello_id, lower_hello_id;
};

static void test_tokenizer(const struct tokenizer_facts *t)
{
    char name[64], err[256];
    size_t len = 0;
    snprintf(name, sizeof name, "tokenizer_%s", t->name);
    char *text = read_file(t->path, &len);
    if (!text) {
        char reason[256];
        snprintf(reason, sizeof reason, "%s not found (run from the repository root)", t->path);
        skip(name, reason);
        return;
    }
    json_doc doc;
    if (json_parse(text, len, &doc, err, sizeof err) != 0) {
        fail(name, "parse failed: %s", err);
        free(text);
        return;
    }
    const json_value *model = json_get(doc.root, "model"), *vocab = json_get(model, "vocab");
    const json_value *merges = json_get(model, "merges"), *added = json_get(doc.root, "added_tokens");
    const json_value *m0 = merges && merges->len ? &merges->kids[0] : NULL;
    int merge_ok = t->merges_are_pairs
                       ? m0 && m0->type == JSON_ARRAY && m0->len == 2 && str_is(&m0->kids[0], t->first_merge_a) &&
                             str_is(&m0->kids[1], t->first_merge_b)
                       : str_is(m0, t->first_merge_a);
    if (!str_is(json_get(model, "type"), "BPE"))
        fail(name, "model.type is not \"BPE\"");
    else if (!vocab || vocab->type != JSON_OBJECT || vocab->len != t->vocab)
        fail(name, "model.vocab has %u entries, want %u", vocab ? (unsigned)vocab->len : 0u, (unsigned)t->vocab);
    else if (!merges || merges->type != JSON_ARRAY || merges->len != t->merges)
        fail(name, "model.merges has %u entries, want %u", merges ? (unsigned)merges->len : 0u,
             (unsigned)t->merges);
    else if (!added || added->type != JSON_ARRAY || added->len != t->added)
        fail(name, "added_tokens has %u entries, want %u", added ? (unsigned)added->len : 0u, (unsigned)t->added);
    else if (!int_is(vocab, "!", 0) || !int_is(vocab, "\"", 1) || !int_is(vocab, "\\", 59) ||
             !int_is(vocab, "\xC4\xA0the", 279) || !int_is(vocab, "\xC4\xA0\xC4\xA0", 256) ||
             !int_is(vocab, "Hello", t->hello_id) || !int_is(vocab, "hello", t->lower_hello_id))
        fail(name, "a vocab id differs from Python's json");
    else if (strcmp(vocab->kids[vocab->len - 1].key, t->last_vocab_key) != 0 ||
             vocab->kids[vocab->len - 1].i != t->last_vocab_id)
        fail(name, "last vocab entry differs");
    else if (!merge_ok)
        fail(name, "merges[0] differs");
    else if (!int_is(&added->kids[0], "id", t->first_added_id) ||
             !str_is(json_get(&added->kids[0], "content"), t->first_added) ||
             json_get(&added->kids[0], "special")->type != JSON_TRUE)
        fail(name, "added_tokens[0] differs");
    else
        pass(name);
    json_free(&doc);
    free(text);
}

int main(void)
{
    test_strings();
    test_numbers();
    test_literals_and_structure();
    test_depth();
    test_prefixes();
    /* Expected values below came from Python's json module on these exact files
       (json.load, then len() of model.vocab / model.merges / added_tokens and dict look-ups). */
    static const struct tokenizer_facts qwen3 = {
        "qwen3", "../shared/assets/tokenizers/qwen3/tokenizer.json", 151643, 151387, 26, 1,
        "\xC4\xA0", "\xC4\xA0", "<|endoftext|>", "\xC3\xA2\xC2\xBD\xC4\xB9", 151643, 151642, 9707, 14990};
    static const struct tokenizer_facts llama3 = {
        "llama3", "../shared/assets/tokenizers/llama3/tokenizer.json", 128000, 280147, 256, 0,
        "\xC4\xA0 \xC4\xA0", NULL, "<|begin_of_text|>", "\xC3\xA9\xC4\xB6\xC2\xA6", 128000, 127999, 9906, 15339};
    test_tokenizer(&qwen3);
    test_tokenizer(&llama3);
    return 0;
}
