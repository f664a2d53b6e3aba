/* ewq_cuda.cu — the GPU backend behind the interface in ewq.h: hand-written CUDA, no CUDA libraries. */
#include "ewq.h"

#include <cuda_runtime.h>
#include <stdio.h>

int ewq_cuda_describe(char *buf, size_t n) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        snprintf(buf, n, "built in, but no usable GPU (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return -1;
    }
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
        snprintf(buf, n, "built in, but device 0 cannot be queried");
        return -1;
    }
    snprintf(buf, n, "%s, compute capability %d.%d, %.1f GiB", p.name, p.major, p.minor,
             p.totalGlobalMem / 1073741824.0);
    return 0;
}
