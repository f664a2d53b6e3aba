/* ewq.h — Entropy-Weighted Quantization: the formats and interfaces shared by ewq.c and ewq_cuda.cu.
 *
 * This header is the one place where everything a port needs is defined, in the order ewq.c uses it:
 * formats (errors, element types, tiers, packed sizes), checkpoint, config and model, synthesized
 * checkpoints, entropy and the rule, plan, packed weights, backends, evaluation, tokenizer, and the
 * infrastructure the sections share. All multi-byte values in files are little-endian.
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
 * Precision of each weight: what a plan (or --uniform) resolves to, and what packing consumes.
 * raw keeps the checkpoint's values; int8 and int4 are the group-quantized formats of "Packed weights".
 */
typedef enum ewq_tier { EWQ_RAW, EWQ_INT8, EWQ_INT4 } ewq_tier;
const char *ewq_tier_name(ewq_tier t);          /* "raw", "int8", "int4" */
int ewq_tier_parse(const char *s, ewq_tier *t); /* 0, or -1 for an unknown name */

/* ---------------------------------------------------------------------------------------------------
 * Sizes of stored weights: one formula for the plan's summary (g = EWQ_GROUP) and for packed models (their
 * group). A weight [rows, cols] is packed row by row in groups of g values along cols; every row has
 * ceil(cols / g) groups, the last one partial when cols is not a multiple of g (stories260K: cols 172 =
 * 2 groups of 64 + one of 44).
 *     raw:  rows * cols * dtype size
 *     int8: rows * (cols + 2 * ceil(cols / g))                one byte per value, one fp16 scale per group
 *     int4: rows * (ceil(cols / 2) + 4 * ceil(cols / g))      two values per byte, fp16 scale + fp16 min
 * With cols a multiple of 64 that is 8.25 and 4.5 bits per weight.
 */
#define EWQ_GROUP 64        /* the default group size */
#define EWQ_MAX_GROUP 256   /* groups of 1 .. 256 values */
uint64_t ewq_weight_bytes(ewq_tier t, ewq_dtype raw_dtype, int64_t rows, int64_t cols, int group);

/* ---------------------------------------------------------------------------------------------------
 * Files: whole files read into memory (config.json, tokenizer.json, plans, token files).
 */
/* Reads a whole file into a NUL-terminated heap buffer (refuses directories and files over max_bytes).
 * PATH "-" is standard input (read to its end, with the same limit), named EWQ_STDIN_NAME in messages. */
int ewq_read_file(const char *path, size_t max_bytes, char **out, size_t *len, ewq_err *err);
#define EWQ_STDIN_NAME "standard input"
/* Texts (to be tokenized) and token files, standard input included (as it arrives), are refused past this
 * size before anything is allocated for them. 64 MiB of text is about 16 M tokens, days of perplexity on a
 * CPU; tokenizing 17 MB of English took 86 MB at peak (about 5 bytes per byte of text), so the limit keeps
 * tokenizing near 350 MB (a 1 GiB text ran out of memory after a minute). */
#define EWQ_MAX_TEXT (64u << 20)

/* ---------------------------------------------------------------------------------------------------
 * Checkpoint: safetensors files, memory-mapped read-only.
 *
 * safetensors layout: u64 N (little-endian) | N bytes of JSON header | data buffer (rest of the file).
 * The header is an object: "__metadata__" (null or an object of strings; ignored) and, per tensor,
 * {"dtype": "F32"|"F16"|"BF16", "shape": [d0, d1, ...], "data_offsets": [BEGIN, END]} with offsets
 * relative to the data buffer.
 * ewq checks what the safetensors library checks (safetensors/src/tensor.rs, read_metadata and
 * Metadata::validate): N <= 100,000,000 (EWQ_MAX_HEADER) and 8 + N <= file size; the header is valid
 * UTF-8 and JSON; __metadata__ as above; every dimension and offset a non-negative integer;
 * END - BEGIN = elements * dtype size, without overflow; the tensors, in the order of their offsets,
 * tile the data buffer exactly: the first starts at 0, each starts where the one before ends, and the
 * last ends at the end of the file (no byte shared, none left over).
 * ewq is stricter than the library in these: the header must be an object (the library's error is a
 * deserialization one); dtypes F32, F16 and BF16 only; at most EWQ_MAX_DIMS dimensions and an element
 * count within int64 (the library: usize); BEGIN a multiple of the dtype size counted from the file
 * start (so values are read in place; the library copies); every tensor name non-empty, without NUL or
 * other control characters (names are printed); JSON nesting at most 128 deep and its parse tree at
 * most 1 GiB (json.h); a sharded checkpoint lists no tensor twice.
 * A sharded checkpoint has model.safetensors.index.json: {"weight_map": {"tensor name": "shard file"}};
 * every shard is a plain file name in the same folder, every listed tensor is in its shard, and no
 * tensor appears twice.
 */
#define EWQ_MAX_HEADER 100000000u   /* the library's MAX_HEADER_SIZE; real headers are well under 1 MB */
#define EWQ_MAX_INDEX (100u << 20)  /* model.safetensors.index.json */
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
#define EWQ_MAX_EOS 8                 /* eos_token_id: one id or a list of up to 8 */

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
    int eos_ids[EWQ_MAX_EOS];
} ewq_config;

