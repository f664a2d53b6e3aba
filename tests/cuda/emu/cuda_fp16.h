/* tests/cuda/emu/cuda_fp16.h — __half and its conversions are in the emulated cuda_runtime.h */
#include "cuda_runtime.h"
