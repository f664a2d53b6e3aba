# ewq — build, test, sanitize.
#   make            ./ewq (with the CUDA backend when nvcc is on the PATH; CUDA=0 forces CPU only)
#   make test       build and run the tests (ends with "N passed, N failed")
#   make asan       the same tests with AddressSanitizer + UndefinedBehaviorSanitizer (clang)
#   make fuzz       each libFuzzer target in tests/fuzz/ for FUZZ_SECONDS (clang with compiler-rt)
#   make bench      entropy throughput vs a sequential read on a synthesized Llama-3.2-1B checkpoint;
#                   tokenizer time on adversarial texts (linear, not quadratic); tokenizer speed on the
#                   wiki file (MB/s, one core);
#                   CPU prefill/decode tok/s: stories260K (and llama.cpp on its GGUF) and a Qwen2.5-0.5B shape
#   make test-cuda  the CUDA backend against the CPU backend on every fixture and stories260K (needs a GPU)
#   make test-cuda-emu        the same test with ewq_cuda.cu's kernels emulated on the CPU (tests/cuda/emu),
#                   and beside it a reduced set under AddressSanitizer, and ewq run --backend cuda against
#                   --backend cpu; no GPU or nvcc needed (CI runs it)
#   make test-cuda-mutants    deliberate bugs in copies of ewq_cuda.cu, each of which the emulated test
#                   must catch (CI runs it)
#   make test-cuda-sanitize   the same under compute-sanitizer (memcheck, then racecheck)
#   make cuda-report          data/results/cuda-report.md: registers, shared memory and spills of every kernel,
#                   SASS instructions per weight of each decode loop, launches per decode token (no GPU needed)
#   make bench-cpu  ewq's CPU backend vs llama.cpp (llama-cpp-python) on SmolLM2-135M in every format pair,
#                   pp512/tg128, against the copy bandwidth and a numpy sgemm measured in the same run
#   make bench-cuda pp/tg, memory and decode bandwidth on synthesized Llama-3.2-1B and 3.1-8B (needs a GPU)
#   make deps       install what the build needs on a fresh Debian machine

CC        ?= cc
OPT       ?= -O2 -g
WARN       = -std=c11 -Wall -Wextra -Werror
CPPFLAGS  += -MMD -MP
LDLIBS     = -lm -lpthread
EWQ_BIN   ?= ewq

NVCC      ?= nvcc
CUDA      ?= $(if $(shell command -v $(NVCC) 2>/dev/null),1,0)
CUDA_ARCH ?= sm_90
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC) 2>/dev/null))
NVCCFLAGS ?= -O3 -arch=$(CUDA_ARCH) -Xcompiler -Wall,-Wextra,-Werror

# CPU-only and CUDA builds keep separate objects, so switching CUDA= never links stale ones
BUILD     ?= build/$(if $(filter 1,$(CUDA)),cuda,cpu)
OBJS = $(BUILD)/ewq.o
ifeq ($(CUDA),1)
OBJS   += $(BUILD)/ewq_cuda.o
DEFS    = -DEWQ_CUDA
# static cudart: the binary starts on machines without the CUDA runtime and reports "no usable GPU"
CUDALIBS = -L$(CUDA_HOME)/lib64 -L$(CUDA_HOME)/targets/x86_64-linux/lib -lcudart_static -ldl -lrt -lstdc++
endif

TESTS = $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/test_*.c))

all: $(EWQ_BIN)

# relinked every time: cheap, and ./ewq always matches the CUDA= setting of this make
$(EWQ_BIN): $(OBJS) FORCE
	$(CC) $(OPT) -o $@ $(OBJS) $(LDFLAGS) $(LDLIBS) $(CUDALIBS)

$(BUILD)/ewq.o: ewq.c | $(BUILD)
	$(CC) $(WARN) $(OPT) $(CPPFLAGS) $(DEFS) -c -o $@ $<

$(BUILD)/ewq_cuda.o: ewq_cuda.cu ewq.h | $(BUILD)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<

# the tests link ewq.c without its main() and without CUDA, so they run anywhere
$(BUILD)/lib.o: ewq.c | $(BUILD)
	$(CC) $(WARN) $(OPT) $(CPPFLAGS) -DEWQ_NO_MAIN -c -o $@ $<

$(BUILD)/test_fuzz_corpus: tests/fuzz/fuzz.h $(wildcard tests/fuzz/fuzz_*.c)
$(BUILD)/test_%: tests/test_%.c $(BUILD)/lib.o | $(BUILD)
	$(CC) $(WARN) $(OPT) $(CPPFLAGS) -I. -o $@ $< $(BUILD)/lib.o $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench_%: tests/bench/bench_%.c $(BUILD)/lib.o | $(BUILD)
	$(CC) $(WARN) $(OPT) $(CPPFLAGS) -I. -o $@ $< $(BUILD)/lib.o $(LDFLAGS) $(LDLIBS)

