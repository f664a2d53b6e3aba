/* ewq.h — Entropy-Weighted Quantization: the formats and interfaces shared by ewq.c and ewq_cuda.cu.
 *
 * This header is the one place where everything a port needs is defined: the error convention, the
 * checkpoint and config as ewq reads them, and (added by later sections) the plan and packed formats.
 * All multi-byte values in files are little-endian.
 */
#ifndef EWQ_H
#define EWQ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------
 * Errors.
 * A function that reads input returns 0 on success, or -1 after writing one line into an ewq_err:
 * "FILE: problem" (no trailing newline). The command line prints it as "ewq: FILE: problem" and exits 1.
 * Parsers never exit, so they can run inside a fuzzer.
 */
typedef struct ewq_err { char msg[1024]; } ewq_err;

/* Writes "file: <formatted>" into e and returns -1, so a caller can `return ewq_fail(...)`. */
int ewq_fail(ewq_err *e, const char *file, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---------------------------------------------------------------------------------------------------
 * Element types of checkpoint tensors (safetensors dtype strings "F32", "F16", "BF16").
 * F16 is IEEE 754 binary16; BF16 is the upper 16 bits of an IEEE 754 binary32.
 */
typedef enum ewq_dtype { EWQ_F32, EWQ_F16, EWQ_BF16 } ewq_dtype;

size_t ewq_dtype_size(ewq_dtype t);            /* bytes per element: 4, 2, 2 */
const char *ewq_dtype_name(ewq_dtype t);       /* "F32", "F16", "BF16" */
float ewq_f16_to_f32(uint16_t h);              /* exact, including subnormals, inf and NaN */
float ewq_bf16_to_f32(uint16_t h);             /* exact */
uint16_t ewq_f32_to_f16(float f);              /* round to nearest even; overflow gives ±inf */
uint16_t ewq_f32_to_bf16(float f);             /* round to nearest even; NaN stays NaN */

/* ---------------------------------------------------------------------------------------------------
 * Checkpoint: safetensors files, memory-mapped read-only.
 *
 * safetensors layout: u64 N (little-endian) | N bytes of JSON header | data buffer (rest of the file).
 * The header is an object: "__metadata__" (ignored) and, per tensor, {"dtype": "F32"|"F16"|"BF16",
 * "shape": [d0, d1, ...], "data_offsets": [BEGIN, END]} with offsets relative to the data buffer.
 * ewq checks, before any use: 8 <= file size; N <= file size - 8 and N <= EWQ_MAX_HEADER; the header is
 * valid JSON and an object; every dtype is supported; every dimension is a non-negative integer and the
 * element count does not overflow; 0 <= BEGIN <= END <= data size; END - BEGIN = elements * dtype size;
 * BEGIN is a multiple of the dtype size counted from the file start (so values can be read in place);
 * no two tensors overlap.
 * A sharded checkpoint has model.safetensors.index.json: {"weight_map": {"tensor name": "shard file"}};
 * every shard is a plain file name in the same folder, every listed tensor is in its shard, and no
 * tensor appears twice.
 */
#define EWQ_MAX_HEADER (100u << 20)   /* 100 MB: real headers are well under 1 MB */
#define EWQ_MAX_DIMS 8

typedef struct ewq_tensor {
    char *name;
    ewq_dtype dtype;
    int ndim;
    int64_t shape[EWQ_MAX_DIMS];
    int64_t numel;
    size_t nbytes;
    const void *data;          /* points into the mapped file */
    int file;                  /* index into ewq_checkpoint.files */
} ewq_tensor;

typedef struct ewq_mapped_file {
    char *path;
    const uint8_t *map;
    size_t size;
} ewq_mapped_file;

typedef struct ewq_checkpoint {
    char *path;                /* the file that defines it: model.safetensors.index.json or model.safetensors */
    int n_files;
    ewq_mapped_file *files;
    int n_tensors;
    ewq_tensor *tensors;       /* sorted by name */
} ewq_checkpoint;

/* Parses the safetensors bytes buf[0..size) of the file `path` and appends its tensors to ck (tensor
 * .file = file_index, .data into buf). On error ck holds only what it held before. */
int ewq_safetensors_parse(ewq_checkpoint *ck, const char *path, const uint8_t *buf, size_t size,
                          int file_index, ewq_err *err);
/* Opens dir/model.safetensors.index.json if present, else dir/model.safetensors. */
int ewq_checkpoint_open(ewq_checkpoint *ck, const char *dir, ewq_err *err);
void ewq_checkpoint_close(ewq_checkpoint *ck);
const ewq_tensor *ewq_find_tensor(const ewq_checkpoint *ck, const char *name);

/* ---------------------------------------------------------------------------------------------------
 * Model configuration, read from a Hugging Face config.json.
 * Architectures: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM (q/k/v biases) and
 * Qwen3ForCausalLM (per-head RMSNorm on q and k). Defaults follow transformers: num_key_value_heads =
 * num_attention_heads, head_dim = hidden_size / num_attention_heads, rms_norm_eps 1e-6, rope_theta
 * 10000, tie_word_embeddings false. rope_theta and rope_scaling may also come inside "rope_parameters"
 * (newer transformers). rope_scaling: null, type "default", or type "llama3".
 */
typedef enum ewq_arch { EWQ_ARCH_LLAMA, EWQ_ARCH_MISTRAL, EWQ_ARCH_QWEN2, EWQ_ARCH_QWEN3 } ewq_arch;

typedef struct ewq_config {
    ewq_arch arch;
    const char *arch_name;        /* "LlamaForCausalLM", ... (static string) */
    int hidden;                   /* hidden_size */
    int n_layers;                 /* num_hidden_layers */
    int n_heads;                  /* num_attention_heads */
    int n_kv_heads;               /* num_key_value_heads */
    int head_dim;
    int intermediate;             /* intermediate_size */
    int vocab;                    /* vocab_size */
    int max_pos;                  /* max_position_embeddings, 0 when absent */
    int sliding_window;           /* 0 when none or disabled (use_sliding_window false) */
    double rms_eps;
    double rope_theta;
    int rope_llama3;              /* 1 when rope_scaling type is llama3; then the four fields below */
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_orig_max_pos;
    int tie_embeddings;           /* lm_head is the embedding matrix */
    int qkv_bias;                 /* Qwen2 */
    int qk_norm;                  /* Qwen3 */
    int bos_id;                   /* -1 when none */
    int n_eos;                    /* eos_token_id may be one id or a list */
    int eos_ids[8];
} ewq_config;

int ewq_config_parse(ewq_config *c, const char *path, const char *text, size_t len, ewq_err *err);

/* ---------------------------------------------------------------------------------------------------
 * A model: config + checkpoint + the tensors of each block, checked for presence and shape.
 * Hugging Face names (N = block index), [rows, cols] with rows = out_features:
 *   model.embed_tokens.weight                 [vocab, hidden]
 *   model.layers.N.input_layernorm.weight     [hidden]
 *   model.layers.N.self_attn.q_proj.weight    [heads*head_dim, hidden]     (+ .bias [heads*head_dim], Qwen2)
 *   model.layers.N.self_attn.k_proj.weight    [kv_heads*head_dim, hidden]  (+ .bias, Qwen2)
 *   model.layers.N.self_attn.v_proj.weight    [kv_heads*head_dim, hidden]  (+ .bias, Qwen2)
 *   model.layers.N.self_attn.q_norm.weight    [head_dim]                   (Qwen3)
 *   model.layers.N.self_attn.k_norm.weight    [head_dim]                   (Qwen3)
 *   model.layers.N.self_attn.o_proj.weight    [hidden, heads*head_dim]
 *   model.layers.N.post_attention_layernorm.weight [hidden]
 *   model.layers.N.mlp.gate_proj.weight       [intermediate, hidden]
 *   model.layers.N.mlp.up_proj.weight         [intermediate, hidden]
 *   model.layers.N.mlp.down_proj.weight       [hidden, intermediate]
 *   model.norm.weight                         [hidden]
 *   lm_head.weight                            [vocab, hidden]              (only when not tied)
 * Other tensors in the checkpoint are ignored.
 */
enum { EWQ_Q, EWQ_K, EWQ_V, EWQ_O, EWQ_GATE, EWQ_UP, EWQ_DOWN, EWQ_N_LINEAR };
extern const char *const ewq_linear_names[EWQ_N_LINEAR];   /* "self_attn.q_proj", ..., "mlp.down_proj" */

typedef struct ewq_block {
    const ewq_tensor *linear[EWQ_N_LINEAR];    /* indexed by EWQ_Q .. EWQ_DOWN */
    const ewq_tensor *bias[3];                 /* q, k, v biases (Qwen2), else NULL */
    const ewq_tensor *attn_norm, *ffn_norm;
    const ewq_tensor *q_norm, *k_norm;         /* Qwen3, else NULL */
} ewq_block;

typedef struct ewq_model {
    char *dir;
    ewq_config cfg;
    ewq_checkpoint ck;
    const ewq_tensor *embed, *final_norm, *lm_head;   /* lm_head == embed when tied */
    ewq_block *blocks;                                /* cfg.n_layers */
} ewq_model;

int ewq_model_open(ewq_model *m, const char *dir, ewq_err *err);
void ewq_model_close(ewq_model *m);

/* ---------------------------------------------------------------------------------------------------
 * Precision of each weight: what a plan (or --uniform) resolves to, and what packing consumes.
 * raw keeps the checkpoint's values; int8 and int4 are the packed formats of SPEC §6.
 */
typedef enum ewq_tier { EWQ_RAW, EWQ_INT8, EWQ_INT4 } ewq_tier;

typedef struct ewq_assignment {
    int n_layers;
    ewq_tier *linear;          /* [n_layers * EWQ_N_LINEAR]: block l, linear k at l * EWQ_N_LINEAR + k */
    ewq_tier embed, lm_head;   /* outside the blocks: raw unless asked otherwise */
} ewq_assignment;

/* ---------------------------------------------------------------------------------------------------
 * Packed weights (SPEC §6).
 * A weight matrix W is row-major [rows = out_features, cols = in_features]. Quantization groups run
 * along a row: group g of row r holds columns [g*G, min((g+1)*G, cols)), so a row has
 * ng = ceil(cols / G) groups and, when G does not divide cols, ends with a shorter group (stories260K's
 * intermediate 172 with G = 64: groups of 64, 64, 44). G (`group`) is a parameter; the default is 64.
 * fp16 means IEEE binary16, stored as its 16 bits in a uint16 (little-endian in any file).
 * All arithmetic below is IEEE float32 unless it says otherwise; rint() rounds half to even.
 *
 * int8 (symmetric), 8 + 16/G bits per weight:
 *   q      int8   [rows * cols]   row r at byte offset r*cols, column c at r*cols + c
 *   scale  fp16   [rows * ng]     group g of row r at index r*ng + g
 *   dequantized value: w[r][c] = f32(scale[r*ng + c/G]) * (float)q[r*cols + c]
 *   packing one group v[0..n): a = max |v|; s = up16(a / 127), one fp16 step higher if 127*f32(s) < a;
 *   q = rint(v / f32(s)) clamped to [-127, 127] (q = 0 when s = 0, i.e. an all-zero group). So
 *   127*s >= a: nothing clips, and |w - ŵ| <= s/2.
 *
 * int4 (asymmetric), 4 + 32/G bits per weight:
 *   q      uint8  [rows * ceil(cols/2)]   row r starts at byte r*ceil(cols/2); column c is in byte c/2
 *                                         of its row, in the low nibble when c is even and the high
 *                                         nibble when c is odd; an odd-length row's last high nibble is 0
 *   scale  fp16   [rows * ng]
 *   min    fp16   [rows * ng]
 *   dequantized value: w[r][c] = f32(min[i]) + f32(scale[i]) * (float)nibble, i = r*ng + c/G
 *   packing one group v[0..n): lo = min v, hi = max v, d = hi - lo. Candidate ranges, tried in this
 *   order for i = 0..3 (outer) and j = 0..3 (inner): [lo + d*(i/16), hi - d*(j/16)] (i/16 and j/16 are
 *   exact floats). Each candidate [a, b] becomes m = down16(a), s = up16((b - f32(m)) / 15) (one fp16
 *   step higher if f32(m) + 15*f32(s) < b),
 *   q = rint((v - f32(m)) / f32(s)) clamped to [0, 15] (q = 0 when s = 0), and its squared error is
 *   sum over the group of (v - (f32(m) + f32(s)*q))^2, each term and the sum in double, in column
 *   order. The first candidate with the smallest error wins; candidate (0, 0), the full range, is
 *   tried first and replaced only by a strictly smaller error, so the shrink never increases a
 *   group's error. With the shrink off (`shrink` = 0) only (0, 0) is tried; then every value lies in
 *   [f32(m), f32(m) + 15*f32(s)] and |w - ŵ| <= f32(s)/2.
 *   up16(x): the fp16 nearest to x, moved one fp16 step up if it is below x; down16(x): likewise down.
 *
 * Packing refuses (with an error naming the tensor) weights that are NaN or infinite, or whose scale
 * or minimum does not fit in fp16 (|w| beyond 65504, or 127*65504 for int8).
 * raw: the checkpoint's own tensor, read in place from the mapped file (F32, F16 or BF16).
 */
#define EWQ_GROUP 64        /* the default group size */
#define EWQ_MAX_GROUP 256   /* groups of 1 .. 256 values */

typedef struct ewq_qmat {
    ewq_tier tier;
    int rows, cols, group;     /* group: int8/int4 only */
    ewq_dtype dtype;           /* raw only: element type of `raw` */
    const void *raw;           /* raw only: rows*cols elements, row-major (points into the checkpoint) */
    void *q;                   /* int8: int8_t[rows*cols]; int4: uint8_t[rows*ceil(cols/2)] */
    uint16_t *scale;           /* int8/int4: fp16 [rows*ng] */
    uint16_t *min;             /* int4: fp16 [rows*ng]; NULL otherwise */
} ewq_qmat;

static inline int ewq_groups_per_row(int cols, int group) { return (cols + group - 1) / group; }

/* Packs W (rows x cols floats, row-major) at tier int8 or int4 into m (which owns the arrays). name
 * labels errors. */
int ewq_qmat_pack(ewq_qmat *m, ewq_tier tier, const float *w, int rows, int cols, int group, int shrink,
                  const char *name, ewq_err *err);
/* A raw view of a checkpoint tensor (2-D). */
void ewq_qmat_raw(ewq_qmat *m, const ewq_tensor *t);
/* Writes row r of m, dequantized, into out[0..cols). */
void ewq_qmat_row(const ewq_qmat *m, int r, float *out);
/* Bytes of the stored weights: raw rows*cols*dtype size; int8 rows*(cols + 2*ng); int4 rows*(ceil(cols/2) + 4*ng). */
size_t ewq_qmat_bytes(const ewq_qmat *m);
void ewq_qmat_free(ewq_qmat *m);

/* A model packed per an assignment: what a backend runs. Norm weights and biases stay in the
 * checkpoint (read through `model`). When the embedding is tied and embed and lm_head have the same
 * tier, lm_head points at embed's storage. */
typedef struct ewq_packed {
    const ewq_model *model;
    int group;
    ewq_qmat embed, lm_head;
    ewq_qmat *linear;          /* [n_layers * EWQ_N_LINEAR], indexed like ewq_assignment.linear */
    int lm_head_shared;        /* lm_head aliases embed */
} ewq_packed;

/* Packs every weight of m at the tier a gives it (a->n_layers must equal the model's). Shows progress
 * on stderr when `progress` is set. */
int ewq_pack(ewq_packed *p, const ewq_model *m, const ewq_assignment *a, int group, int shrink, int progress,
             ewq_err *err);
size_t ewq_packed_bytes(const ewq_packed *p);   /* all weights as stored: embed, blocks, lm_head (once if shared) */
void ewq_packed_free(ewq_packed *p);

/* An assignment with every block linear at `tier` and embed / lm_head as given (free with
 * ewq_assignment_free). */
void ewq_assignment_uniform(ewq_assignment *a, int n_layers, ewq_tier tier, ewq_tier embed, ewq_tier lm_head);
void ewq_assignment_free(ewq_assignment *a);
const char *ewq_tier_name(ewq_tier t);          /* "raw", "int8", "int4" */
int ewq_tier_parse(const char *s, ewq_tier *t); /* 0, or -1 for an unknown name */

/* ---------------------------------------------------------------------------------------------------
 * Backend interface: what runs a packed model. The CPU backend is in ewq.c, the CUDA one in ewq_cuda.cu.
 *
 * forward(b, tokens, n, pos, logits, all, err) runs tokens[0..n) at positions pos .. pos+n-1, attending
 * to the positions 0 .. pos-1 already in the KV cache from earlier calls (so pos = 0 starts a new
 * sequence; a call at pos overwrites whatever the cache held from pos on). n > 1 is a prefill (all n
 * positions in one pass), n = 1 a decode step. logits receives vocab floats per position for all n
 * positions when `all` is set ([n][vocab]), else only for the last one. Requires pos + n <= max_ctx and
 * every token in [0, vocab); returns 0, or -1 with err set. Activations are float32.
 * The model computed is SPEC §4: embedding -> per block [RMSNorm -> q,k,v (+bias) -> (Qwen3: per-head
 * q/k RMSNorm) -> RoPE (rotate-half pairs i, i + head_dim/2; llama3 frequency scaling as transformers
 * computes inv_freq) -> causal grouped-query attention (query head h reads KV head h / (heads/kv_heads))
 * -> o_proj -> residual -> RMSNorm -> down(SiLU(gate) * up) -> residual] -> RMSNorm -> lm_head.
 * RMSNorm(x) = x / sqrt(mean(x^2) + eps) * weight.
 */
typedef struct ewq_backend {
    const char *name;          /* "cpu", "cuda" */
    const ewq_packed *packed;
    int max_ctx;
    void *state;               /* the backend's own: KV cache, scratch, device copies */
    int (*forward)(struct ewq_backend *b, const int *tokens, int n, int pos, float *logits, int all, ewq_err *err);
    void (*free)(struct ewq_backend *b);
} ewq_backend;

int ewq_cpu_init(ewq_backend *b, const ewq_packed *p, int max_ctx, ewq_err *err);

/* ---------------------------------------------------------------------------------------------------
 * GPU backend (ewq_cuda.cu; a CPU-only build has a stand-in that says so).
 */
/* Writes a one-line description of the CUDA device ewq would use, or why there is none; 0 if usable. */
int ewq_cuda_describe(char *buf, size_t n);

/* ---------------------------------------------------------------------------------------------------
 * Host utilities shared by the sections of ewq.c.
 */
/* Reads a whole file into a NUL-terminated heap buffer (refuses directories and files over max_bytes). */
int ewq_read_file(const char *path, size_t max_bytes, char **out, size_t *len, ewq_err *err);

/* Atomic output: write to "PATH.tmp.PID", then rename over PATH, so PATH is complete or absent (or keeps its
 * previous content), even when ewq is killed. A process killed by SIGKILL leaves its "PATH.tmp.PID" behind. */
typedef struct ewq_outfile { FILE *f; char *path, *tmp; } ewq_outfile;
int ewq_out_open(ewq_outfile *o, const char *path, ewq_err *err);
int ewq_out_commit(ewq_outfile *o, ewq_err *err);   /* flush, fsync, close, rename */
void ewq_out_abort(ewq_outfile *o);                /* close and remove the temporary file */

/* A persistent pool of worker threads: ewq_parallel(n, fn, ctx) calls fn(ctx, i) for i in [0, n) on
 * all threads and returns when every call has finished. Calls must not nest. */
void ewq_threads_init(int n_threads);               /* 0: one per core */
int ewq_threads(void);
void ewq_parallel(int n, void (*fn)(void *ctx, int i), void *ctx);

#ifdef __cplusplus
}
#endif
#endif
