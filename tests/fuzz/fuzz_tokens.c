/* fuzz_tokens: arbitrary bytes as the token-id file of `ewq ppl --tokens`, read by ewq_read_tokens with a
 * vocabulary of 256. Checks: a refusal is one line naming the file; an accepted file gives at least one
 * id, every one in [0, 256), no more ids than half the bytes plus one (each id is a digit and a
 * separator). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[300], path[320];
    if (!dir[0]) {
        fuzz_folder(dir, sizeof dir, "tokens");
        snprintf(path, sizeof path, "%s/ids.txt", dir);
    }
    fuzz_write(dir, "ids.txt", data, size);
    int *ids;
    long n;
    ewq_err err;
    if (ewq_read_tokens(path, 256, &ids, &n, &err) != 0) {
        fuzz_check_error(&err, path);
        return 0;
    }
    FUZZ_REQUIRE(n >= 1 && (size_t)n <= size / 2 + 1);
    for (long i = 0; i < n; i++) FUZZ_REQUIRE(ids[i] >= 0 && ids[i] < 256);
    free(ids);
    return 0;
}