$(BUILD):
	mkdir -p $@

test: $(EWQ_BIN) $(TESTS)
	EWQ=./$(EWQ_BIN) bash tests/run.sh $(BUILD)

asan:
	$(MAKE) test CC=clang CUDA=0 BUILD=build/asan EWQ_BIN=build/asan/ewq \
	  OPT="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

# libFuzzer targets: ewq.c and each tests/fuzz/fuzz_*.c with ASan + UBSan; corpora grow in build/fuzz/
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZERS = $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

build/fuzz/lib.o: ewq.c | build/fuzz
	clang $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(CPPFLAGS) -DEWQ_NO_MAIN -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h build/fuzz/lib.o | build/fuzz
	clang $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer -I. -o $@ $< build/fuzz/lib.o $(LDLIBS)

build/fuzz:
	mkdir -p $@

fuzz: $(FUZZERS)
	bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

# speed goals, measured (never asserted in tests): entropy throughput against a sequential read
bench: $(EWQ_BIN) $(BUILD)/bench_tokenizer $(BUILD)/bench_tokenizer_speed
	EWQ=./$(EWQ_BIN) bash tests/bench/bench_entropy.sh
	$(BUILD)/bench_tokenizer
	$(BUILD)/bench_tokenizer_speed
	EWQ=./$(EWQ_BIN) bash tests/bench/bench_forward.sh

bench-cpu: $(EWQ_BIN)
	EWQ=./$(EWQ_BIN) bash tests/bench/bench_cpu.sh

# GPU tests and benchmarks: a CUDA build only, never part of make test (CI has no GPU)
ifeq ($(CUDA),1)
SANITIZER ?= $(or $(shell command -v compute-sanitizer 2>/dev/null),$(CUDA_HOME)/bin/compute-sanitizer)

$(BUILD)/gpu/lib.o: ewq.c | $(BUILD)/gpu
	$(CC) $(WARN) $(OPT) $(CPPFLAGS) -DEWQ_NO_MAIN -DEWQ_CUDA -c -o $@ $<

$(BUILD)/gpu/test_cuda: tests/cuda/test_cuda.c tests/test.h $(BUILD)/gpu/lib.o $(BUILD)/ewq_cuda.o | $(BUILD)/gpu
	$(CC) $(WARN) $(OPT) -I. -o $@ $< $(BUILD)/gpu/lib.o $(BUILD)/ewq_cuda.o $(LDFLAGS) $(LDLIBS) $(CUDALIBS)

$(BUILD)/gpu:
	mkdir -p $@

test-cuda: $(BUILD)/gpu/test_cuda
	./$(BUILD)/gpu/test_cuda

test-cuda-sanitize: $(BUILD)/gpu/test_cuda
	$(SANITIZER) --tool memcheck --leak-check full --error-exitcode 1 ./$(BUILD)/gpu/test_cuda
	$(SANITIZER) --tool racecheck --error-exitcode 1 ./$(BUILD)/gpu/test_cuda

bench-cuda: $(EWQ_BIN)
	EWQ=./$(EWQ_BIN) bash tests/bench/bench_cuda.sh
else
test-cuda test-cuda-sanitize bench-cuda:
	@echo "make $@: needs a CUDA build (nvcc on the PATH, or NVCC=/path/to/nvcc)"; exit 1
endif

# ewq_cuda.cu built for the host: tests/cuda/emu/hostify.sh rewrites the launch syntax, a C++ compiler
# takes the rest with tests/cuda/emu/cuda_runtime.h standing in for CUDA. -ffp-contract=off: every fused
# multiply-add is one the source asks for (fmaf), as nvcc's rounding of the int4 dequantization needs.
EMU       ?= build/emu
EMU_OPT   ?= -O2 -g
# -mfma where the CPU has it: the kernels' fmaf calls become one instruction instead of a libm call
EMU_FMA   := $(if $(shell grep -qw fma /proc/cpuinfo 2>/dev/null && echo 1),-mfma)
EMU_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -Wno-unknown-pragmas -ffp-contract=off $(EMU_FMA) $(EMU_OPT) -Itests/cuda/emu -I.

$(EMU)/%.cpp: %.cu tests/cuda/emu/hostify.sh | $(EMU)
	bash tests/cuda/emu/hostify.sh $< $@
$(EMU)/test_emu.cpp: tests/cuda/emu/test_emu.cu tests/cuda/emu/hostify.sh | $(EMU)
	bash tests/cuda/emu/hostify.sh $< $@

$(EMU)/ewq_cuda.o: $(EMU)/ewq_cuda.cpp tests/cuda/emu/cuda_runtime.h ewq.h
	$(CXX) $(EMU_CXXFLAGS) -c -o $@ $<