#define EWQ_MAX_CONFIG (1u << 20)     /* config.json: 1 MB */
#define EWQ_MAX_DIM (1 << 24)         /* every size in config.json (and ids): products fit in 64 bits */

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
 * Synthesized checkpoints (`ewq synth`): random BF16 weights of the shapes a config.json describes.
 * Linear weights and embeddings: approximately normal, standard deviation 0.02 (the sum of the four
 * 16-bit parts of splitmix64(key + (i + 1) * 0x9e3779b97f4a7c15), key derived from the seed and the
 * tensor's position); biases the same; norm weights 1. outlier (NULL, or one entry per layer, 0 = none)
 * plants +outlier[l] * 0.02 at the first and -outlier[l] * 0.02 at the last value of every linear weight
 * of block l: the histogram range widens and the block's entropy drops, by a known direction.
 */
int ewq_synth_write(const ewq_config *c, uint64_t seed, const double *outlier, const char *path, ewq_err *err);

/* ---------------------------------------------------------------------------------------------------
 * Entropy.
 *
 * Entropy of a tensor with B bins (B = --bins, default 256, 2 <= B <= EWQ_MAX_BINS): every value is read
 * as float32 (F16 and BF16 convert exactly); lo and hi are the smallest and largest value; in IEEE double,
 *     d = (double)x - (double)lo,  w = (double)hi - (double)lo,  bin(x) = min(B - 1, floor(d / w * B))
 * evaluated in exactly that order (for a power-of-two B, d / w * B equals d * B / w exactly), so the maximum
 * lands in the last bin. p_i = count_i / N; H = -sum over non-empty bins of p_i * log2(p_i), in bits.
 * A constant tensor (w = 0) has H = 0. A tensor with a NaN or infinite value is refused: its histogram
 * is undefined. -0.0 and +0.0 are the same value.
 * numpy.histogram(values.astype(float64), bins=B) puts x in bin i when edge_i <= x < edge_(i+1) with
 * edges = linspace(lo, hi, B + 1); that agrees with the formula above except when x lies within rounding
 * of an edge. tests/gen/make_entropy_expected.py checks, for every tensor it writes, that the two agree on
 * every value, so the committed expectations are numpy's and ewq's at once. Given float32 values,
 * numpy (2.4) computes the bins in float32 and moves 2 of stories260K's 226,560 linear weight values to a
 * neighbouring bin (0.0004 bits in one tensor); the same formula in float32 in C does likewise. Hence
 * double here, and float64 input for numpy.
 *
 * For F16 and BF16 tensors ewq counts the 65,536 bit patterns in one pass and derives lo, hi and the
 * histogram from the counts; the result is identical to binning every value.
 *
 * Entropy of a block (model.layers.N): the parameter-weighted mean of the entropies of its seven linear
 * weights, sum(H_k * n_k) / sum(n_k), n_k = rows * cols. Biases and norm weights do not count.
 */
#define EWQ_DEFAULT_BINS 256
#define EWQ_MAX_BINS 65536
#define EWQ_DEFAULT_FACTOR 0.65

/* Entropy in bits of t's values; -1 with a message naming the tensor on NaN or inf. */
int ewq_tensor_entropy(const ewq_tensor *t, int bins, double *bits, ewq_err *err);
/* Entropy in bits of a histogram: -sum p_i log2 p_i with p_i = counts[i] / sum(counts); 0 when empty. */
double ewq_counts_entropy(const uint64_t *counts, int bins);
/* sum(h[i] * params[i]) / sum(params[i]) over n entries; 0 when the parameters sum to 0. */
double ewq_weighted_entropy(const double *h, const int64_t *params, int n);

/* ---------------------------------------------------------------------------------------------------
 * The three-tier rule, over n entropies h (blocks, or with --granularity tensor every linear
 * weight), each weighing the same:
 *     mean = sum(h) / n,  std = sqrt(sum((h - mean)^2) / n)   (population),  threshold = mean - factor * std
 *     h >= mean -> raw;   threshold <= h < mean -> int8;   h < threshold -> int4
 * When all h are equal, std = 0 and every entry is raw (rounding in the mean cannot split equal values).
 */
typedef struct ewq_rule { double factor, mean, std, threshold; } ewq_rule;
void ewq_apply_rule(const double *h, int n, double factor, ewq_tier *tiers, ewq_rule *out);

/* ---------------------------------------------------------------------------------------------------
 * Checkpoint fingerprint: 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over, for
 * every tensor of the checkpoint in byte-wise name order: the name, one 0 byte, the dtype string
 * ("BF16"), one 0 byte, ndim as u32 LE, each dimension as u64 LE, then the first min(64, nbytes) and the
 * last min(64, nbytes) bytes of its data. Written as 16 lowercase hex digits. It does not depend on how
 * the checkpoint is split into files, costs two cache lines per tensor, and changes when shapes, dtypes
 * or (in practice) values change. config.json is not part of it: architecture and layer count are
 * checked on their own.
 */
uint64_t ewq_fingerprint(const ewq_checkpoint *ck);

/* ---------------------------------------------------------------------------------------------------
 * Assignment: the tier of every weight of a model, what a plan (or --uniform) resolves to.
 */
typedef struct ewq_assignment {
    int n_layers;
    ewq_tier *linear;          /* [n_layers * EWQ_N_LINEAR]: block l, linear k at l * EWQ_N_LINEAR + k */
    ewq_tier embed, lm_head;   /* outside the blocks: raw unless asked otherwise */
} ewq_assignment;

/* An assignment with every block linear at `tier` and embed / lm_head as given (free with
 * ewq_assignment_free). */
void ewq_assignment_uniform(ewq_assignment *a, int n_layers, ewq_tier tier, ewq_tier embed, ewq_tier lm_head);
void ewq_assignment_free(ewq_assignment *a);

/* ---------------------------------------------------------------------------------------------------
 * Plan file (JSON, written by `ewq plan -o FILE`). Every field, in document order:
 *   "format": "ewq-plan"                       string, always
 *   "version": 1                               integer, this layout
 *   "model": {
 *     "path": string                           the model folder as given on the command line (informative)
 *     "architecture": string                   config.json architectures[0], e.g. "LlamaForCausalLM"
 *     "layers": integer                        num_hidden_layers
 *     "fingerprint": string                    ewq_fingerprint as 16 hex digits }
 *   "method": {
 *     "granularity": "block" | "tensor"        what the rule ranks: blocks, or every linear weight
 *     "bins": integer                          histogram bins
 *     "weighting": "parameters"                how tensor entropies combine into a block's
 *     "factor", "mean", "std", "threshold": number   the rule, as above (bits)
 *     "group_size": integer                    EWQ_GROUP, used for the sizes in "summary" }
 *   "blocks": [ one per layer, in order:
 *     { "index": integer (= position),
 *       "entropy": number (bits), "parameters": integer (sum of its 7 linear weights),
 *       "tier": "raw" | "int8" | "int4"        (granularity "block" only; then every tensor has this tier)
 *       "tensors": [ its 7 linear weights, in the order q, k, v, o, gate, up, down:
 *         { "name": "model.layers.N.self_attn.q_proj.weight", "shape": [rows, cols],
 *           "entropy": number, "tier": "raw" | "int8" | "int4" } ] } ]
 *   "outside_blocks": { "embed_tokens": tier, "lm_head": tier }   raw (outside the rule); equal when tied
 *   "summary": {
 *     "tensors_per_tier": {"raw": n, "int8": n, "int4": n}
 *     "blocks_per_tier": {"raw": n, "int8": n, "int4": n}        (granularity "block" only)
 *     "linear": {..}   the block linear weights;  "model": {..}   every tensor the model uses
 *        each: {"parameters": n, "raw_bytes": n, "packed_bytes": n,
 *               "raw_bits_per_weight": x, "packed_bits_per_weight": x}   (ewq_weight_bytes; norms, biases raw) }
 * Numbers are written with 17 significant digits, so they read back exactly.
 *
 * Loading checks, in this order, and names the first mismatch: the JSON parses; format and version;
 * model.architecture and model.layers equal the model's; the fingerprint equals the model's; granularity
 * is known; no object holds a field not listed above; method.bins is an integer in [2, EWQ_MAX_BINS],
 * weighting "parameters", group_size EWQ_GROUP, factor a finite number >= 0, mean and std finite in
 * [0, log2(bins)] and threshold = mean - factor * std (to 1e-9 relative); there is one block per layer
 * with the right index, its entropy finite in [0, log2(bins)] and its parameters the sum of its linear
 * weights', each with 7 tensors carrying the expected names, the model's shapes, entropies in range and a
 * known tier (and, in block granularity, the block's tier); embed_tokens and lm_head carry known tiers
 * (equal when the embeddings are tied). Every integer is read as an exact JSON integer within its range.
 * Tiers are not re-derived from the entropies (a plan may be edited by hand to try other tiers), and the
 * summary, derived from the rest, is not re-checked.
 */
#define EWQ_MAX_PLAN (64u << 20)      /* a plan file: 64 MB */

/* The result is freed with ewq_assignment_free. */
int ewq_plan_load(const char *path, const ewq_model *m, ewq_assignment *out, ewq_err *err);

/* A plan as made from a model (what the file above records). */
typedef struct ewq_plan {
    int n_layers, bins;
    int by_tensor;                 /* granularity: 0 block, 1 tensor */
    ewq_rule rule;
    double *tensor_entropy;        /* [n_layers * EWQ_N_LINEAR], indexed like ewq_assignment.linear */
    double *block_entropy;         /* [n_layers] */
    int64_t *block_params;         /* [n_layers] */
    uint64_t fingerprint;
    ewq_assignment tiers;          /* embed and lm_head raw */
} ewq_plan;

/* Entropy of every linear weight (on all threads; one line of timing on stderr), then the rule. */
int ewq_plan_make(const ewq_model *m, int bins, int by_tensor, double factor, ewq_plan *p, ewq_err *err);
void ewq_plan_print(FILE *f, const ewq_plan *p, const ewq_model *m);   /* the JSON document above */
void ewq_plan_free(ewq_plan *p);
/* A plain SVG: block entropy against layer index (round ticks, light gridlines), mean and threshold as
 * lines labelled in the right margin, blocks coloured by tier; titled by the model folder's name. */
void ewq_plan_svg(FILE *f, const ewq_plan *p, const char *model);

/* ---------------------------------------------------------------------------------------------------
 * llama.cpp interop: a llama-quantize command that implements an assignment on a GGUF file converted
 * from the same checkpoint (convert_hf_to_gguf.py --outtype bf16|f16|f32 at the checkpoint's dtype).
 * GGUF names: blk.N.{attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down}.weight,
 * token_embd.weight, output.weight. Types: raw -> the checkpoint's dtype (bf16, f16, f32), int8 -> q8_0,
 * int4 -> q4_0. Every linear weight of every block is matched by exactly one --tensor-type pattern,
 * anchored at both ends ("^blk\.(1|3)\.(attn_q|ffn_up)\.weight$=q4_0"); llama-quantize applies them with
 * std::regex_search. The target type is Q8_0 because llama-quantize ignores --tensor-type when the target
 * is not a quantized type; --token-embedding-type and --output-tensor-type keep the rest at its tier.
 * The result only approximates the model ewq measured: llama.cpp's q8_0 chooses its own scales per 32
 * values and q4_0 is symmetric (ewq's int4 has a minimum), and llama-quantize falls back to other types
 * for rows that are not multiples of 32. ewq_gguf_write (Export, below) writes ewq's values exactly.
 */
void ewq_llama_quantize_command(FILE *f, const ewq_assignment *a, ewq_dtype raw, const char *in_gguf,
                                const char *out_gguf);

/* ---------------------------------------------------------------------------------------------------
 * Packed weights.
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
 *   packing one group v[0..n): lo = min v, hi = max v (where -0 and +0 tie, lo is the last of them in
 *   column order and hi the first: that decides the sign bits of a zero m or s), d = hi - lo. Candidate
 *   ranges, tried in this order for i = 0..3 (outer) and j = 0..3 (inner): [lo + d*(i/16), hi - d*(j/16)]
 *   (i/16 and j/16 are exact floats). Each candidate [a, b] becomes m = down16(a), s = up16((b - f32(m)) / 15) (one fp16
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

/* Packs every weight of m at the tier a gives it (a->n_layers must equal the model's), int4 groups with
 * the range search on. Shows progress on stderr when `progress` is set. First, every tensor the forward
 * pass reads in place (norm weights, biases, and the weights at the raw tier) is checked for NaN and
 * infinity, naming the file, the tensor and the element: one such value would make every result NaN (int8
 * and int4 packing refuse them on their own). The check costs one read of those bytes on all threads,
 * about what `cat` of the file takes: 2.5 to 3.4 s for Llama-3.2-1B's 2.47 GB of BF16 on the shared
 * 2-core development machine, where `cat` took 2.3 s (data/results/finite_check.txt). */
int ewq_pack(ewq_packed *p, const ewq_model *m, const ewq_assignment *a, int group, int progress, ewq_err *err);
size_t ewq_packed_bytes(const ewq_packed *p);   /* ewq_weight_bytes of embed, blocks, lm_head (once if shared) */
void ewq_packed_free(ewq_packed *p);

/* ---------------------------------------------------------------------------------------------------
 * Backend interface: what runs a packed model. The CPU backend is in ewq.c, the CUDA one in ewq_cuda.cu.
 *
 * forward(b, tokens, n, pos, logits, all, err) runs tokens[0..n) at positions pos .. pos+n-1, attending
 * to the positions 0 .. pos-1 already in the KV cache from earlier calls (so pos = 0 starts a new
 * sequence; a call at pos overwrites whatever the cache held from pos on). n > 1 is a prefill (all n
 * positions in one pass), n = 1 a decode step. logits receives vocab floats per position for all n
 * positions when `all` is set ([n][vocab]), else only for the last one. Requires pos + n <= max_ctx and
 * every token in [0, vocab); returns 0, or -1 with err set. Activations are float32.
 * The model computed: embedding -> per block [RMSNorm -> q,k,v (+bias) -> (Qwen3: per-head
 * q/k RMSNorm) -> RoPE (rotate-half pairs i, i + head_dim/2; llama3 frequency scaling as transformers
 * computes inv_freq) -> causal grouped-query attention (query head h reads KV head h / (heads/kv_heads))
 * -> o_proj -> residual -> RMSNorm -> down(SiLU(gate) * up) -> residual] -> RMSNorm -> lm_head.
 * RMSNorm(x) = x / sqrt(mean(x^2) + eps) * weight.
 * next_token(b, tokens, n, pos, id, err) is forward without logits for the caller: *id gets the id greedy
 * decoding takes from the last position's logits (ewq_sample with no sampler: the lowest id among equal
 * maxima; where logit 0 is NaN, id 0, as its scan keeps it), chosen where the logits are, so the CUDA backend
 * copies two ints per token instead of vocab floats. It fails as ewq_check_logits does when a logit is not
 * finite. Greedy ewq_generate and ewq_bench use it.
 * score(b, tokens, n, pos, nll, err), where not NULL, is forward without logits for the caller as well: it runs
 * the same positions and writes nll[j] = -log softmax(logits of position pos + j)[tokens[j + 1]] for j in
 * [0, n - 1), in double as ewq_perplexity computes it from logits (max subtracted, sum of exponentials in
 * double); only the order of that sum may differ. So the CUDA backend copies n - 1 doubles per call instead of
 * n * vocab floats. It fails as ewq_check_logits does, at the first such position, when a logit of a scored
 * position is not finite. ewq_perplexity uses it when there is no reference model; the CPU backend has none
 * (its logits are in host memory already).
 * score_ref(b, tokens, n, pos, keep, nll, kl, agree, err), where not NULL, is score with a reference kept on the
 * backend, for one backend that runs several assignments in turn (ewq run: the raw one first in each chunk).
 * keep = 1: score, and keep these positions' logits as the reference (kl[j] = 0, agree[j] = 1). keep = 0: score,
 * and also kl[j] = KL(reference || these) = sum_i p_i (log p_i - log q_i) over the vocabulary, p and q the
 * softmax of the reference's and these logits at position pos + j, in double as ewq_perplexity computes it
 * from logits (only the order of the sums may differ), and agree[j] = 1 when both have their largest logit at
 * the same lowest id, else 0; the reference must be of the same positions (n and pos), else it fails. The CUDA
 * backend has it when made with room for a reference (ewq_cuda_init_tiers).
 */
typedef struct ewq_backend {
    const char *name;          /* "cpu", "cuda" */
    const ewq_packed *packed;
    int max_ctx;
    void *state;               /* the backend's own: KV cache, scratch, device copies */
    int (*forward)(struct ewq_backend *b, const int *tokens, int n, int pos, float *logits, int all, ewq_err *err);
    int (*next_token)(struct ewq_backend *b, const int *tokens, int n, int pos, int *id, ewq_err *err);
    int (*score)(struct ewq_backend *b, const int *tokens, int n, int pos, double *nll, ewq_err *err);
    int (*score_ref)(struct ewq_backend *b, const int *tokens, int n, int pos, int keep, double *nll, double *kl,
                     int *agree, ewq_err *err);
    void (*free)(struct ewq_backend *b);
} ewq_backend;

/* The CPU backend copies no weights: it reads them through p on every forward call, so a caller may point
 * p->linear at other packed blocks of the same shapes between calls (ewq run tries every variant on one
 * backend this way). */
int ewq_cpu_init(ewq_backend *b, const ewq_packed *p, int max_ctx, ewq_err *err);
/* The CPU backend's matrix kernels in use: "AVX-512+VNNI+FMA+F16C" where the CPU has AVX-512 (F, BW, DQ,
 * VL, VNNI), else "AVX2+AVX-VNNI+FMA+F16C" where it has AVX-VNNI (int4 decode by its integer dot products),
 * else "AVX2+FMA+F16C" where it has those, else "plain C" (EWQ_CPU=avxvnni, avx2 or plain in the
 * environment caps the choice at that level). */
const char *ewq_cpu_kernels(void);
/* One decode product, out[r] = W[r] . x for every row of w, by the kernels in use, on the calling thread:
 * what the forward pass runs for each linear of one token, for tests of the kernels against exact math. */
void ewq_cpu_matvec(const ewq_qmat *w, const float *x, float *out);
/* The checks every backend's forward makes first: 0 < n, 0 <= pos, pos + n <= max_ctx, every token in
 * [0, vocab). Returns 0, or -1 with err naming the model folder. */
int ewq_forward_check(const ewq_backend *b, const int *tokens, int n, int pos, ewq_err *err);
/* Logits that overflowed (weights finite but huge) must not become a token or a perplexity: returns 0 when
 * logits[0..vocab) of position pos are all finite, else -1 with err naming the model folder, the position,
 * and the first id whose logit is not. */
int ewq_check_logits(const ewq_backend *b, const float *logits, int pos, ewq_err *err);

/* RoPE as both backends apply it: inv_freq[i] = 1 / theta^(2i / head_dim) in float32 (then llama3's
 * per-band scaling, as transformers computes it), angle = (float)pos * inv_freq[i] (a float32 product),
 * cos_t[pos][i] = cos(angle), sin_t[pos][i] = sin(angle), each [n_pos][head_dim / 2]. */
void ewq_rope_tables(const ewq_config *c, int n_pos, float *cos_t, float *sin_t);

/* ---------------------------------------------------------------------------------------------------
 * GPU backend (ewq_cuda.cu; a CPU-only build has a stand-in that says so).
 */
/* Writes a one-line description of the CUDA device ewq would use, or why there is none; 0 if usable. */
int ewq_cuda_describe(char *buf, size_t n);
/* The CUDA backend: the model above on device 0, every weight in its packed format, float32
 * activations and KV cache. All device memory is allocated here (none during forward); it fails with
 * one line: "cuda: no usable GPU (...)", "cuda: the model needs N bytes of device memory (...), but
 * only M of T are free", or the CUDA call that failed. A CPU-only build fails with "built without CUDA". */
int ewq_cuda_init(ewq_backend *b, const ewq_packed *p, int max_ctx, ewq_err *err);
/* The same for several assignments of one model in turn (ewq run): the device also holds the block linears
 * of alts[0..n_alts), packed from p's model (other tiers, say), each distinct matrix once (a copy of an
 * ewq_qmat names the same matrix: the same host arrays). Like the CPU backend, it reads p->linear at every
 * call, so between calls a caller may point p->linear[i] at linear i of p or of any alternative, and the
 * next call runs those; one that the device does not hold fails the call with one line. The embedding,
 * lm_head, norms and biases stay p's. With ref_rows > 0 (below max_ctx) it has score_ref, and room on the
 * device for the logits of that many positions as its reference (ref_rows * vocab floats; a score_ref call
 * keeps n - 1). ewq_cuda_init is this with no alternatives and no reference. */
int ewq_cuda_init_tiers(ewq_backend *b, const ewq_packed *p, const ewq_packed *alts, int n_alts, int max_ctx,
                        int ref_rows, ewq_err *err);
/* Device memory of a CUDA backend: the bytes it allocated, and the bytes in use on the device now
 * (the runtime's and other processes' included). Since forward allocates nothing, in_use after a run
 * is the peak of that run. */
int ewq_cuda_memory(const ewq_backend *b, size_t *allocated, size_t *in_use, ewq_err *err);
/* Device copy bandwidth (bytes read + written per second, best of 10 copies of 512 MiB with 16-byte
 * loads and stores): what `ewq bench` compares decode bandwidth with. */
int ewq_cuda_copy_bandwidth(double *bytes_per_s, ewq_err *err);

/* ---------------------------------------------------------------------------------------------------
 * Evaluation.
 * A token file is decimal token ids separated by whitespace (spaces, tabs, newlines), each in
 * [0, vocab). Perplexity follows llama.cpp's llama-perplexity: the ids are cut into n / ctx chunks of
 * ctx (the rest dropped); each chunk's first id is replaced by the model's BOS (when it has one); the
 * logits at positions ctx/2 .. ctx-2 are scored against the next id (ctx/2 - 1 per chunk). PPL =
 * exp(mean NLL); its standard error is PPL * sqrt(var(NLL) / (count - 1)), var the population
 * variance. With a reference backend: the mean KL divergence KL(ref || model) over the same positions
 * (natural log), its standard error likewise, and the share of positions whose top-1 ids agree.
 */
#define EWQ_MAX_CTX (1 << 20)            /* positions one command may ask for (--ctx, -p, -n) */

int ewq_read_tokens(const char *path, int vocab, int **ids, long *n, ewq_err *err);

typedef struct ewq_ppl_result {
    int ctx, chunks;
    long scored;
    double ppl, ppl_stderr;
    int has_ref;
    double kl, kl_stderr, top1_agree;
    double kl_median, kl_p99;  /* percentiles of the per-position KL, interpolated linearly as llama-perplexity */
} ewq_ppl_result;

/* Spearman's rank correlation of x and y (n values each; ties get the mean of their ranks): the Pearson
 * correlation of the ranks, and its two-sided p-value by the t distribution with n - 2 degrees of freedom,
 * t = rho * sqrt((n - 2) / (1 - rho^2)), p = I_(df / (df + t^2))(df / 2, 1 / 2) (the regularized incomplete
 * beta function), as scipy.stats.spearmanr. NaN when undefined (n < 3 for p, or a constant input). */
void ewq_spearman(const double *x, const double *y, int n, double *rho, double *p);

/* ref may be NULL. Shows progress on stderr when `progress` is set. */
int ewq_perplexity(ewq_backend *b, ewq_backend *ref, const int *tokens, long n, int ctx, int progress,
                   ewq_ppl_result *r, ewq_err *err);

/* Choosing the next token from logits (ewq generate --temp, --top-k, --top-p, --min-p, --seed).
 * Temperature 0 is greedy decoding: the argmax (the lowest id among equal maxima), no random number
 * drawn. Otherwise the filters run in llama.cpp's order, so that they see the model's own
 * probabilities and the temperature only reshapes what they kept:
 *   1. candidates: every id, by logit from the highest (equal logits: the lower id first);
 *   2. top-k: the first k candidates (k = 0: all);
 *   3. p_i = softmax of the candidates' logits (in double);
 *   4. top-p: the shortest prefix whose p_i sum to >= top_p (1: all);
 *   5. min-p: the candidates with p_i >= min_p * p_max (0: all; the first is always kept);
 *   6. temperature: q_i = exp((logit_i - logit_max) / temp) over what is left;
 *   7. draw: u = the next random number times sum(q); the first candidate whose running sum of q_i
 *      exceeds u (the last one if rounding leaves none).
 * Random numbers: xorshift64* (Vigna, 2016), one per sampled token: the state x (never 0) steps
 * x ^= x >> 12, x ^= x << 25, x ^= x >> 27, and the number is ((x * 0x2545F4914F6CDD1D) >> 11) / 2^53, in
 * [0, 1). The state starts as splitmix64(seed) (1 if that is 0): splitmix64(z) = z += 0x9E3779B97F4A7C15,
 * z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9, z = (z ^ z >> 27) * 0x94D049BB133111EB, z ^ z >> 31. So a seed
 * gives the same ids whenever the logits are the same: on every run and, for the CPU backend, on every
 * thread count (its sums do not depend on how work is split). */
typedef struct ewq_sampler {
    double temp;               /* 0: greedy */
    int top_k;                 /* 0: off */
    double top_p, min_p;       /* 1 and 0: off */
    uint64_t rng;              /* the xorshift64* state */
} ewq_sampler;
void ewq_sampler_init(ewq_sampler *s, double temp, int top_k, double top_p, double min_p, uint64_t seed);
double ewq_random(uint64_t *state);                          /* the next number in [0, 1) */
int ewq_sample(ewq_sampler *s, const float *logits, int n);  /* s NULL: greedy */

/* Generation: the prompt at position 0, then up to n_new ids chosen by s (NULL: greedy) into out,
 * on_token(ctx, id) called with each as soon as it is chosen (when not NULL), stopping after an EOS id
 * when stop_at_eos is set; *n_out is how many were written. seconds (may be NULL) gets the time of the
 * prompt's forward pass and the time from then to the last id. Needs max_ctx >= n_prompt + n_new - 1. */
int ewq_generate(ewq_backend *b, const int *prompt, int n_prompt, int n_new, int stop_at_eos, ewq_sampler *s,
                 void (*on_token)(void *ctx, int id), void *ctx, int *out, int *n_out, double seconds[2],
                 ewq_err *err);
/* ewq_generate, greedy, without a callback. */
int ewq_greedy(ewq_backend *b, const int *prompt, int n_prompt, int n_new, int stop_at_eos, int *out, int *n_out,
               ewq_err *err);

/* Throughput as llama-bench measures it: after one warm-up, `reps` times: a prompt of p ids from
 * position 0 in next_token calls of at most EWQ_UBATCH ids (pp, tokens/s), then n one-token next_token
 * calls at positions 0..n-1 (tg, tokens/s: greedy decoding's steps); median, min and max over the reps.
 * Needs max_ctx >= max(p, n).
 * Progress (on a terminal) counts positions, so even one very long prompt shows it moving. */
#define EWQ_UBATCH 512   /* llama-bench's default micro-batch: the same slices, bounded activation memory */
typedef struct ewq_bench_result {
    int p, n, reps;
    double pp, pp_min, pp_max;
    double tg, tg_min, tg_max;
} ewq_bench_result;
int ewq_bench(ewq_backend *b, int p, int n, int reps, int progress, ewq_bench_result *r, ewq_err *err);
size_t ewq_decode_bytes(const ewq_packed *p);     /* weight bytes one decode step reads */
double ewq_host_copy_bandwidth(void);             /* bytes/s, read + written, all threads */

/* ---------------------------------------------------------------------------------------------------
 * Tokenizer: a Hugging Face tokenizer.json, encoding to exactly the ids of the `tokenizers` library.
 *
 * Two kinds are recognised from the file's normalizer and pre_tokenizer (anything else is refused):
 *   EWQ_TOK_BYTE_LEVEL: normalizer null or NFC, and a pre_tokenizer that is either
 *     - (Llama-3, Qwen2/2.5/3) a Sequence of Split(Regex P, Isolated) and ByteLevel(use_regex false), P
 *       being one of the two patterns
 *       (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *       (Llama-3) or the same with \p{N} in place of \p{N}{1,3} (Qwen); or
 *     - (GPT-2, SmolLM2, StarCoder) ByteLevel(use_regex true), which splits by GPT-2's pattern
 *       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *       alone, or in a Sequence after Digits(individual_digits true or false).
 *     ByteLevel's add_prefix_space must be false.
 *   EWQ_TOK_SENTENCEPIECE (Llama-2, Mistral, stories260K, as transformers converts SentencePiece models):
 *     in legacy mode normalizer Sequence[Prepend "▁", Replace " " -> "▁"] and no pre_tokenizer; else no
 *     normalizer and pre_tokenizer Metaspace(replacement "▁", split false, prepend_scheme "always",
 *     "first" or "never"); a BPE model, usually with byte_fallback.
 * The model must be BPE (no dropout, no subword prefix/suffix). Added tokens must have lstrip, rstrip,
 * single_word and normalized all false (as in every file ewq knows of).
 *
 * Encoding a text (bytes), step by step:
 *  1. Invalid UTF-8 becomes U+FFFD, one per maximal ill-formed subpart (Unicode §3.9, as Python's
 *     bytes.decode("utf-8", "replace")), since the `tokenizers` library only accepts valid strings.
 *  2. Added tokens (special or not) are cut out first: scanning left to right, at the first position
 *     where any added token's content matches, the longest one is taken (leftmost-longest). The text
 *     between them is a segment; each non-empty segment goes through steps 3-5 on its own.
 *  3. Normalizer. NFC (Qwen): canonical decomposition (Hangul algorithmically), canonical ordering
 *     (stable by combining class), canonical composition of primary composites. SentencePiece: every
 *     space becomes "▁" (U+2581), and "▁" is prepended: legacy, always; Metaspace "always", unless the
 *     segment starts with a space or "▁"; "first", the same but only for a segment that starts the text
 *     (no added token before it); "never", not.
 *  4. Pre-tokenizer (byte-level only), the split pattern written by hand. At each position the
 *     alternatives are tried in order and the first that matches is the piece (leftmost-first, as
 *     Oniguruma does); every character is covered by some alternative, so pieces tile the segment. P:
 *       a. an apostrophe and, case-insensitively, s t re ve m ll d ("ſ" U+017F folds to s)
 *       b. one optional character that is not CR, LF, a letter or a number, then a run of letters
 *       c. a run of 1 to 3 numbers (Llama-3), or exactly one number (Qwen)
 *       d. an optional space, a run of characters that are neither whitespace, letters nor numbers,
 *          then any CR/LF run
 *       e. whitespace up to and including the last CR or LF of the whitespace run (when it has one)
 *       f. a whitespace run, less its last character when a non-whitespace character follows, if that
 *          leaves at least one character
 *       g. a whitespace run
 *     GPT-2's pattern, in the same way:
 *       A. an apostrophe and s t re ve m ll d (case-sensitive)
 *       B. an optional space (U+0020), then a run of letters
 *       C. an optional space, then a run of numbers
 *       D. an optional space, then a run of characters that are neither whitespace, letters nor numbers
 *       E. f or g above
 *     With Digits before it, the segment is first cut into parts, numbers and runs of other characters
 *     (each number alone with individual_digits, else runs of numbers), and the pattern applies to each
 *     part on its own (so "(?!\S)" sees the end of the part).
 *     Letters are general category L*, numbers N*, whitespace the White_Space property: Unicode tables
 *     generated from the UCD (data/unicode_tables.h, see its UNI_VERSION).
 *  5. Model (BPE). Byte level: each UTF-8 byte of the piece is one initial symbol, the token of its
 *     byte-to-unicode character (GPT-2's map: bytes 33-126, 161-172, 174-255 are the characters with
 *     those code points; the other 68 bytes, in increasing order, are U+0100, U+0101, ...). With
 *     ignore_merges (Llama-3), a piece that is itself in the vocabulary is that one token.
 *     SentencePiece: the whole normalized segment is one word (merged "▁"-word by "▁"-word when no
 *     token contains "▁" after another character, which gives the same ids); each character is an
 *     initial symbol; a character not in the vocabulary becomes its UTF-8 bytes as <0xNN> tokens (byte
 *     fallback), else the unk token (consecutive ones fused into one with fuse_unk), else it is dropped.
 *     Merging: repeatedly the adjacent pair with the lowest merge rank (its index in model.merges) is
 *     replaced by its merged token, the leftmost occurrence first; a min-heap keyed by (rank, position)
 *     over a linked list of symbols makes this O(n log n) in the word length.
 *  6. With add_bos, bos_id goes first.
 * bos_id and add_bos come from the post_processor (TemplateProcessing whose "single" template starts
 * with a special token) or tokenizer_config.json (bos_token, add_bos_token); eos_id and pad_id from
 * tokenizer_config.json's eos_token and pad_token.
 *
 * Decoding is per token and streaming-safe: ewq_decode gives the bytes of one token, and concatenating
 * them reproduces the text (a multi-byte character split over several tokens is completed by the
 * later ones). Byte level: every character of the token mapped back through the byte-to-unicode map.
 * SentencePiece: "▁" is a space, <0xNN> is the byte NN, and one leading space is dropped from the first
 * token of the text (prev_id -1) unless prepend_scheme is "never", and, for legacy and "always", from
 * the first token after an added token, where the encoder prepended one. (So the legacy files decode
 * back to the text exactly; Metaspace files lose a leading space the text itself had, as the
 * `tokenizers` decoder does, which also drops every "▁" of the first token.) Added tokens decode to
 * their content.
 */
enum { EWQ_TOK_BYTE_LEVEL, EWQ_TOK_SENTENCEPIECE };
enum { EWQ_PATTERN_LLAMA3, EWQ_PATTERN_QWEN, EWQ_PATTERN_GPT2 };               /* byte-level split */
enum { EWQ_DIGITS_NONE, EWQ_DIGITS_EACH, EWQ_DIGITS_RUNS };                     /* Digits pre-tokenizer */
enum { EWQ_PREPEND_LEGACY, EWQ_PREPEND_ALWAYS, EWQ_PREPEND_FIRST, EWQ_PREPEND_NEVER };   /* SentencePiece "▁" */

typedef struct ewq_tok_tables ewq_tok_tables;   /* the encoder's lookup tables, private to ewq.c */

typedef struct ewq_tokenizer {
    char *path;                /* the tokenizer.json read */
    int kind;                  /* EWQ_TOK_BYTE_LEVEL or EWQ_TOK_SENTENCEPIECE */
    int n_vocab;               /* ids are 0 .. n_vocab-1: the model vocabulary and the added tokens */
    int bos_id, eos_id, pad_id;   /* -1 when none */
    int add_bos;               /* the files ask for BOS at the start of a text */
    int pattern;               /* byte level: EWQ_PATTERN_*, the split pattern */
    int digits;                /* byte level: EWQ_DIGITS_*, a Digits pre-tokenizer before the pattern */
    int nfc, ignore_merges, byte_fallback, unk_id, fuse_unk;
    int split_words;           /* SentencePiece: no token has "▁" after another character (see ewq.c) */
    int prepend;               /* SentencePiece: EWQ_PREPEND_*, when "▁" is prepended to a segment */
    ewq_tok_tables *tab;
} ewq_tokenizer;

#define EWQ_MAX_TOKENIZER (256u << 20)        /* tokenizer.json: 256 MB */
#define EWQ_MAX_TOKENIZER_CONFIG (64u << 20)  /* tokenizer_config.json */
#define EWQ_MAX_CHAT_TEMPLATE (1u << 20)      /* chat_template.jinja */

/* Loads PATH: a folder with tokenizer.json, or a tokenizer.json file; tokenizer_config.json next to it
 * is read when present. A model folder works as it is. */
int ewq_tokenizer_load(ewq_tokenizer *t, const char *path, ewq_err *err);
void ewq_tokenizer_free(ewq_tokenizer *t);
/* Encodes text[0..len) (steps 1-6 above). Returns the number of ids, *ids is malloc'ed (caller frees). */
size_t ewq_encode(const ewq_tokenizer *t, const char *text, size_t len, int add_bos, int **ids);
/* The bytes of token id as text, given the token before it (-1 at the start); *len is set. Never fails:
 * an id outside the vocabulary gives "". The pointer stays valid until ewq_tokenizer_free. */
const char *ewq_decode(const ewq_tokenizer *t, int prev_id, int id, size_t *len);
/* The string of token id as tokenizer.json writes it ("Ġthe", "▁the", "<0x0A>"); "" outside the vocabulary. */
const char *ewq_token_text(const ewq_tokenizer *t, int id, size_t *len);

/* Chat templates (ewq generate --chat). ewq does not run Jinja: it recognises two common forms in the
 * tokenizer's chat template (chat_template.jinja next to tokenizer.json, else tokenizer_config.json's
 * "chat_template", or its entry named "default" when that is a list) and writes one user message the way
 * the template does with add_generation_prompt:
 *   ChatML (has <|im_start|> and <|im_end|>): [<|im_start|>system\nSYSTEM<|im_end|>\n]
 *       <|im_start|>user\nMESSAGE<|im_end|>\n<|im_start|>assistant\n
 *     where SYSTEM is the system message the template writes by itself when the conversation has none: the
 *     literal text after "<|im_start|>system" and a newline up to "<|im_end|>" (SmolLM2, Qwen2.5), absent
 *     when no such literal exists (Qwen3).
 *   Llama-3 (has <|start_header_id|>, <|end_header_id|>, <|eot_id|>, and no system header of its own):
 *       [BOS]<|start_header_id|>user<|end_header_id|>\n\nMESSAGE<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n
 *     with BOS's text when the template writes bos_token, MESSAGE stripped of surrounding whitespace when it
 *     applies "| trim".
 * Anything else, Llama-3.1's template (it writes a system header with dates) included, is refused with one
 * line naming the template's file. The text is encoded without adding BOS: the special tokens in it are cut
 * out as added tokens (step 2 above), as transformers' apply_chat_template does. */
enum { EWQ_CHAT_CHATML = 1, EWQ_CHAT_LLAMA3 };
typedef struct ewq_chat {
    int kind;                  /* EWQ_CHAT_* */
    char *system;              /* ChatML: the template's own system message, or NULL */
    char *bos;                 /* Llama-3: what goes first ("" or BOS's text) */
    int trim;                  /* Llama-3: the message is stripped */
} ewq_chat;
/* Recognises the template text tmpl (bos: the BOS token's text, or NULL; path: named in errors). */
int ewq_chat_detect(ewq_chat *c, const char *tmpl, const char *bos, const char *path, ewq_err *err);
/* Finds and recognises the chat template of a loaded tokenizer. */
int ewq_chat_load(ewq_chat *c, const ewq_tokenizer *t, ewq_err *err);
char *ewq_chat_render(const ewq_chat *c, const char *message);   /* malloc'ed, NUL-terminated */
void ewq_chat_free(ewq_chat *c);

/* ---------------------------------------------------------------------------------------------------
 * Export: a packed model as a GGUF file (version 3, llama.cpp's format), so that llama.cpp runs the
 * model ewq measured, value for value.
 *
 * Layout (integers little-endian; a string is a u64 byte count and the UTF-8 bytes, no NUL):
 *   "GGUF" | u32 version = 3 | u64 tensor count | u64 key/value count
 *   key/values: string key | u32 value type | value. Types used: 4 u32, 5 i32, 6 f32, 7 bool (one byte,
 *     0 or 1), 8 string, 9 array (u32 element type | u64 count | the elements)
 *   tensor infos: string name | u32 n_dims | u64 ne[0] .. ne[n_dims - 1] | u32 ggml type | u64 offset.
 *     ne[0] is the contiguous dimension (a matrix [rows, cols] has ne = cols, rows); the offset counts
 *     from the start of the data section and is a multiple of 32
 *   zero bytes up to a multiple of 32 (GGUF's default alignment; general.alignment is not written)
 *   data section: each tensor's bytes at its offset, then zero bytes up to a multiple of 32.
 *
 * Key/values, in this order; {a} is the architecture: "llama" (Llama, Mistral), "qwen2" or "qwen3".
 *   general.architecture                       string {a}
 *   {a}.context_length                         u32 max_position_embeddings (required: refused without)
 *   {a}.embedding_length, {a}.block_count, {a}.feed_forward_length, {a}.attention.head_count,
 *   {a}.attention.head_count_kv                u32 hidden, layers, intermediate, heads, KV heads
 *   {a}.attention.key_length, {a}.attention.value_length, {a}.rope.dimension_count   u32 head_dim
 *   {a}.rope.freq_base                         f32 rope_theta
 *   {a}.attention.layer_norm_rms_epsilon       f32 rms_norm_eps
 *   {a}.vocab_size                             u32 vocab_size
 *   tokenizer.ggml.model                       string "llama" (SentencePiece) or "gpt2" (byte level)
 *   tokenizer.ggml.pre                         string, byte level only, llama.cpp's name for the split:
 *                                              "llama-bpe" (Llama-3's pattern), "qwen2" (Qwen's), "gpt-2"
 *                                              (GPT-2's), "smollm" (Digits with individual_digits, then
 *                                              GPT-2's); Digits with runs of numbers has no name: refused
 *   tokenizer.ggml.tokens                      [string] vocab_size entries: each id's string as
 *                                              tokenizer.json writes it (an added token: its content);
 *                                              ids without a token are "[PADn]", n the id
 *   tokenizer.ggml.token_type                  [i32] vocab_size entries: 1 normal, 2 unknown (the unk
 *                                              token, SentencePiece), 3 control (added, special), 4 user
 *                                              defined (added, not special), 5 unused (no token),
 *                                              6 byte (<0xNN> with byte fallback, SentencePiece)
 *   tokenizer.ggml.scores                      [f32] SentencePiece only: minus the rank of the first
 *                                              merge that yields the token, 0 when none does (llama.cpp
 *                                              merges the highest score first where BPE merges the
 *                                              lowest rank, so the order is the same)
 *   tokenizer.ggml.merges                      [string] byte level only: "left right", in rank order
 *   tokenizer.ggml.bos_token_id, .eos_token_id, .unknown_token_id, .padding_token_id   u32, each only when
 *                                              known (BOS and EOS from the tokenizer, else config.json)
 *   tokenizer.ggml.add_bos_token               bool
 *   tokenizer.ggml.add_space_prefix            bool, SentencePiece only: prepend scheme not "never"
 *
 * Tensors, in this order (llama.cpp's names; N = block index):
 *   token_embd.weight
 *   rope_freqs.weight          llama3 RoPE scaling only: F32 [head_dim / 2], the factor llama.cpp divides
 *                              each frequency by (ewq's unscaled inv_freq over its scaled one)
 *   per block: blk.N.attn_norm.weight, blk.N.attn_q.weight (+ blk.N.attn_q.bias, Qwen2),
 *     blk.N.attn_k.weight (+ .bias), Qwen3: blk.N.attn_q_norm.weight and blk.N.attn_k_norm.weight,
 *     blk.N.attn_v.weight (+ .bias), blk.N.attn_output.weight, blk.N.ffn_gate.weight,
 *     blk.N.ffn_up.weight, blk.N.ffn_down.weight, blk.N.ffn_norm.weight
 *   output_norm.weight
 *   output.weight              omitted when lm_head shares the embedding's packed copy (llama.cpp then
 *                              reads token_embd)
 * Vectors (norms, biases, rope_freqs) are F32 (type 0) with one dimension. A matrix is written per its
 * tier:
 *   raw   the checkpoint's dtype: F32 (0), F16 (1) or BF16 (30), its bytes unchanged
 *   int8  Q8_0 (8): per 32 values of a row, fp16 d then 32 int8 qs; value j = d * qs[j]. d is the scale
 *         of the ewq group that holds those columns, qs are ewq's codes
 *   int4  Q4_1 (3): per 32 values of a row, fp16 d, fp16 m, 16 bytes qs; value j (0..15) =
 *         d * (qs[j] & 15) + m and value j + 16 = d * (qs[j] >> 4) + m. d and m are the ewq group's scale
 *         and minimum, the nibbles ewq's codes regrouped (ewq pairs columns 2i, 2i+1 in a byte)
 * so every value llama.cpp reads is the value ewq computes with. That needs a group size and a row width
 * that are multiples of 32 (no block of 32 spans two groups): a quantized weight where they are not is
 * written raw instead, and a note on `notes` names it.
 * Llama and Mistral: q_proj and k_proj rows are reordered within each head to llama.cpp's RoPE on
 * adjacent pairs (the permutation its converter applies): GGUF row 2j + k of a head is HF row
 * k * head_dim/2 + j. llama.cpp runs Qwen2 and Qwen3 with rotate-half RoPE: rows unchanged.
 * Refused, with one line: a tokenizer with more ids than vocab_size, no max_position_embeddings, a
 * byte-level token that holds a space (its merges could not be written), a split llama.cpp lacks.
 */
/* Writes the GGUF of p, with t's vocabulary, to f (the caller owns f and makes the write atomic). Notes
 * go to `notes` (may be NULL). Returns 0, or -1 with err set before anything is written. */
int ewq_gguf_write(FILE *f, const ewq_packed *p, const ewq_tokenizer *t, FILE *notes, ewq_err *err);
/* 1 when m (int8 or int4) converts exactly: columns and group size multiples of 32. */
int ewq_gguf_convertible(const ewq_qmat *m);
/* Row r of a convertible m as GGUF blocks: cols/32 Q8_0 (34 bytes each) or Q4_1 (20 bytes each). */
void ewq_gguf_row(const ewq_qmat *m, int r, uint8_t *out);

/* ---------------------------------------------------------------------------------------------------
 * Export as a compressed-tensors folder (`ewq export --compressed-tensors DIR`): the Hugging Face layout
 * that transformers (with the compressed-tensors package) and vLLM load, in compressed-tensors'
 * "pack-quantized" format. DIR holds:
 *   model.safetensors  every tensor of the checkpoint with its name, dtype, shape and bytes, except that
 *     each int8 block linear PREFIX.weight (rows x cols, groups of G) becomes three tensors:
 *       PREFIX.weight_packed  I32 [rows, ceil(cols/4)]: four 8-bit values to a little-endian int32, so
 *                             byte c of a row's words is column c's code q as q + 128 (0 past cols)
 *       PREFIX.weight_scale   F32 [rows, cols/G]: ewq's fp16 scales, widened exactly
 *       PREFIX.weight_shape   I64 [2]: rows, cols
 *     so that compressed-tensors' dequantization, (byte - 128) * scale in float32, is ewq's value bit for
 *     bit. Tensors in the safetensors package's order (by dtype: I64, F32, I32, BF16, F16; then by name),
 *     after the header {"__metadata__":{"format":"pt"},"NAME":{"dtype":..,"shape":[..],"data_offsets":
 *     [begin,end]},...} (serde_json's escapes) padded with spaces to a multiple of 8 bytes.
 *   config.json  MODEL's, with "quantization_config" added as its last member when a weight is int8:
 *     what compressed-tensors' QuantizationConfig.model_dump() holds (format "pack-quantized", status
 *     "compressed", ignore ["lm_head"]) for one config group "group_0" whose targets are the int8 linears'
 *     module names (in the order of their weight_shape tensors) and whose weights are {num_bits 8, type
 *     int, symmetric, group_size G, strategy group, dynamic false}, written as json.dumps(indent=2) nests
 *     it. Layers in no group stay in the checkpoint's dtype.
 *   the tokenizer and generation files of MODEL that exist (tokenizer.json, tokenizer_config.json,
 *     special_tokens_map.json, tokenizer.model, vocab.json, merges.txt, added_tokens.json,
 *     chat_template.jinja, generation_config.json), copied.
 * Only int8 maps exactly. compressed-tensors' asymmetric int4 dequantizes (q - zero_point) * scale, and its
 * pack-quantized format (the one vLLM runs 4-bit weights from) packs zero points as 4-bit integers, which
 * cannot hold ewq's fp16 minimum (a float zero point needs naive-quantized, a byte per code, which vLLM does
 * not run): int4 weights are written raw (the checkpoint's tensor), as are int8 weights whose width is not a
 * multiple of G and a quantized embedding or lm_head, each with a note on `notes` naming it.
 * Refused: a config.json that has a quantization_config already. */
struct ewq_outdir;   /* the atomic output folder, below */
int ewq_ct_write(struct ewq_outdir *d, const ewq_packed *p, FILE *notes, ewq_err *err);

/* ---------------------------------------------------------------------------------------------------
 * Infrastructure shared by the sections of ewq.c: atomic output files and the thread pool.
 */
/* Atomic output: write to "PATH.tmp.PID", then rename over PATH, so PATH is complete or absent (or keeps its
 * previous content), even when ewq is killed. SIGINT, SIGTERM and SIGHUP remove the temporary file on the
 * way out; only SIGKILL (or a crash of the machine) leaves "PATH.tmp.PID" behind.
 * A PATH that exists and is not a regular file (a character device such as /dev/null or a terminal, a
 * FIFO), or that is standard output under another name (/dev/stdout, /proc/self/fd/1), is written in
 * place instead (tmp is NULL): renaming over it would replace the device with a regular file. Commit
 * reports every write error (a full disk, /dev/full) as "PATH: write failed: reason". */
typedef struct ewq_outfile { FILE *f; char *path, *tmp; } ewq_outfile;
int ewq_out_open(ewq_outfile *o, const char *path, ewq_err *err);
int ewq_out_commit(ewq_outfile *o, ewq_err *err);   /* flush, fsync, close, rename */
void ewq_out_abort(ewq_outfile *o);                /* close and remove the temporary file */

/* Atomic output folder: open creates "DIR.tmp.PID", each file goes into it through ewq_outdir_file (then
 * ewq_out_commit or ewq_out_abort, as for any output), and commit renames the folder to DIR, so DIR is
 * complete or absent. Abort, a refusal that exits, SIGINT, SIGTERM and SIGHUP remove the folder and what
 * it holds. DIR must be absent or an empty folder (ewq never replaces a folder's content), unless earlier
 * lists (NULL-terminated) the names ewq writes there: then DIR may hold those names only, an earlier output
 * of the same kind, which commit replaces (moved aside to "DIR.old.PID", then removed). */
#define EWQ_OUTDIR_FILES 12
typedef struct ewq_outdir {
    char *path, *tmp, *files[EWQ_OUTDIR_FILES];
    const char *const *earlier;
    int n;
} ewq_outdir;
int ewq_outdir_open(ewq_outdir *d, const char *path, const char *const *earlier, ewq_err *err);
int ewq_outdir_file(ewq_outdir *d, ewq_outfile *o, const char *name, ewq_err *err);
int ewq_outdir_commit(ewq_outdir *d, ewq_err *err);
void ewq_outdir_abort(ewq_outdir *d);

/* Progress of long work on stderr. Only when stderr is a terminal (never into a log or a pipe), at most
 * ten times a second, one line rewritten in place: "WHAT: DONE/TOTAL UNIT, RATE UNIT/s, ETA S s, NOTE".
 * ewq_progress_end clears that line and, whether stderr is a terminal or not, prints the plain summary
 * "WHAT: DONE UNIT in S s (RATE UNIT/s), NOTE". With show = 0 nothing at all is printed. */
typedef struct ewq_progress {
    const char *what, *unit;
    double total, t0, shown;   /* shown: when the line was last written, -1 before */
    int show, tty;
} ewq_progress;
void ewq_progress_start(ewq_progress *p, const char *what, const char *unit, double total, int show);
void ewq_progress_update(ewq_progress *p, double done, const char *note);   /* note may be NULL */
void ewq_progress_end(ewq_progress *p, double done, const char *note);

/* A persistent pool of worker threads: ewq_parallel(n, fn, ctx) calls fn(ctx, i) for i in [0, n) on
 * all threads and returns when every call has finished. Calls must not nest. At most EWQ_MAX_THREADS
 * threads (--threads past it is a usage error; one per core is clamped to it): each reserves a stack and
 * per-thread scratch, and more threads than cores only slow the work down (ppl on llama2-f32 with
 * --threads 1024 on 2 cores: 69 s, against 0.12 s on 2 threads). */
#define EWQ_MAX_THREADS 256
void ewq_threads_init(int n_threads);               /* 0: one per core */
int ewq_threads(void);
void ewq_parallel(int n, void (*fn)(void *ctx, int i), void *ctx);
int ewq_worker(void);   /* inside fn: the thread running it, in [0, ewq_threads()), for per-thread scratch */

/* ---------------------------------------------------------------------------------------------------
 * Machine-readable output: every command's --json (and run's report.json). The same quantity has the same
 * name in every command; units are in the name (_bytes, _mib, _tok_s for tokens per second,
 * _gb_s for 10^9 bytes per second) or given below. Numbers carry the digits they have: computed values the
 * shortest decimal that reads back as the same double, measured rates 4 significant digits.
 * tests/test_json_schema.c reads the table below and checks every command's output against it: each
 * member ewq writes is listed for its command with its type, and each member not marked "?" is written
 * whenever the object holding it is. Types: string, integer, number, boolean, null, object, array,
 * tier ("raw", "int8" or "int4"), A|B (either), and @NAME, an object whose members are the lines of @NAME.
 * PATH is the member's name inside its parents, "[]" standing for the elements of an array.
 *
 * json-schema
 *   @tiers    raw                       integer      count (blocks, linears or tensors) at raw
 *   @tiers    int8                      integer      ... at int8
 *   @tiers    int4                      integer      ... at int4
 *   @weights  plan                      string|null  the plan file given, or null
 *   @weights  linears_per_tier          @tiers       block linear weights per tier
 *   @weights  embed                     tier         the embedding's tier
 *   @weights  lm_head                   tier         lm_head's tier
 *   inspect   model                     string       the model folder as given
 *   inspect   config                    object       config.json as ewq reads it, Hugging Face's names
 *   inspect   config.architecture       string
 *   inspect   config.hidden_size        integer
 *   inspect   config.num_hidden_layers  integer
 *   inspect   config.num_attention_heads integer
 *   inspect   config.num_key_value_heads integer
 *   inspect   config.head_dim           integer
 *   inspect   config.intermediate_size  integer
 *   inspect   config.vocab_size         integer
 *   inspect   config.max_position_embeddings integer  0 when absent
 *   inspect   config.rms_norm_eps       number
 *   inspect   config.rope_theta         number
 *   inspect   config.rope_scaling       object|null  llama3 scaling, or null
 *   inspect   config.rope_scaling.rope_type string   "llama3"
 *   inspect   config.rope_scaling.factor number
 *   inspect   config.rope_scaling.low_freq_factor number
 *   inspect   config.rope_scaling.high_freq_factor number
 *   inspect   config.rope_scaling.original_max_position_embeddings integer
 *   inspect   config.tie_word_embeddings boolean
 *   inspect   config.sliding_window     integer      0 when none
 *   inspect   config.bos_token_id       integer|null
 *   inspect   config.eos_token_id       array
 *   inspect   config.eos_token_id[]     integer
 *   inspect   files                     array        the safetensors files
 *   inspect   files[]                   string
 *   inspect   tensors                   array        every tensor, by name
 *   inspect   tensors[]                 object
 *   inspect   tensors[].name            string
 *   inspect   tensors[].dtype           string       "F32", "F16" or "BF16"
 *   inspect   tensors[].shape           array
 *   inspect   tensors[].shape[]         integer
 *   inspect   tensors[].bytes           integer
 *   inspect   tensors[].file            string
 *   inspect   total                     object
 *   inspect   total.tensors             integer
 *   inspect   total.parameters          integer
 *   inspect   total.bytes               integer
 *   entropy   model                     string
 *   entropy   bins                      integer
 *   entropy   factor                    number       the rule's factor
 *   entropy   mean                      number       bits: mean block entropy
 *   entropy   std                       number       bits: population standard deviation
 *   entropy   threshold                 number       bits: mean - factor * std
 *   entropy   blocks                    array
 *   entropy   blocks[]                  object
 *   entropy   blocks[].index            integer
 *   entropy   blocks[].entropy          number       bits
 *   entropy   blocks[].parameters       integer      of its seven linear weights
 *   entropy   blocks[].share            number       of all block-linear parameters, 0 to 1
 *   entropy   blocks[].tier             tier         what the rule gives at factor
 *   entropy   tensors                   array
 *   entropy   tensors[]                 object
 *   entropy   tensors[].name            string
 *   entropy   tensors[].shape           array
 *   entropy   tensors[].shape[]         integer
 *   entropy   tensors[].parameters      integer
 *   entropy   tensors[].entropy         number       bits
 *   plan      format                    string       the plan file, described in "Plan file" above
 *   plan      version                   integer
 *   plan      model                     object
 *   plan      model.path                string
 *   plan      model.architecture        string
 *   plan      model.layers              integer
 *   plan      model.fingerprint         string
 *   plan      method                    object
 *   plan      method.granularity        string
 *   plan      method.bins               integer
 *   plan      method.weighting          string
 *   plan      method.factor             number
 *   plan      method.mean               number
 *   plan      method.std                number
 *   plan      method.threshold          number
 *   plan      method.group_size         integer
 *   plan      blocks                    array
 *   plan      blocks[]                  object
 *   plan      blocks[].index            integer
 *   plan      blocks[].entropy          number
 *   plan      blocks[].parameters       integer
 *   plan      blocks[].tier             tier?        block granularity
 *   plan      blocks[].tensors          array
 *   plan      blocks[].tensors[]        object
 *   plan      blocks[].tensors[].name   string
 *   plan      blocks[].tensors[].shape  array
 *   plan      blocks[].tensors[].shape[] integer
 *   plan      blocks[].tensors[].entropy number
 *   plan      blocks[].tensors[].tier   tier
 *   plan      outside_blocks            object
 *   plan      outside_blocks.embed_tokens tier
 *   plan      outside_blocks.lm_head    tier
 *   plan      summary                   object
 *   plan      summary.tensors_per_tier  @tiers
 *   plan      summary.blocks_per_tier   @tiers?      block granularity
 *   plan      summary.linear            @sizes       the block linears
 *   plan      summary.model             @sizes       every tensor
 *   @sizes    parameters                integer
 *   @sizes    raw_bytes                 integer
 *   @sizes    packed_bytes              integer
 *   @sizes    raw_bits_per_weight       number
 *   @sizes    packed_bits_per_weight    number
 *   tokenize  tokenizer                 string       the tokenizer.json read
 *   tokenize  kind                      string       "byte-level BPE" or "SentencePiece BPE"
 *   tokenize  bytes                     integer      of the text
 *   tokenize  tokens                    integer      how many ids
 *   tokenize  ids                       array
 *   tokenize  ids[]                     integer
 *   ppl       model                     string
 *   ppl       weights                   @weights
 *   ppl       weight_bytes              integer      every weight as stored
 *   ppl       tokens                    integer      in the text or token file
 *   ppl       ctx                       integer
 *   ppl       chunks                    integer
 *   ppl       scored                    integer      positions scored
 *   ppl       ppl                       number       perplexity, exp(mean NLL in nats)
 *   ppl       ppl_stderr                number
 *   ppl       reference                 object?      with --ref
 *   ppl       reference.weights         @weights
 *   ppl       reference.weight_bytes    integer
 *   ppl       kld                       number?      nats: mean KL(reference || model) per position, with --ref
 *   ppl       kld_stderr                number?      nats
 *   ppl       top1_agree                number?      share of positions whose most likely ids agree, 0 to 1
 *   generate  model                     string
 *   generate  weights                   @weights
 *   generate  weight_bytes              integer
 *   generate  temp                      number       0: greedy
 *   generate  top_k                     integer?     the sampling options, when temp > 0
 *   generate  top_p                     number?
 *   generate  min_p                     number?
 *   generate  seed                      integer?
 *   generate  prompt                    @tokens
 *   generate  generated                 @tokens
 *   @tokens   tokens                    integer      how many
 *   @tokens   tok_s                     number       prompt: in one forward pass; generated: after it
 *   @tokens   ids                       array
 *   @tokens   ids[]                     integer
 *   @tokens   text                      string?      generated, with a tokenizer.json
 *   bench     model                     string
 *   bench     backend                   string       "cpu" or "cuda"
 *   bench     threads                   integer
 *   bench     device                    string       "host", or the GPU
 *   bench     device_bytes_allocated    integer?     cuda
 *   bench     device_bytes_in_use       integer?     cuda: the peak, everything on the device
 *   bench     weights                   @weights
 *   bench     weight_bytes              integer
 *   bench     decode_bytes_per_token    integer      weight bytes one decode step reads
 *   bench     reps                      integer
 *   bench     pp                        @rate        prompt processing
 *   bench     tg                        @rate        token generation
 *   @rate     tokens                    integer
 *   @rate     tok_s                     number       median over reps
 *   @rate     tok_s_min                 number
 *   @rate     tok_s_max                 number
 *   bench     decode_bandwidth_gb_s     number       decode_bytes_per_token * tg.tok_s
 *   bench     copy_bandwidth_gb_s       number       read + written, measured in the same run
 *   bench     peak_rss_mib              number
 *   run       format                    string       "ewq-run"
 *   run       version                   integer
 *   run       model                     string
 *   run       architecture              string
 *   run       layers                    integer
 *   run       text                      string?      the text file, or
 *   run       tokens_file               string?      the token file
 *   run       tokens                    integer
 *   run       ctx                       integer
 *   run       chunks                    integer
 *   run       scored                    integer
 *   run       backend                   string
 *   run       threads                   integer
 *   run       group                     integer
 *   run       bins                      integer
 *   run       seeds                     integer
 *   run       throughput                object       -p, -n, -r
 *   run       throughput.p              integer
 *   run       throughput.n              integer
 *   run       throughput.reps           integer
 *   run       block_entropy             array
 *   run       block_entropy[]           number       bits
 *   run       plans                     array        one per factor
 *   run       plans[]                   object
 *   run       plans[].factor            number
 *   run       plans[].mean              number
 *   run       plans[].std               number
 *   run       plans[].threshold         number
 *   run       plans[].blocks            array
 *   run       plans[].blocks[]          tier
 *   run       variants                  array
 *   run       variants[]                object
 *   run       variants[].name           string
 *   run       variants[].kind           string       "reference", "uniform", "ewq", "random", "position",
 *                                                    "inverted" or "sensitivity"
 *   run       variants[].factor         number|null
 *   run       variants[].seed           integer|null
 *   run       variants[].blocks         array
 *   run       variants[].blocks[]       tier
 *   run       variants[].blocks_per_tier @tiers
 *   run       variants[].same_as        integer|null an earlier variant with the same blocks
 *   run       variants[].weight_bytes   integer
 *   run       variants[].linear_bits_per_weight number
 *   run       variants[].ppl            number
 *   run       variants[].ppl_stderr     number
 *   run       variants[].kld            number       nats, against raw
 *   run       variants[].kld_stderr     number
 *   run       variants[].kld_median     number
 *   run       variants[].kld_p99        number
 *   run       variants[].top1_agree     number
 *   run       variants[].frontier       boolean
 *   run       variants[].pp_tok_s       number?      with -p
 *   run       variants[].tg_tok_s       number?      with -n
 *   run       random                    array        per factor: the random placements
 *   run       random[]                  object
 *   run       random[].factor           number
 *   run       random[].seeds            integer
 *   run       random[].distinct         integer
 *   run       random[].ppl              @stat
 *   run       random[].kld              @stat
 *   run       random[].top1_agree       @stat
 *   @stat     mean                      number
 *   @stat     sd                        number       sample standard deviation
 *   @stat     min                       number
 *   @stat     max                       number
 *   @stat     ewq_better                integer      placements the EWQ plan beats
 *   run       sensitivity               object|null  with --sensitivity N, else null
 *   run       sensitivity.calibration_chunks integer the last N chunks, not evaluated
 *   run       sensitivity.kld_int8      array        per block: KLD with only that block at int8
 *   run       sensitivity.kld_int8[]    number
 *   run       sensitivity.kld_int4      array        ... at int4
 *   run       sensitivity.kld_int4[]    number
 *   run       sensitivity.spearman_int8 @spearman    block entropy against kld_int8
 *   run       sensitivity.spearman_int4 @spearman    block entropy against kld_int4
 *   @spearman rho                       number|null  null when undefined (a constant input)
 *   @spearman p                         number|null  two-sided; null with fewer than 3 blocks
 *   run       distinct_variants         integer
 *   run       memory_bytes              object
 *   run       memory_bytes.raw          integer
 *   run       memory_bytes.int8         integer
 *   run       memory_bytes.int4         integer
 *   run       memory_bytes.reference_logits integer
 *   run       memory_bytes.device   integer?     cuda: the backend's allocations (each tier's blocks, the reference)
 *   run       seconds                   object
 *   run       seconds.measure           number
 *   run       seconds.reference         number
 *   run       seconds.total             number
 * end of json-schema
 */

#ifdef __cplusplus
}
#endif
#endif
