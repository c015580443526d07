// The threads of one call: OpenMP's per-thread setting and the products' (gemm.hpp), set for a
// scope and restored after it, so that concurrent runs from several threads do not interfere.
#pragma once

#include "gemm.hpp"

#ifdef DEEPLINEAR_OPENMP
#include <omp.h>
#endif

namespace deeplinear {

class ThreadScope {
public:
    explicit ThreadScope(int threads) : previous_gemm_(gemm_threads()) {
#ifdef DEEPLINEAR_OPENMP
        previous_ = omp_get_max_threads();
        omp_set_num_threads(threads);
#endif
        set_gemm_threads(threads);
    }
    ~ThreadScope() {
#ifdef DEEPLINEAR_OPENMP
        omp_set_num_threads(previous_);
#endif
        set_gemm_threads(previous_gemm_);
    }
    ThreadScope(const ThreadScope&) = delete;
    ThreadScope& operator=(const ThreadScope&) = delete;

private:
    int previous_ = 1;
    int previous_gemm_ = 1;
};

}  // namespace deeplinear