$(EMU)/lib.o: ewq.c | $(EMU)
	$(CC) $(WARN) $(EMU_OPT) -DEWQ_NO_MAIN -DEWQ_CUDA -c -o $@ $<

# linked by the C++ driver: under -fsanitize=undefined only it brings the C++ part of the runtime
$(EMU)/test_cuda.o: tests/cuda/test_cuda.c tests/test.h ewq.h | $(EMU)
	$(CC) $(WARN) $(EMU_OPT) -I. -c -o $@ $<
$(EMU)/test_cuda: $(EMU)/test_cuda.o $(EMU)/lib.o $(EMU)/ewq_cuda.o
	$(CXX) $(EMU_OPT) -o $@ $^ $(LDLIBS)

# the whole program with the emulated backend (tests/cuda/test_run_cuda.sh: ewq run --backend cuda)
$(EMU)/ewq: ewq.c $(EMU)/ewq_cuda.o | $(EMU)
	$(CC) $(WARN) $(EMU_OPT) -DEWQ_CUDA -c -o $(EMU)/main.o $<
	$(CXX) $(EMU_OPT) -o $@ $(EMU)/main.o $(EMU)/ewq_cuda.o $(LDLIBS)

$(EMU)/decode_launches: tests/cuda/decode_launches.c $(EMU)/lib.o $(EMU)/ewq_cuda.o
	$(CC) $(WARN) $(EMU_OPT) -I. -c -o $@.o $<
	$(CXX) $(EMU_OPT) -o $@ $@.o $(EMU)/lib.o $(EMU)/ewq_cuda.o $(LDLIBS)

$(EMU)/test_emu: $(EMU)/test_emu.cpp tests/cuda/emu/cuda_runtime.h tests/test.h $(EMU)/lib.o
	$(CXX) $(EMU_CXXFLAGS) -o $@ $< $(EMU)/lib.o $(LDLIBS)

$(EMU):
	mkdir -p $@

# The plain build runs the whole test, in its two parts (test_cuda --part), with the threads of each block in a
# random order (EMU_SEED); a build with AddressSanitizer + UndefinedBehaviorSanitizer (kernel out-of-bounds
# accesses land in host memory) runs the reduced set. The two builds share the CPUs, then the programs do
# (tests/run.sh runs as many at a time as there are CPUs; the emulation itself is single-threaded).
EMU_ASAN = CC=clang CXX=clang++ EMU=build/emu-asan \
  EMU_OPT="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
test-cuda-emu:
	@seed=$${EMU_SEED:-$$(date +%s)}; echo "test-cuda-emu: threads in random order, EMU_SEED=$$seed"; \
	  $(MAKE) $(EMU)/test_emu $(EMU)/test_cuda $(EMU)/ewq & plain=$$!; \
	  $(MAKE) $(EMU_ASAN) build/emu-asan/test_emu build/emu-asan/test_cuda; asan=$$?; \
	  wait $$plain && [ $$asan = 0 ] && EMU_SEED=$$seed bash tests/run.sh --only "$(EMU)/test_cuda --part shapes" \
	    "build/emu-asan/test_cuda --quick" "$(EMU)/test_cuda --part fixtures" "$(EMU)/test_emu" "build/emu-asan/test_emu" \
	    "env EWQ=$(EMU)/ewq bash tests/cuda/test_run_cuda.sh"

# The emulated test must fail on each deliberate bug in tests/cuda/mutants.sh (each copy of ewq_cuda.cu built at
# -O1 without debug information: quicker to compile).
test-cuda-mutants: $(EMU)/lib.o $(EMU)/test_cuda.o
	CXX="$(CXX)" CXXFLAGS="$(EMU_CXXFLAGS) -O1 -g0" LDLIBS="$(LDLIBS)" bash tests/run.sh --only "tests/cuda/mutants.sh $(EMU)"

# Static evidence about the kernels (no GPU): ptxas resources, SASS per weight of each decode loop, launches
# per decode token (counted by the emulation); CUOBJDUMP names cuobjdump when it is not next to nvcc.
cuda-report: $(EMU)/decode_launches
	bash tests/cuda/report.sh data/results/cuda-report.md $(EMU)

deps:
	command -v $(CC) >/dev/null && command -v clang >/dev/null && command -v make >/dev/null || \
	  (apt-get update && apt-get install -y --no-install-recommends build-essential clang)

clean:
	rm -rf build ewq

.PHONY: all test asan fuzz bench bench-cpu test-cuda test-cuda-sanitize bench-cuda test-cuda-emu test-cuda-mutants cuda-report deps clean FORCE
FORCE:
-include $(wildcard $(BUILD)/*.d)
